"""The Dask backend, for real: an embedded cluster, and a `dask scheduler` with
two `dask worker` processes on 127.0.0.1. Each test stops what it started and
checks that no process of it is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daskcluster import Cluster

from conftest import CliRunner, tagged_processes, write

pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(120)

# call and shell jobs, a dependency, a failure (and the job it skips), a crash.
JOB_FILE = """
jobs:
  - {name: add, call: "jobs:add", args: [2, 3]}
  - {name: hello, run: "echo hello; echo oops >&2"}
  - {name: after, run: "echo after", depends_on: add}
  - {name: bad, run: "exit 3"}
  - {name: skipped, run: "true", depends_on: bad}
  - {name: crash, call: "jobs:kill_self"}
  - {name: echo, call: "jobs:echo", args: [x], kwargs: {k: 1}}
"""
EXPECTED = {
    "add": ("ok", 5),
    "hello": ("ok", None),
    "after": ("ok", None),
    "bad": ("failed", None),
    "skipped": ("skipped", None),
    "crash": ("crashed", None),
    "echo": ("ok", {"args": ["x"], "kwargs": {"k": 1}}),
}


def results(cli: CliRunner) -> dict[str, dict[str, object]]:
    path = cli.workdir / ".taskrunner/jobs.results.jsonl"
    return {line["name"]: line for line in map(json.loads, path.read_text().splitlines())}


def outcomes(cli: CliRunner) -> dict[str, tuple[object, object]]:
    return {name: (r["status"], r["value"]) for name, r in results(cli).items()}


@pytest.fixture
def cluster(cli: CliRunner) -> Iterator[Cluster]:
    started = Cluster(cli)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def test_embedded_cluster_runs_the_job_file_like_the_local_backend(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", JOB_FILE)
    local = cli.run("run", str(jobs), "-w", "2", timeout=90)
    assert local.returncode == 1, local.stderr
    local_outcomes = outcomes(cli)
    assert local_outcomes == EXPECTED

    done = cli.run("run", str(jobs), "--backend", "dask", "-w", "2", timeout=90)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert outcomes(cli) == local_outcomes  # same statuses and values on both backends
    by_name = results(cli)
    assert str(by_name["add"]["worker"]).startswith("tcp://127.0.0.1:")
    assert by_name["bad"]["returncode"] == 3
    assert by_name["hello"]["stderr_tail"] == "oops"
    assert (cli.workdir / ".taskrunner/jobs.logs/hello.out").read_text() == "hello\n"
    assert "died" in str(by_name["crash"]["error"])


def test_external_scheduler_and_two_workers(cli: CliRunner, cluster: Cluster) -> None:
    jobs = write(cli.workdir / "jobs.yaml", JOB_FILE)
    done = cli.run("run", str(jobs), "--backend", "dask", "--scheduler", cluster.address, timeout=90)
    assert done.returncode == 1, done.stderr
    assert outcomes(cli) == EXPECTED
    assert "dashboard" not in done.stderr  # its scheduler serves none (--no-dashboard)
    workers = {r["worker"] for r in results(cli).values() if r["status"] in ("ok", "failed")}
    assert workers and all(str(w).startswith("tcp://127.0.0.1:") for w in workers)


def test_losing_the_scheduler_is_a_clear_error_and_keeps_finished_results(cli: CliRunner, cluster: Cluster) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: quick, run: 'true'}\n" + "".join(
        f"  - {{name: slow{i}, run: 'sleep 30', depends_on: quick}}\n" for i in range(2)))
    run = cli.start("run", str(jobs), "--backend", "dask", "--scheduler", cluster.address)
    results_file = cli.workdir / ".taskrunner/jobs.results.jsonl"
    deadline = time.monotonic() + 60
    while not (results_file.exists() and "quick" in results_file.read_text()):
        assert time.monotonic() < deadline and run.poll() is None, "the quick job was not recorded"
        time.sleep(0.1)
    time.sleep(1.0)  # the slow jobs are running now
    assert cluster.scheduler is not None
    cluster.scheduler.send_signal(signal.SIGKILL)
    _, stderr = run.communicate(timeout=90)
    assert run.returncode == 1, stderr
    assert "lost the Dask scheduler" in stderr and "Traceback" not in stderr
    assert results(cli)["quick"]["status"] == "ok"


def test_without_the_extra_the_dask_backend_is_a_one_line_error(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    # Run the command with `distributed` made unimportable, as without the extra.
    code = "import sys; sys.modules['distributed'] = None; from taskrunner.cli.entry import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "run", str(jobs), "--backend", "dask"],
        cwd=cli.workdir, env=cli.env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "the dask backend needs Dask: pip install 'dask[distributed]'"
    assert not (cli.workdir / ".taskrunner").exists(), "nothing may be written"


def test_the_python_api_takes_the_backend(tmp_path: Path) -> None:
    import taskrunner

    sys.path.insert(0, os.path.dirname(__file__))
    jobs = [taskrunner.Job(name="a", call="jobs:add", args=(1, 2)), taskrunner.Job(name="b", run="true", depends_on="a")]
    report = taskrunner.run(jobs, workers=1, backend="dask", progress=False,
                            results=str(tmp_path / "r.jsonl"), log_dir=str(tmp_path / "logs"))
    assert report.ok and report["a"].value == 3 and str(report["b"].worker).startswith("tcp://")


def test_the_executor_runs_on_dask(cli: CliRunner) -> None:
    script = write(cli.workdir / "script.py", """
