"""Issue 30, scale-out round two, against real schedulers and workers: the
dashboard, a cluster without workers, cluster and client objects as
``scheduler=``, logs that come home, calls that can be stopped."""

from __future__ import annotations

import queue
import re
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO

import pytest
from daskcluster import Cluster, free_port

from conftest import CliRunner, write

pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(150)


class Lines:
    """A child's stderr, read line by line in a thread (so a wait can time out)."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put("")  # end of stream

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            self.seen.append(line)
            if text in line:
                return line
            assert line, f"the stream ended without {text!r}: {self.seen}"

    def rest(self) -> list[str]:
        while (line := self._lines.get(timeout=30)) != "":
            self.seen.append(line)
        return self.seen


def test_the_embedded_cluster_keeps_its_dashboard_and_the_run_prints_its_address(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: nap, run: 'sleep 30'}\n")
    run = cli.start("run", str(jobs), "--backend", "dask", "-w", "1")
    assert run.stderr is not None
    stderr = Lines(run.stderr)
    line = stderr.wait_for("dashboard:", timeout=60)
    found = re.fullmatch(r"dashboard: (http://127\.0\.0\.1:\d+/status)", line)
    assert found, line
    with urllib.request.urlopen(found[1], timeout=20) as page:  # a live view while the job runs
        assert page.status == 200
    run.send_signal(2)  # (seen: no need to wait for the job)
    assert run.wait(timeout=60) == 130
    assert sum("dashboard:" in seen for seen in stderr.rest()) == 1  # once


def test_an_external_scheduler_shows_its_own_dashboard_if_it_has_one(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    port = free_port()
    with_dashboard = Cluster(cli)
    try:
        with_dashboard.start(workers=1, dashboard=port)
        done = cli.run("run", str(jobs), "--backend", "dask", "--scheduler", with_dashboard.address, timeout=90)
        assert done.returncode == 0, done.stderr
        assert f"dashboard: http://127.0.0.1:{port}/status" in done.stderr.splitlines()
    finally:
        with_dashboard.stop()
    # (A scheduler without one: see test_dask's external scheduler test.)


def test_a_cluster_without_workers_says_so_once_and_waits_for_one(cli: CliRunner) -> None:
    cluster = Cluster(cli)
    try:
        cluster.start(workers=0)
        jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'echo hi'}\n")
        started = time.monotonic()
        run = cli.start("run", str(jobs), "--backend", "dask", "--scheduler", cluster.address)
        assert run.stderr is not None
        stderr = Lines(run.stderr)
        line = stderr.wait_for("waiting for Dask workers", timeout=40)
        assert line == f"waiting for Dask workers at {cluster.address}: none connected"
        assert time.monotonic() - started > 2  # after a few seconds, not at once
        assert run.poll() is None  # it still waits: workers may be on their way
        cluster.add_workers(1)
        assert run.wait(timeout=60) == 0
        assert sum("waiting for Dask workers" in seen for seen in stderr.rest()) == 1
    finally:
        cluster.stop()


def test_scheduler_takes_a_cluster_object_or_a_client(tmp_path: Path) -> None:
    import distributed

    import taskrunner

    sys.path.insert(0, str(Path(__file__).parent))
    jobs = [taskrunner.Job(name="a", call="jobs:add", args=(1, 2)), taskrunner.Job(name="b", run="echo b", depends_on="a")]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = taskrunner.run(jobs, backend="dask", scheduler=cluster, progress=False,
                                results=str(tmp_path / "one.jsonl"), log_dir=str(tmp_path / "one"))
        assert report.ok and report["a"].value == 3 and str(report["b"].worker).startswith("tcp://127.0.0.1:")
        with distributed.Client(cluster, set_as_default=False) as client:
            report = taskrunner.run(jobs, backend="dask", scheduler=client, progress=False,
                                    results=str(tmp_path / "two.jsonl"), log_dir=str(tmp_path / "two"))
            assert report.ok and report["a"].value == 3
            assert client.status == "running"  # the caller's client stays theirs, open
        with taskrunner.Executor(1, backend="dask", scheduler=cluster) as executor:
            assert executor.submit(pow, 2, 5).result() == 32
        assert cluster.status.name == "running"  # and so does the cluster
        assert len(cluster.scheduler_info["workers"]) == 1


def test_a_scheduler_of_the_wrong_kind_is_a_clear_error(tmp_path: Path) -> None:
    import taskrunner

    with pytest.raises(taskrunner.TaskrunnerError, match="scheduler must be an address"):
        taskrunner.run([taskrunner.Job(name="a", run="true")], backend="dask", scheduler=8786, progress=False,  # type: ignore[arg-type]
                       results=str(tmp_path / "r.jsonl"))


# -- logs come home ------------------------------------------------------------

MIB = 1 << 20


def test_logs_come_home_from_a_worker_that_does_not_share_the_log_folder(cli: CliRunner) -> None:
    from daskcluster import private_mounts_allowed

    logs = cli.workdir / ".taskrunner/jobs.logs"
    logs.mkdir(parents=True)
    why_not = private_mounts_allowed(str(logs))
    if why_not:
        pytest.skip(f"a private mount namespace is not allowed here: {why_not}")
    write(cli.workdir / "jobs.yaml", f"""
