"""Pure scheduling state: what may start now, what is final, when to stop.

No processes and no clocks: every method that needs the time takes ``now``.
The runner asks ``take_due`` for attempts to submit and feeds every attempt's
outcome to ``record``; ``record`` answers with the results that became final
(the job's own once no further attempt will follow, plus ``skipped`` results
for jobs that depended on it when it did not succeed).

    >>> from taskrunner.model import Job, JobResult, Status
    >>> plan = Plan([Job(name="a", run="true", retries=1, retry_delay=2.0)])
    >>> plan.take_due(now=0.0, limit=8)
    [(0, 1)]
    >>> plan.record(0, JobResult("a", Status.FAILED, attempts=1), now=10.0)
    []
    >>> plan.next_due(), plan.take_due(now=11.0, limit=8), plan.take_due(now=12.0, limit=8)
    (12.0, [], [(0, 2)])
"""

from __future__ import annotations

import heapq
from array import array
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..jobhash import job_hash
from ..model import FAILURES, Job, JobResult, Status, skip_reason
from ..resources import ResourcePool, demand
from ..results.resultstore import ResultStore
from .depgraph import critical_paths, dependency_graph

__all__ = ["RETRYABLE", "Plan"]

RETRYABLE = FAILURES
#: How many ready jobs ``take_due`` looks past, for one whose resources fit.
BACKFILL_SCAN = 1000


class _Reservations:
    """The run's resources the running jobs hold (none to count without a pool)."""

    def __init__(self, jobs: Sequence[Job], pool: ResourcePool | None) -> None:
        self._pool = pool
        self._needs = [demand(dict(job.resources)) for job in jobs] if pool is not None else []
        self._gpus: dict[int, tuple[str, ...]] = {}

    def reserve(self, index: int) -> bool:
        """Take job ``index``'s resources if they fit (always true without a pool)."""
        if self._pool is None:
            return True
        if not self._pool.fits(self._needs[index]):
            return False
        self._gpus[index] = self._pool.take(self._needs[index])
        return True

    def release(self, index: int) -> bool:
        """Give back what job ``index`` held; whether it held anything."""
        if index not in self._gpus:
            return False
        assert self._pool is not None
        self._pool.give_back(self._needs[index], self._gpus.pop(index))
        return True

    def gpus_of(self, index: int) -> tuple[str, ...] | None:
        if self._pool is None or not self._pool.manages_gpus:
            return None
        return self._gpus.get(index, ())


