"""Records are sacred, output is best effort (issue 24, item 1): a closed or
failing stdout/stderr never costs a results line. A closed pipe (EPIPE) stops
the run as ``head`` expects — exit 141, the reason said where it still can be;
any other output error (a full disk) stops only the printing, exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CliRunner, write

JOBS = 30


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def start_with_closed(cli: CliRunner, args: list[str], closed: str) -> subprocess.Popen[bytes]:
    """Run the CLI with ``closed`` ("stdout" or "stderr") a pipe whose reader
    leaves at once (``| head -0``); the other one is kept."""
    reader, writer = os.pipe()
    os.close(reader)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, closed: writer}
    try:
        return subprocess.Popen(cli.command(*args), cwd=cli.workdir, env=cli.env, stdin=subprocess.DEVNULL, **pipes)
    finally:
        os.close(writer)


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, (err or out or b"").decode()


def test_output_to_a_pipe_whose_reader_left_stops_the_run_and_records_every_job(cli: CliRunner) -> None:
    read_end, write_end = os.pipe()
    head = subprocess.Popen(["head", "-1"], stdin=read_end, stdout=subprocess.PIPE)
    os.close(read_end)
    run = subprocess.Popen(cli.command("exec", "-j", "2", "--output", "--", "seq 1 20000; sleep 0.1",
                                       ":::", *map(str, range(JOBS))),
                           cwd=cli.workdir, env=cli.env, stdin=subprocess.DEVNULL, stdout=write_end,
                           stderr=subprocess.PIPE)
    os.close(write_end)
    assert head.communicate(timeout=60)[0] == b"1\n"
    _, err = run.communicate(timeout=60)
    assert run.returncode == 141, err
    lines = records(next((cli.workdir / ".taskrunner").glob("exec*.results.jsonl")))
    assert len(lines) == JOBS and {line["status"] for line in lines} <= {"ok", "cancelled"}
    assert sum(line["status"] == "cancelled" for line in lines) > 0  # it stopped, as head expects
    assert "standard output or error was closed (Broken pipe): the run stopped" in err.decode(), err


@pytest.mark.parametrize("writer", ["--output", "--json", "failure lines", "--progress", "summary"])
def test_every_writer_with_its_stream_closed_loses_no_record(cli: CliRunner, writer: str) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: j{n}, run: 'echo out{n}; exit {n % 2}'}}\n" for n in range(10)))
    args = ["run", str(jobs), "-w", "2"]
    closed = "stderr"
    if writer in ("--output", "--json"):
        args.append(writer)
        closed = "stdout"
    elif writer == "--progress":
        args.append("--progress")
    code, err = finish(start_with_closed(cli, args, closed))
    lines = records(cli.workdir / ".taskrunner" / "jobs.results.jsonl")
    assert sorted(str(line["name"]) for line in lines) == sorted(f"j{n}" for n in range(10)), (writer, err)
    assert code == 141, (writer, code, err)
    assert "Traceback" not in err


def test_a_full_disk_under_output_stops_the_printing_not_the_run(cli: CliRunner) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: j{n}, run: 'echo out{n}'}}\n" for n in range(10)))
    with open("/dev/full", "w") as full:
        done = subprocess.run(cli.command("run", str(jobs), "--output"), cwd=cli.workdir, env=cli.env,
                              stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE, timeout=60, check=False)
    err = done.stderr.decode()
    assert done.returncode == 1, err
    lines = records(cli.workdir / ".taskrunner" / "jobs.results.jsonl")
    assert len(lines) == 10 and all(line["status"] == "ok" for line in lines)  # the run went on
    assert "output stopped (No space left on device); the run went on" in err, err
    assert "Traceback" not in err and time.time()  # one line, no traceback