jobs:
  - {{name: talk, run: "echo hello; echo oops >&2"}}
  - {{name: speak, call: "jobs:print_both", args: [said]}}
  - {{name: long, run: "head -c {5 * MIB // 2} /dev/zero | tr '\\\\0' a"}}
  - {{name: huge, run: "head -c {5 * MIB} /dev/zero | tr '\\\\0' b", depends_on: long}}
  - {{name: quiet, run: "true"}}
""")
    cluster = Cluster(cli)
    try:
        cluster.start(workers=0)
        cluster.add_private_worker(str(logs))
        cli.env["TASKRUNNER_DASK_LOG_LIMIT"] = str(3 * MIB)
        done = cli.run("run", "jobs.yaml", "--backend", "dask", "--scheduler", cluster.address, timeout=120)
        assert done.returncode == 0, done.stderr
    finally:
        cluster.stop()
    by_name = results_of(cli)
    assert (logs / "talk.out").read_text() == "hello\n"
    assert (logs / "talk.err").read_text() == "oops\n"
    assert by_name["talk"]["stdout_log"] == ".taskrunner/jobs.logs/talk.out" or \
        Path(str(by_name["talk"]["stdout_log"])).resolve() == (logs / "talk.out").resolve()
    assert (logs / "speak.out").read_text() == "out: said\n"
    assert (logs / "long.out").read_bytes() == b"a" * (5 * MIB // 2)  # more than one chunk, all of it
    assert by_name["quiet"]["stdout_log"] is None and not (logs / "quiet.out").exists()
    # Past the limit: the first 3 MiB, a note, and the whole log left on the worker.
    huge = (logs / "huge.out").read_bytes()
    assert huge.startswith(b"b" * (3 * MIB)) and b"b" * (3 * MIB + 1) not in huge
    worker_logs = str(by_name["huge"]["worker_logs"])
    address, path = worker_logs.rsplit(" ", 1)
    assert address == by_name["huge"]["worker"] and path in huge.decode()
    assert Path(path).read_bytes() == b"b" * (5 * MIB)  # (the worker's /tmp is this machine's)
    assert list(Path(path).parent.iterdir()) == [Path(path)]  # what came home whole is gone there
    assert "worker_logs" not in by_name["long"]
    Path(path).unlink()


def results_of(cli: CliRunner) -> dict[str, dict[str, object]]:
    import json

    lines = (cli.workdir / ".taskrunner/jobs.results.jsonl").read_text().splitlines()
    return {line["name"]: line for line in map(json.loads, lines)}


# -- calls can be stopped --------------------------------------------------------


def test_a_call_on_dask_runs_in_a_reused_child_of_the_worker_and_keeps_its_limits(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """
jobs:
  - {name: first, call: "jobs:pids"}
  - {name: second, call: "jobs:pids", depends_on: first}
  - {name: nap, call: "jobs:sleep", args: [60], timeout: 1, depends_on: second}
  - {name: hog, call: "jobs:allocate", args: [400, 5], memory_limit: 100M, depends_on: second}
  - {name: measured, call: "jobs:allocate", args: [50], depends_on: second}
