"""A Dask worker runs its ``call`` jobs in a child process of its own, reused
from call to call, so that a call can be stopped as it is locally.

A Python call cannot be interrupted safely inside the thread that runs it;
its process can be killed. Each Dask worker thread that runs a call takes an
idle child (or starts one: ``python -m taskrunner.backends.dask.callserver``,
in a session of its own) and waits for the result, checking meanwhile the
job's ``timeout``, its ``memory_limit`` (the child's resident size) and
whether the attempt was cancelled (Ctrl-C, ``--fail-fast``: ``stop_attempts``
SIGTERMs the child's process group). A child that is killed, or dies, is
replaced by the next call; one that finished its call is kept for the next.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from ...execution.execute import AttemptControl
from ...execution.memwatch import format_size, process_rss
from ...model import Attempt, JobResult, Status
from ...signals import signal_group
from ..outcomes import coordinator_result, exit_reason

__all__ = ["CallChild", "run_call"]

#: How often a running call's limits and cancel are checked (milliseconds).
CHECK_EVERY_MS = 100


class CallChild:
    """One call server process and the two pipes to it."""

    def __init__(self) -> None:
        requests_read, requests_write = os.pipe()
        results_read, results_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "taskrunner.backends.dask.callserver", str(requests_read), str(results_write)],
                pass_fds=(requests_read, results_write), stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            os.close(requests_read)
            os.close(results_write)
        self._requests = Connection(requests_write, readable=False)
        self._results = Connection(results_read, writable=False)
        # One poll object for every wait (Connection.poll builds a selector each time).
        self._ready = select.poll()
        self._ready.register(results_read, select.POLLIN)
        self._requests.send_bytes(pickle.dumps(sys.path))

    def run(self, payload: bytes, attempt: Attempt, worker: str, slot: int, control: AttemptControl) -> JobResult:
        """Run the call; stop it (and this child) on its timeout, its memory
        limit or a cancel. ``attempt``: as unpickled here, with this worker's log paths."""
        started = time.time()
        job = attempt.job
        self._requests.send_bytes(pickle.dumps((payload, attempt.stdout_log, attempt.stderr_log, worker, slot)))
        control.spawned(self.process.pid)  # its own session: cancel() SIGTERMs the group
        deadline = None if job.timeout is None else time.monotonic() + job.timeout
        try:
            while True:
                if self._ready.poll(CHECK_EVERY_MS):
                    with contextlib.suppress(EOFError, OSError):
                        result: JobResult = pickle.loads(self._results.recv_bytes())
                        return result
                    return self._ended(attempt, started, worker, control)
                if control.cancelled or self.process.poll() is not None:
                    return self._ended(attempt, started, worker, control)
                if deadline is not None and time.monotonic() > deadline:
                    return self._stopped(attempt, started, worker, Status.TIMEOUT,
                                         f"timed out after {job.timeout:g}s; its process killed and replaced")
                if job.memory_limit is not None and process_rss(self.process.pid) > job.memory_limit:
                    return self._stopped(attempt, started, worker, Status.FAILED,
                                         f"memory limit {format_size(job.memory_limit)} exceeded; "
                                         "its process killed and replaced")
        finally:
            control.spawned(None)

    def _ended(self, attempt: Attempt, started: float, worker: str, control: AttemptControl) -> JobResult:
        """The child is gone (or going) without a result: cancelled, or it died."""
        self.close()
        if control.cancelled:
            return self._outcome(attempt, started, worker, Status.CANCELLED, "cancelled while running")
        return self._outcome(attempt, started, worker, Status.CRASHED,
                             f"the call's process died ({exit_reason(self.process.returncode)}) while running this job")

    def _stopped(self, attempt: Attempt, started: float, worker: str, status: Status, error: str) -> JobResult:
        self.close()
        return self._outcome(attempt, started, worker, status, error)

    @staticmethod
    def _outcome(attempt: Attempt, started: float, worker: str, status: Status, error: str) -> JobResult:
        finished = time.time()
        return coordinator_result(attempt, status, error, started=started, finished=finished,
                                  duration=finished - started, worker=worker)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Kill the child's whole group (what its call started goes too) and reap it."""
        signal_group(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._requests.close()
            self._results.close()
        self.process.wait()


_idle: list[CallChild] = []
_idle_lock = threading.Lock()


def run_call(payload: bytes, attempt: Attempt, worker: str, slot: int, control: AttemptControl) -> JobResult:
    """Run a call job's attempt in an idle child of this worker (one is started if none is idle)."""
    with _idle_lock:
        child = _idle.pop() if _idle else None
    if child is None or not child.alive:
        child = CallChild()
    result = child.run(payload, attempt, worker, slot, control)
    if child.alive:
        with _idle_lock:
            _idle.append(child)
    return result


def close_children() -> None:
    """Stop every idle child (the worker closes)."""
    with _idle_lock:
        children, _idle[:] = list(_idle), []
    for child in children:
        child.close()
