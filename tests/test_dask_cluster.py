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
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: nap, run: 'sleep 4'}\n")
    run = cli.start("run", str(jobs), "--backend", "dask", "-w", "1")
    assert run.stderr is not None
    stderr = Lines(run.stderr)
    line = stderr.wait_for("dashboard:", timeout=60)
    found = re.fullmatch(r"dashboard: (http://127\.0\.0\.1:\d+/status)", line)
    assert found, line
    with urllib.request.urlopen(found[1], timeout=20) as page:  # a live view while the job runs
        assert page.status == 200
    assert run.wait(timeout=60) == 0
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
    without = Cluster(cli)
    try:
        without.start(workers=1)
        done = cli.run("run", str(jobs), "--backend", "dask", "--scheduler", without.address, timeout=90)
        assert done.returncode == 0, done.stderr
        assert "dashboard" not in done.stderr
    finally:
        without.stop()


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