""")
    started = time.monotonic()
    done = cli.run("run", "jobs.yaml", "--backend", "dask", "-w", "1", timeout=120)
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 45  # not the 60 s the nap asked for
    by_name = results_of(cli)
    assert by_name["nap"]["status"] == "timeout" and "timed out after 1s" in str(by_name["nap"]["error"])
    assert by_name["hog"]["status"] == "failed" and "memory limit 100M exceeded" in str(by_name["hog"]["error"])
    first, second = by_name["first"]["value"], by_name["second"]["value"]
    assert isinstance(first, list) and first == second  # the same child, reused
    assert int(by_name["measured"]["max_rss"] or 0) > 50 * MIB


def wait_gone(pid: int, seconds: float) -> bool:
    import psutil

    try:
        psutil.Process(pid).wait(timeout=seconds)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        return False
    return True


def test_ctrl_c_and_fail_fast_stop_a_call_running_on_dask(cli: CliRunner) -> None:
    """On a cluster that outlives the run: the call's process is gone at once,
    not left to run for its two minutes on a worker nobody else can use."""
    stamp = cli.workdir / "started"
    write(cli.workdir / "jobs.yaml", f"""
jobs:
  - {{name: long, call: "jobs:write_pid", args: ["{stamp}", 120]}}
  - {{name: bad, run: "while [ ! -s {stamp} ]; do sleep 0.1; done; exit 1"}}
""")
    cluster = Cluster(cli)
    try:
        cluster.start(workers=2)
        for stop, options in (("fail-fast", ["--fail-fast"]), ("ctrl-c", ["--only", "long"])):
            stamp.unlink(missing_ok=True)
            run = cli.start("run", "jobs.yaml", "--backend", "dask", "--scheduler", cluster.address, *options)
            deadline = time.monotonic() + 60
            while not stamp.exists() or not stamp.read_text():
                assert time.monotonic() < deadline and run.poll() is None, f"{stop}: the call did not start"
                time.sleep(0.1)
            if stop == "ctrl-c":
                run.send_signal(2)
            _, stderr = run.communicate(timeout=60)
            assert run.returncode == (130 if stop == "ctrl-c" else 1), stderr
            assert results_of(cli)["long"]["status"] == "cancelled", stop
            assert wait_gone(int(stamp.read_text()), 10), f"{stop}: the call still runs on the cluster"
    finally:
        cluster.stop()


def test_the_no_workers_notice_comes_after_a_while_then_rarely(caplog: pytest.LogCaptureFixture) -> None:
    from taskrunner.backends.dask.connect import NO_WORKERS_AFTER, NO_WORKERS_REPEAT, NoWorkersNotice

    notice = NoWorkersNotice("tcp://h:1")
    said = lambda: sum("none connected" in record.message for record in caplog.records)
    notice.observe(0, now=0.0)
    notice.observe(0, now=NO_WORKERS_AFTER - 0.1)
    assert said() == 0
    notice.observe(0, now=NO_WORKERS_AFTER)
    notice.observe(0, now=NO_WORKERS_AFTER + 1)
    assert said() == 1
    notice.observe(0, now=NO_WORKERS_AFTER + NO_WORKERS_REPEAT)
    assert said() == 2
    notice.observe(3, now=1000.0)  # workers came: the count starts again when they go
    notice.observe(0, now=1001.0)
    notice.observe(0, now=1001.0 + NO_WORKERS_AFTER - 0.1)
    assert said() == 2
