"""Calls as Python users write them (issue 26, items 1-2): a call may start
processes of its own, and a child forked from a script never touches the
parent's workers, queues or results file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jobs

from conftest import REPO_DIR, TESTS_DIR, CliRunner, wait_until_gone, write
from taskrunner import Executor


def test_a_call_may_start_a_pool_an_executor_or_a_nested_taskrunner(no_leftovers: None) -> None:
    with Executor(2) as executor:
        assert executor.submit(jobs.pool_sum, 10).result(timeout=60) == 55
        nested = executor.submit(jobs.nested_executors, 5).result(timeout=60)
        assert nested == [0, 1, 4, 9, 16]


def test_a_killed_coordinator_leaves_no_process_of_a_calls_pool(cli: CliRunner) -> None:
    pid_file = cli.workdir / "pool.pids"
    job_file = write(cli.workdir / "jobs.yaml", f"jobs:\n  - name: pool\n    call: jobs:pool_and_wait\n"
                     f"    args: [{str(pid_file)!r}]\n")
    run = cli.start("run", str(job_file))
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pool = [int(pid) for pid in pid_file.read_text().split()]
    assert len(pool) >= 2
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert not wait_until_gone(cli.tag), "a process of the run outlived its coordinator"
    for pid in pool:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


FORK_EXECUTOR = """
import os, sys, time, jobs, taskrunner
if __name__ == "__main__":
    with taskrunner.Executor(2) as executor:
        futures = [executor.submit(jobs.sleep, 1.0) for _ in range(2)]
        time.sleep(0.3)
        child = os.fork()
        if child == 0:
            sys.exit(0)  # leaves the with block: the executor is the parent's, not ours
        os.waitpid(child, 0)
        print([future.result(timeout=30) for future in futures])
"""

FORK_RUN = """
import os, sys, taskrunner
from taskrunner import Job
if __name__ == "__main__":
    work = [Job(name=f"j{n}", run="sleep 0.5") for n in range(4)]
    with taskrunner.Runner(2, results="r.jsonl", progress=False) as runner:
        for number, result in enumerate(runner.iter_results(work)):
            if number == 0:
                child = os.fork()
                if child == 0:
                    sys.exit(0)  # leaves the loop: the run is the parent's
                os.waitpid(child, 0)
                print("lock kept:", os.path.exists("r.jsonl.lock"))
"""


def run_script(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    script = write(tmp_path / "script.py", text)
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": f"{TESTS_DIR}:{REPO_DIR}"}, check=False)


def test_a_forked_child_leaves_the_parents_executor_alone(tmp_path: Path, no_leftovers: None) -> None:
    done = run_script(tmp_path, FORK_EXECUTOR)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1.0, 1.0]"
    assert "can only join a child process" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_forked_child_leaves_the_parents_run_and_results_file_alone(tmp_path: Path, no_leftovers: None) -> None:
    done = run_script(tmp_path, FORK_RUN)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lock kept: True", done.stdout
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert sorted(line["name"] for line in lines) == ["j0", "j1", "j2", "j3"]
    assert {line["status"] for line in lines} == {"ok"}
    assert "Traceback" not in done.stderr, done.stderr


def test_a_function_sent_by_value_is_hashed_by_its_code_and_captured_values() -> None:
    """--resume must not trust a success of a changed lambda (issue 26, item 3)."""
    from taskrunner import Job
    from taskrunner.jobhash import job_hash

    def adder(k: int) -> object:
        return lambda x: x + k

    same = [job_hash(Job(name="a", call=adder(1), args=(1,))) for _ in range(2)]
    assert same[0] == same[1]
    assert job_hash(Job(name="a", call=adder(2), args=(1,))) != same[0]
    assert job_hash(Job(name="a", call=lambda x: x * 2, args=(1,))) != same[0]
    # A module's function is hashed by its name, as before.
    assert job_hash(Job(name="a", call=jobs.add, args=(1,))) == job_hash(Job(name="a", call="jobs:add", args=(1,)))
