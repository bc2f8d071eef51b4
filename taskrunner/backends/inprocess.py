"""A backend that runs attempts in the calling process, one at a time.

Like rq's ``SimpleWorker``: no worker processes, no queues, so the runner's
own logic (retries, dependencies, ``--fail-fast``, the results file, resume)
can be tested exactly and in milliseconds. Commands still run as real
processes, and calls really run; only the supervision of worker processes is
absent (a call that crashes takes the caller with it, and ``timeout`` on a
call is not enforced).

    >>> from taskrunner import Job, Runner
    >>> runner = Runner(backend=InProcessBackend(), results="/tmp/doc-inprocess.jsonl", progress=False)
    >>> runner.run([Job(name="a", run="true")]).ok
    True
"""

from __future__ import annotations

from collections import deque

from ..execution.execute import execute
from ..model import Attempt, JobResult, Status
from .outcomes import coordinator_result

__all__ = ["InProcessBackend"]


class InProcessBackend:
    """Runs each submitted attempt in this process when ``poll()`` is called."""

    def __init__(self, capacity: int = 1) -> None:
        self._capacity = capacity
        self._queued: deque[Attempt] = deque()
        self._stopped = False
        #: Every attempt run, in order (for tests).
        self.ran: list[Attempt] = []

    def __enter__(self) -> InProcessBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self._queued.clear()

    def capacity(self) -> int:
        return max(0, self._capacity - len(self._queued))

    def submit(self, attempt: Attempt) -> None:
        self._queued.append(attempt)

    def poll(self, timeout: float | None) -> list[tuple[int, JobResult]]:
        """Run the queued attempts now (``timeout`` is not needed: nothing
        runs in the background)."""
        outcomes = []
        while self._queued and not self._stopped:
            attempt = self._queued.popleft()
            self.ran.append(attempt)
            outcomes.append((attempt.attempt_id, execute(attempt, worker="inprocess")))
        return outcomes

    def running(self) -> list[tuple[int, str, float | None]]:
        return []

    def stop_starting(self) -> None:
        self._stopped = True

    def cancel(self) -> list[tuple[int, JobResult]]:
        outcomes = [
            (attempt.attempt_id, coordinator_result(
                attempt, Status.CANCELLED, "cancelled before it started", attempts=attempt.number - 1
            ))
            for attempt in self._queued
        ]
        self._queued.clear()
        return outcomes

    def kill_now(self) -> None:
        self._stopped = True
