"""When a job ends, all of it ends: processes in new sessions and double-forked
daemons included, whatever the outcome; unless the job says keep_children."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from conftest import CliRunner, write

pytestmark = pytest.mark.timeout(120)

# A double fork: the daemon's parent exits at once, so it is orphaned, in a new session.
DAEMON = "( setsid sh -c 'echo $$ > {pid}; sleep 0.6; echo late >&2; sleep 60' & ) ; sleep 0.3"


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def daemon_pid(path: Path) -> int:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return int(path.read_text())


@pytest.mark.parametrize("outcome", ["ok", "failed", "timeout"])
def test_a_daemon_started_by_a_command_ends_with_its_job(cli: CliRunner, outcome: str) -> None:
    pid_file = cli.workdir / "daemon.pid"
    tail = {"ok": "", "failed": "; exit 3", "timeout": "; sleep 30"}[outcome]
    run = DAEMON.format(pid=pid_file) + tail
    jobs = write(cli.workdir / "jobs.yaml", f"jobs:\n  - name: d\n    run: \"{run}\"\n    timeout: 2\n")
    done = cli.run("run", str(jobs), "--log-dir", "logs")
    assert done.returncode == (0 if outcome == "ok" else 1), done.stderr
    pid = daemon_pid(pid_file)
    assert not alive(pid), "the daemon outlived its job"
    # It never writes into the log of a job already recorded.
    log = cli.workdir / "logs/d.err"
    before = log.read_text() if log.exists() else ""
    time.sleep(0.8)
    assert (log.read_text() if log.exists() else "") == before


def test_a_daemon_started_by_a_call_whose_worker_is_killed_ends_too(cli: CliRunner) -> None:
    pid_file = cli.workdir / "daemon.pid"
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: c, call: 'jobs:start_daemon', "
                 f"args: [{str(pid_file)!r}, 30], timeout: 1}}\n  - {{name: after, run: 'sleep 1.5'}}\n")
    done = cli.run("run", str(jobs), "-w", "1")
    assert done.returncode == 1, done.stderr
    pid = daemon_pid(pid_file)
    assert not alive(pid), "the daemon outlived its job's killed worker"


def test_keep_children_leaves_a_service_running(cli: CliRunner) -> None:
    pid_file = cli.workdir / "daemon.pid"
    run = DAEMON.format(pid=pid_file)
    jobs = write(cli.workdir / "jobs.yaml", f"jobs:\n  - name: svc\n    run: \"{run}\"\n    keep_children: true\n")
    done = cli.run("run", str(jobs))
    assert done.returncode == 0, done.stderr
    pid = daemon_pid(pid_file)
    try:
        assert alive(pid), "keep_children: the service should still run"
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_kept_service_survives_the_jobs_after_it_on_the_same_worker(cli: CliRunner) -> None:
    pid_file = cli.workdir / "daemon.pid"
    run = DAEMON.format(pid=pid_file)
    jobs = write(cli.workdir / "jobs.yaml", f"jobs:\n  - name: svc\n    run: \"{run}\"\n    keep_children: true\n"
                 "  - {name: next, run: 'true', depends_on: [svc]}\n")
    done = cli.run("run", str(jobs), "-w", "1")
    assert done.returncode == 0, done.stderr
    pid = daemon_pid(pid_file)
    try:
        assert alive(pid)
    finally:
        os.kill(pid, signal.SIGKILL)
