"""README promises that a mutation audit found unguarded (issue 24, item 8):
each test here was seen failing against the mutant it names."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CliRunner, write
from taskrunner import Executor, Job, ResultsFileError
from taskrunner import run as run_jobs


def names(path: Path) -> list[str]:
    return [json.loads(line)["name"] for line in path.read_text().splitlines()]


def test_a_write_error_mid_run_stops_the_run(cli: CliRunner) -> None:
    """Mutant: the run went on after the results file failed (all 60 jobs ran)."""
    (cli.workdir / "ran").mkdir()
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: j{i:02}, run: 'touch ran/j{i:02}; head -c 1900 /dev/zero | tr \"\\\\0\" x >&2; sleep 0.05'}}\n"
        for i in range(60)))
    results = cli.workdir / "results.jsonl"

    def limit() -> None:  # about ten results lines fit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    done = subprocess.run(cli.command("run", str(jobs), "-w", "2", "--results", str(results)), cwd=cli.workdir,
                          env=cli.env, capture_output=True, text=True, timeout=60, preexec_fn=limit, check=False)
    assert done.returncode == 1 and "the run stopped" in done.stderr, done.stderr
    ran = len(list((cli.workdir / "ran").iterdir()))
    assert ran < 30, f"{ran} of 60 jobs ran after the results file failed"


def test_a_kill_as_the_results_file_is_rewritten_loses_no_line(cli: CliRunner) -> None:
    """Mutant: the file rewritten in place (a kill at the start lost all 100,002 lines)."""
    results = cli.workdir / "big.jsonl"
    count = 100_002
    with results.open("w") as handle:
        handle.write('{"name": "a", "status": "ok", "returncode": 0, "attempts": 1}\n')  # (not kept: a rewrite)
        for number in range(count):
            handle.write(f'{{"name": "old{number}", "status": "ok", "returncode": 0, "attempts": 1}}\n')
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    # --only a: the other 100,002 lines are kept and a's is not, so the file is rewritten before the run.
    process = subprocess.Popen(cli.command("-vv", "run", str(jobs), "--results", str(results), "--only", "a"),
                               cwd=cli.workdir, env=cli.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if "rewriting results file" in line:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before the rewrite was seen"
    kept = names(results)
    assert len(kept) == count + 1 and kept[-1] == f"old{count - 1}"


def test_a_file_that_is_not_a_results_file_is_never_replaced(cli: CliRunner) -> None:
    """Mutant: notes given as --results (or results=) were overwritten."""
    notes = cli.workdir / "notes.txt"
    notes.write_text("my notes\nkeep them\n")
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    for extra in ([], ["--resume"], ["--only", "a"]):
        done = cli.run("run", str(jobs), "--results", str(notes), *extra)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (extra, done.stderr)
        assert notes.read_text() == "my notes\nkeep them\n"
    with pytest.raises(ResultsFileError):
        run_jobs([Job(name="a", run="true")], workers=1, progress=False, results=str(notes))
    with pytest.raises(ResultsFileError), Executor(1, results=str(notes)) as executor:
        executor.submit(os.getpid).result()
    assert notes.read_text() == "my notes\nkeep them\n"


def test_a_jobs_leftover_process_in_a_new_session_ends_when_its_job_ends(cli: CliRunner) -> None:
    """Mutant: the leftover was ended only when the whole run ended."""
    jobs = write(cli.workdir / "jobs.yaml", """jobs:
  - name: first
    run: setsid sleep 300 & echo $! > leftover.pid
  - name: second
    depends_on: [first]
    run: for i in $(seq 100); do kill -0 $(cat leftover.pid) 2>/dev/null || exit 0; sleep 0.1; done; exit 1
""")
    done = cli.run("run", str(jobs))
    assert done.returncode == 0, done.stderr


def test_the_sequence_number_is_the_place_in_the_whole_file(cli: CliRunner) -> None:
    """Mutant: TASKRUNNER_SEQ counted only the jobs that run (--only, --resume)."""
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: {name}, run: 'test -e go-{name} && echo $TASKRUNNER_SEQ > seq-{name}'}}\n" for name in "abc"))
    for name in "ac":
        (cli.workdir / f"go-{name}").touch()
    assert cli.run("run", str(jobs), "--only", "c").returncode == 0
    assert (cli.workdir / "seq-c").read_text() == "3\n"
    assert cli.run("run", str(jobs)).returncode == 1  # b fails
    (cli.workdir / "go-b").touch()
    (cli.workdir / "seq-c").unlink()
    resumed = cli.run("run", str(jobs), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (cli.workdir / "seq-b").read_text() == "2\n" and not (cli.workdir / "seq-c").exists()


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("Linux only")
