"""README promises that mutation testing found unguarded: each test fails when
the promise is broken (see the closing note of the issue for the mutations)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CliRunner, write

pytestmark = pytest.mark.timeout(120)

#: README: "gets SIGTERM and 2 s later SIGKILL" (a literal: the test must not
#: follow a change of the constant).
KILL_GRACE = 2.0

# A grandchild of the job (the job's shell starts a shell that starts it) that
# notes each SIGTERM it gets and goes on running: only SIGKILL ends it.
STUBBORN = ("sh -c 'trap \\\"echo TERM >> {marker}\\\" TERM; echo $$ > {pid}; "
            "while :; do sleep 0.05; done' & wait")


def results(cli: CliRunner) -> dict[str, dict[str, object]]:
    path = cli.workdir / ".taskrunner/jobs.results.jsonl"
    return {line["name"]: line for line in map(json.loads, path.read_text().splitlines())}


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def stubborn_job(cli: CliRunner, extra: str = "") -> tuple[Path, Path, Path]:
    marker, pid = cli.workdir / "marker", cli.workdir / "pid"
    run = STUBBORN.format(marker=marker, pid=pid)
    jobs = write(cli.workdir / "jobs.yaml", f'jobs:\n  - name: s\n    run: "{run}"\n{extra}')
    return jobs, marker, pid


def test_timeout_terms_the_whole_group_then_kills_it_after_the_grace_period(cli: CliRunner) -> None:
    jobs, marker, pid = stubborn_job(cli, "    timeout: 0.5\n")
    done = cli.run("run", str(jobs))
    assert done.returncode == 1
    result = results(cli)["s"]
    assert result["status"] == "timeout"
    # The grandchild got SIGTERM once (from its group), and then SIGKILL from
    # the group too, after the grace period: nobody had to send it anything else.
    assert marker.read_text().split() == ["TERM"]
    duration = float(result["duration"])  # type: ignore[arg-type]
    assert 0.5 + KILL_GRACE - 0.2 <= duration < 0.5 + KILL_GRACE + 0.9, duration
    assert gone(int(pid.read_text()))


def test_ctrl_c_terms_the_whole_group_then_kills_it_after_the_grace_period(cli: CliRunner) -> None:
    jobs, marker, pid = stubborn_job(cli)
    proc = cli.start("run", str(jobs), start_new_session=True)
    deadline = time.monotonic() + 20
    while not (pid.exists() and pid.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 130
    assert results(cli)["s"]["status"] == "cancelled"
    assert marker.read_text().split() == ["TERM"]
    assert KILL_GRACE - 0.2 <= took < KILL_GRACE + 3, took
    assert gone(int(pid.read_text()))


def test_retry_delay_waits_and_doubles_in_a_real_run(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: r, run: 'exit 1', retries: 2, retry_delay: 0.3}\n")
    done = cli.run("run", str(jobs))
    assert done.returncode == 1
    history = results(cli)["r"]["history"]
    assert len(history) == 3  # type: ignore[arg-type]
    (_, end1, *_), (start2, end2, *_), (start3, *_) = history  # type: ignore[misc]
    assert start2 - end1 >= 0.3 and start3 - end2 >= 0.6, history
    assert start3 - end2 < 0.6 + 1.0  # doubled, not more


def test_two_plain_runs_leave_exactly_one_line_per_job(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(f"  - {{name: j{i}, run: 'true'}}\n" for i in range(5)))
    for _ in range(2):
        assert cli.run("run", str(jobs)).returncode == 0
    lines = (cli.workdir / ".taskrunner/jobs.results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["name"] for line in lines) == [f"j{i}" for i in range(5)]


@pytest.mark.parametrize("no_color", [False, True])
def test_failures_are_red_on_a_terminal_unless_no_color_is_set(cli: CliRunner, no_color: bool) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: bad, run: 'exit 3'}\n")
    env = {key: value for key, value in cli.env.items() if key != "NO_COLOR"}
    if no_color:
        env["NO_COLOR"] = "1"
    leader, follower = pty.openpty()  # a real terminal for stderr
    try:
        proc = subprocess.Popen(cli.command("run", str(jobs), "--no-progress"), cwd=cli.workdir, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        proc.wait(timeout=30)
    finally:
        os.close(leader)
    assert proc.returncode == 1
    text = output.decode(errors="replace")
    assert "bad (exit 3)" in text
    assert ("\033[31m" in text) is not no_color, repr(text)