import concurrent.futures, os, taskrunner, jobs
if __name__ == "__main__":
    with taskrunner.Executor(2, backend="dask", results="calls.jsonl") as executor:
        print(list(executor.map(jobs.add, range(4), range(4))))
        error = executor.submit(jobs.fail, "nope").exception()
        print(type(error).__name__, error, "jobs.py" in str(error.__cause__))
        futures = [executor.submit(jobs.add, i, 1) for i in range(50)]
        print(sorted(f.result() for f in concurrent.futures.as_completed(futures)) == list(range(1, 51)))
""")
    env = {**cli.env, "PYTHONPATH": f"{os.path.dirname(__file__)}:{os.path.dirname(os.path.dirname(__file__))}"}
    done = subprocess.run([sys.executable, str(script)], cwd=cli.workdir, env=env, capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[0, 2, 4, 6]", "ValueError nope True", "True"]
    lines = (cli.workdir / "calls.jsonl").read_text().splitlines()
    assert len(lines) == 55 and all(json.loads(line)["worker"].startswith("tcp://") for line in lines)


def test_ctrl_c_cancels_jobs_running_on_dask_and_leaves_nothing(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: slow{i}, run: 'sleep 60'}}\n" for i in range(4)))
    run = cli.start("run", str(jobs), "--backend", "dask", "-w", "2")
    deadline = time.monotonic() + 60
    while not any(p.name() == "sleep" for p in tagged_processes(cli.tag)):
        assert time.monotonic() < deadline and run.poll() is None, "the jobs did not start"
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert {r["status"] for r in results(cli).values()} == {"cancelled"}
    # (the cli fixture then checks that no sleep, worker or scheduler is left)


def test_job_resources_are_dask_worker_resources_on_an_external_cluster(cli: CliRunner) -> None:
    cluster = Cluster(cli)
    try:
        cluster.start(workers=2, resources=("gpu=1",))
        jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
            f"  - {{name: g{i}, run: 'sleep 0.2', resources: {{gpu: 1}}}}\n" for i in range(4)))
        done = cli.run("run", str(jobs), "--backend", "dask", "--scheduler", cluster.address, "--resources", "gpu=2",
                       timeout=90)
        assert done.returncode == 0, done.stderr
        workers = {r["worker"] for r in results(cli).values()}
        assert len(workers) == 1  # all on the one worker that has a gpu
    finally:
        cluster.stop()
