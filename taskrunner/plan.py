"""Pure scheduling state: what may start now, what is final, when to stop.

No processes and no clocks: every method that needs the time takes ``now``.
The runner asks ``take_due`` for attempts to submit and feeds every attempt's
outcome to ``record``; ``record`` answers with the job's final result once
there will be no further attempt.

    >>> from taskrunner.model import Job, JobResult, Status
    >>> plan = Plan([Job(name="a", run="true", retries=1, retry_delay=2.0)])
    >>> plan.take_due(now=0.0, limit=8)
    [(0, 1)]
    >>> plan.record(0, JobResult("a", Status.FAILED, attempts=1), now=10.0) is None
    True
    >>> plan.next_due(), plan.take_due(now=11.0, limit=8), plan.take_due(now=12.0, limit=8)
    (12.0, [], [(0, 2)])
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import deque
from collections.abc import Sequence

from .model import Job, JobResult, Status

__all__ = ["Plan", "RETRYABLE"]

RETRYABLE = frozenset({Status.FAILED, Status.TIMEOUT, Status.CRASHED})


class Plan:
    """Scheduling state of one run over ``jobs``.

    ``max_failures`` stops dispatching once that many jobs have finally
    failed (``--fail-fast`` is ``max_failures=1``).
    """

    def __init__(self, jobs: Sequence[Job], *, max_failures: int | None = None) -> None:
        self.jobs = list(jobs)
        self.max_failures = max_failures
        self._final: list[JobResult | None] = [None] * len(self.jobs)
        self._attempts = [0] * len(self.jobs)
        self._running: set[int] = set()
        # First attempts in job order; retries in a min-heap of (due time,
        # job index). A retry that is due goes before jobs not yet started,
        # so a started job finishes (or fails for good) as soon as it can.
        self._fresh: deque[int] = deque(range(len(self.jobs)))
        self._retries: list[tuple[float, int]] = []
        self._final_count = 0
        self._failures = 0
        self._stopped = False

    # -- queries ---------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True when every job has a final result."""
        return self._final_count == len(self.jobs)

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called or ``max_failures`` was reached."""
        return self._stopped

    @property
    def running(self) -> frozenset[int]:
        """Indexes of jobs with an attempt submitted and not yet recorded."""
        return frozenset(self._running)

    @property
    def idle(self) -> bool:
        """True when nothing runs and nothing more will be dispatched."""
        return not self._running and (self._stopped or not (self._fresh or self._retries))

    def next_due(self) -> float | None:
        """When the earliest waiting attempt becomes due (None if none waits)."""
        if self._stopped:
            return None
        if self._fresh:
            return float("-inf")
        return self._retries[0][0] if self._retries else None

    def results(self) -> list[JobResult | None]:
        """Final results in job order (None where not final yet)."""
        return list(self._final)

    # -- transitions -----------------------------------------------------

    def take_due(self, now: float, limit: int) -> list[tuple[int, int]]:
        """Up to ``limit`` attempts due at ``now``, as (job index, attempt number)."""
        taken: list[tuple[int, int]] = []
        while not self._stopped and len(taken) < limit:
            if self._retries and self._retries[0][0] <= now:
                _, index = heapq.heappop(self._retries)
            elif self._fresh:
                index = self._fresh.popleft()
            else:
                break
            self._attempts[index] += 1
            self._running.add(index)
            taken.append((index, self._attempts[index]))
        return taken

    def record(self, index: int, outcome: JobResult, now: float) -> JobResult | None:
        """Record one attempt's outcome; return the job's final result, if final.

        A retryable outcome with attempts left is scheduled again after
        ``retry_delay * 2**(attempt - 1)`` seconds and gives None.
        """
        self._running.discard(index)
        job = self.jobs[index]
        attempt = self._attempts[index]
        if outcome.status in RETRYABLE and attempt <= job.retries and not self._stopped:
            delay = job.retry_delay * (2 ** (attempt - 1))
            heapq.heappush(self._retries, (now + delay, index))
            return None
        final = dataclasses.replace(outcome, name=job.name)
        self._set_final(index, final)
        if final.status in RETRYABLE:
            self._failures += 1
            if self.max_failures is not None and self._failures >= self.max_failures:
                self.stop()
        return final

    def stop(self) -> None:
        """Dispatch nothing more (running attempts may still be recorded)."""
        self._stopped = True

    def cancel_waiting(self) -> list[JobResult]:
        """Final ``cancelled`` results for every job neither running nor final.

        Call after ``stop()``; a job whose earlier attempt failed keeps its
        attempt count.
        """
        cancelled = []
        for index, job in enumerate(self.jobs):
            if self._final[index] is None and index not in self._running:
                result = JobResult(
                    name=job.name,
                    status=Status.CANCELLED,
                    attempts=self._attempts[index],
                    error="cancelled before it started",
                )
                self._set_final(index, result)
                cancelled.append(result)
        self._fresh.clear()
        self._retries.clear()
        return cancelled

    def _set_final(self, index: int, result: JobResult) -> None:
        if self._final[index] is None:
            self._final_count += 1
        self._final[index] = result
