"""A real Dask cluster for the tests: a `dask scheduler` and `dask worker`s in
subprocesses on 127.0.0.1, tagged like the CLI's processes so the leak check
sees them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from conftest import CliRunner


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: Runs the rest of the command with an empty tmpfs over the folder that follows.
PRIVATE_MOUNT = ["unshare", "--mount", "--propagation", "private", "--",
                 "sh", "-c", 'mount -t tmpfs tmpfs "$0" && exec "$@"']


def private_mounts_allowed(folder: str) -> str | None:
    """None if a private mount namespace can be made here, else why not."""
    try:
        done = subprocess.run([*PRIVATE_MOUNT, folder, "true"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        return str(error)
    return None if done.returncode == 0 else done.stderr.strip() or f"exit {done.returncode}"


class Cluster:
    """A `dask scheduler` and `dask worker`s in subprocesses."""

    def __init__(self, cli: CliRunner) -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {
            **cli.env,
            # As the embedded cluster does (see taskrunner.backends.dask).
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
            "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
        }
        self.workdir = cli.workdir
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def start(self, workers: int = 2, resources: tuple[str, ...] = (), dashboard: int | None = None) -> None:
        """``resources``: the first workers' ``--resources`` (e.g. ``"gpu=1"``);
        ``dashboard``: the scheduler's dashboard port (default: none)."""
        shown = ["--dashboard-address", f"127.0.0.1:{dashboard}"] if dashboard else ["--no-dashboard"]
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", str(self.port), *shown)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the dask scheduler did not start"
                time.sleep(0.1)
        self.add_workers(workers, resources)

    def add_private_worker(self, hidden: str) -> None:
        """A worker whose view of the folder ``hidden`` is its own: an empty
        tmpfs over it in a private mount namespace (as on another machine)."""
        self.workers.append(subprocess.Popen(
            [*PRIVATE_MOUNT, hidden, sys.executable, "-m", "dask", "worker", self.address, "--nthreads", "1",
             "--no-dashboard"],
            cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        self._wait_until_started(len(self.workers))

    def add_workers(self, workers: int, resources: tuple[str, ...] = ()) -> None:
        for number in range(workers):
            declared = ["--resources", resources[number]] if number < len(resources) else []
            self.workers.append(self._start("worker", self.address, "--nthreads", "1", "--no-dashboard", *declared))
        self._wait_until_started(len(self.workers))

    def _wait_until_started(self, workers: int) -> None:
        """Return once every worker is registered *and* its nanny has finished
        starting. A `dask worker` whose process dies while its nanny is still
        starting exits for good instead of being restarted, and a job that kills
        its worker can run that early (it made this test hang under load)."""
        import distributed

        with distributed.Client(self.address, timeout=30, set_as_default=False) as client:
            if workers:
                client.wait_for_workers(workers, timeout=60)
            # A nanny answers only once it has started (distributed awaits the
            # server's start before handling a message).
            client.run(os.getpid, nanny=True)

    def stop(self) -> None:
        # Workers first: a worker whose scheduler is gone spends seconds
        # trying to say goodbye to it.
        _terminate(self.workers)
        _terminate([self.scheduler] if self.scheduler is not None else [])


def _terminate(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