class Plan:
    """Scheduling state of one run over ``jobs``.

    ``max_failures`` stops dispatching once that many jobs have finally
    failed (``--fail-fast`` is ``max_failures=1``). ``satisfied`` names
    dependencies already met outside this plan (earlier ``ok`` results).
    Dependencies must be valid (see ``dependency_problems``).

    Ready jobs start in order of ``priority`` (higher first), then of the
    longest chain of work waiting behind them (critical path first: each
    job weighs its ``durations`` entry, from an earlier run, else the mean
    of those known, else 1), then file order.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        max_failures: int | None = None,
        satisfied: Iterable[str] = (),
        durations: Mapping[str, float] | None = None,
        resources: ResourcePool | None = None,
    ) -> None:
        self.jobs = jobs if isinstance(jobs, (list, tuple)) else list(jobs)
        self.max_failures = max_failures
        self._blockers, self._dependents = dependency_graph(self.jobs, satisfied)
        #: The final results (compact: a run may have a million).
        self.final = ResultStore(self.jobs)
        self._attempts = array("I", bytes(4 * len(self.jobs)))  # 4 bytes a job, not 8
        #: The attempts that ran, of jobs that were retried (job index -> entries).
        self._earlier: dict[int, tuple[tuple[float, float, str, str], ...]] = {}
        self._running: set[int] = set()
        #: 1 for each job a dependency of which ran (``ok``, not ``uptodate``) in this run.
        self._dependency_ran = bytearray(len(self.jobs))
        # Ready first attempts in a heap by (-priority, -critical path, index);
        # retries in a min-heap of (due time, job index). A due retry goes
        # before jobs not yet started, so a started job finishes (or fails for
        # good) as soon as it can.
        critical = critical_paths(self.jobs, self._blockers, self._dependents, durations or {})
        # When every job has the same priority and critical path (no
        # dependencies, no durations: the common large run), the order is
        # file order, and a heap entry is just the job's index (a third of a
        # key tuple's memory, which shows at a million jobs).
        uniform = len({job.priority for job in self.jobs}) <= 1 and len(set(critical)) <= 1
        self._keys = None if uniform else [(-job.priority, -critical[i], i) for i, job in enumerate(self.jobs)]
        # Ready first attempts: a heap, and, when every job is ready at once
        # in file order, a cursor over them instead (no million-entry heap).
        self._cursor = self._cursor_end = 0
        if self._keys is None and not any(self._blockers):
            self._cursor_end = len(self.jobs)
            self._fresh: list[Any] = []
        else:
            self._fresh = [self._entry(i) for i in range(len(self.jobs)) if not self._blockers[i]]
            heapq.heapify(self._fresh)
        self._retries: list[tuple[float, int]] = []
        # With a resource pool, a job is taken only when its demand fits; the
        # gpus each running job holds are given back with its outcome.
        self._held = _Reservations(self.jobs, resources)
        self._blocked = False  # nothing ready fitted at the last take_due
        self._final_count = 0
        self._failures = 0
        self._stopped = False

    def _has_fresh(self) -> bool:
        return bool(self._fresh) or self._cursor < self._cursor_end

    def _pop_fresh(self) -> Any:
        """The first ready job's heap entry (taken from the heap or the cursor)."""
        if self._cursor < self._cursor_end and (not self._fresh or self._cursor < self._fresh[0]):
            self._cursor += 1
            return self._cursor - 1
        return heapq.heappop(self._fresh)

    def _entry(self, index: int) -> Any:
        """The ready heap's entry for job ``index``: its key, or the index itself."""
        return index if self._keys is None else self._keys[index]

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

    def dependency_ran(self, index: int) -> bool:
        """Whether a dependency of job ``index`` ran in this run (then it is
        never up to date, whatever the files' clocks say)."""
        return bool(self._dependency_ran[index])

    def next_due(self) -> float | None:
        """When the earliest waiting attempt becomes due (None if none waits)."""
        if self._stopped:
            return None
        if self._has_fresh() and not self._blocked:
            return float("-inf")
        return self._retries[0][0] if self._retries else None

    def results(self) -> list[JobResult | None]:
        """Final results in job order (None where not final yet)."""
        return [self.final.get(index) for index in range(len(self.jobs))]

    # -- transitions -----------------------------------------------------

    def take_due(self, now: float, limit: int) -> list[tuple[int, int]]:
        """Up to ``limit`` attempts due at ``now``, as (job index, attempt number).

        With resources, a job whose demand does not fit is passed over for
        the next one that does (small jobs fill the gaps), looking at up to
        BACKFILL_SCAN jobs.
        """
        taken: list[tuple[int, int]] = []
        passed_retries: list[tuple[float, int]] = []
        passed_fresh: list[Any] = []
        while not self._stopped and len(taken) < limit:
            if self._retries and self._retries[0][0] <= now:
                retry = heapq.heappop(self._retries)
                index = retry[1]
                if not self._held.reserve(index):
                    passed_retries.append(retry)
                    continue
            elif self._has_fresh():
                entry = self._pop_fresh()
                index = entry if self._keys is None else entry[2]
                if not self._held.reserve(index):
                    passed_fresh.append(entry)
                    if len(passed_fresh) + len(passed_retries) >= BACKFILL_SCAN:
                        break
                    continue
            else:
                break
            self._attempts[index] += 1
            self._running.add(index)
            taken.append((index, self._attempts[index]))
        self._blocked = bool(passed_fresh or passed_retries) and len(taken) < limit
        for retry in passed_retries:
            heapq.heappush(self._retries, retry)
        for entry in passed_fresh:
            heapq.heappush(self._fresh, entry)
        return taken

    def gpus_of(self, index: int) -> tuple[str, ...] | None:
        """The gpu devices the running job ``index`` holds; None when the run
        does not manage gpus (the job sees what the run inherited)."""
        return self._held.gpus_of(index)

    def record(self, index: int, outcome: JobResult, now: float) -> list[JobResult]:
        """Record one attempt's outcome; return the results that became final.

        A retryable outcome with attempts left is scheduled again after
        ``retry_delay * 2**(attempt - 1)`` seconds and gives ``[]``. A final
        result other than ``ok`` also makes every job depending on it,
        directly or not, final as ``skipped``.
        """
        self._running.discard(index)
        if self._held.release(index):  # its resources are free again
            self._blocked = False
        job = self.jobs[index]
        attempt = self._attempts[index]
        history = self._earlier.pop(index, ())
        if outcome.started is not None and outcome.finished is not None and outcome.status is not Status.UPTODATE:
            # (An up-to-date job ran on no worker: no attempt to record.)
            history += ((outcome.started, outcome.finished, outcome.worker or "?", outcome.status.value),)
        if outcome.status in RETRYABLE and attempt <= job.retries and not self._stopped:
            self._earlier[index] = history
            delay = job.retry_delay * (2 ** (attempt - 1))
            heapq.heappush(self._retries, (now + delay, index))
            return []
        final = outcome
        if outcome.history != history or outcome.name != job.name or outcome.job_hash is None:
            # Workers stamp the hash and a first attempt's history; results
            # the coordinator made (crashed, cancelled) and retried jobs
            # get them here.
            final = outcome.evolve(name=job.name, history=history, job_hash=outcome.job_hash or job_hash(job))
        self._set_final(index, final)
        if final.ok:
            ran = final.status is Status.OK  # (not uptodate): its dependents must run too
            for dependent in self._dependents[index]:
                if ran:
                    self._dependency_ran[dependent] = 1
                self._blockers[dependent] -= 1
                if not self._blockers[dependent] and not self.final.has(dependent):
                    heapq.heappush(self._fresh, self._entry(dependent))
            return [final]
        if final.status in RETRYABLE:
            self._failures += 1
            if self.max_failures is not None and self._failures >= self.max_failures:
                self.stop()
        return [final, *self._skip_dependents(index)]

    def _skip_dependents(self, index: int) -> list[JobResult]:
        skipped = []
        queue = deque([index])
        while queue:
            cause = queue.popleft()
            for dependent in self._dependents[cause]:
                if not self.final.has(dependent):
                    result = JobResult(
                        name=self.jobs[dependent].name,
                        status=Status.SKIPPED,
                        error=skip_reason(self.jobs[cause].name),
                        job_hash=job_hash(self.jobs[dependent]),
                    )
                    self._set_final(dependent, result)
                    skipped.append(result)
                    queue.append(dependent)
        return skipped

    def stop(self) -> None:
        """Dispatch nothing more (running attempts may still be recorded)."""
        self._stopped = True

    def cancel_waiting(self, why: str = "") -> list[JobResult]:
        """Final ``cancelled`` results (``why`` added to their error) for every job neither
        running nor final. Call after ``stop()``; a job keeps its attempt count."""
        error = f"cancelled before it started: {why}" if why else "cancelled before it started"
        cancelled = []
        for index, job in enumerate(self.jobs):
            if not self.final.has(index) and index not in self._running:
                result = JobResult(
                    name=job.name,
                    status=Status.CANCELLED,
                    attempts=self._attempts[index],
                    error=error,
                    job_hash=job_hash(job),
                )
                self._set_final(index, result)
                cancelled.append(result)
        self._fresh.clear()
        self._cursor = self._cursor_end
        self._retries.clear()
        return cancelled

    def _set_final(self, index: int, result: JobResult) -> None:
        if not self.final.has(index):
            self._final_count += 1
        self.final.put(index, result)
