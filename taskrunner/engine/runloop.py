"""The one loop of a run: ask the plan, submit to the backend, record outcomes.

``RunLoop.results()`` dispatches what the plan says is due (recording an
up-to-date job at once instead of running it), waits for outcomes, turns an
``ok`` that left a declared output missing into a failure, hands each
outcome to the plan, and writes the results that became final to the
journal and the reporter, yielding them. A signal, ``--fail-fast`` or a
consumer that stops iterating ends it: what runs is cancelled and recorded
before the backend shuts down.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator, Sequence

from ..backends.backend import Backend
from ..display.progress import GuardedReporter, Reporter
from ..execution.memwatch import available_memory
from ..model import FAILURES, Attempt, JobResult, Status
from ..paths import log_paths
from ..results.journal import Journal
from ..results.livefile import LiveFile
from ..signals import SignalGuard, signal_name
from .freshness import Freshness
from .plan import Plan
from .sendable import unsendable_result

__all__ = ["RunLoop"]

#: How a job ends that may leave half-written outputs (removed, unless it keeps them).
PARTIAL = FAILURES | {Status.CANCELLED}

log = logging.getLogger("taskrunner.run")

#: Seconds between looks at the available memory while ``--memfree`` holds jobs back.
MEMORY_RECHECK = 0.2


class RunLoop:
    """Dispatch, collect and record until every job is final or the run stops."""

    def __init__(
        self,
        plan: Plan,
        pool: Backend,
        journal: Journal,
        signals: SignalGuard,
        *,
        seqs: Sequence[int],
        freshness: Freshness,
        reporter: Reporter,
        log_dir: str,
        on_result: Callable[[JobResult], None] | None = None,
        memfree: float | None = None,
        live: LiveFile | None = None,
    ) -> None:
        self.plan, self.pool, self.journal, self.signals = plan, pool, journal, signals
        self.seqs, self.freshness, self.on_result = seqs, freshness, on_result
        self.reporter = GuardedReporter(reporter)
        #: Why printing stopped during the run (a line for the summary), if it did.
        self.output_lost: str | None = None
        self._log_dir = os.path.abspath(log_dir)
        self._attempt_jobs: dict[int, int] = {}
        self._attempt_ids = itertools.count(1)
        self._memfree = memfree
        self._live, self._done = live, 0

    def results(self) -> Iterator[JobResult]:
        """Run; yield each final result as it is recorded (see the module docstring)."""
        plan, pool = self.plan, self.pool
        self.reporter.start(len(plan.jobs))
        try:
            while not plan.finished:
                if self.reporter.error is not None and self.output_lost is None:
                    self._output_failed(self.reporter.error)
                if self.signals.received is not None:
                    # The exact time lets a test (and a user) check that no
                    # job started after it.
                    log.info("%s received at %.6f: starting no more jobs, cancelling the running ones",
                             signal_name(self.signals.received), self.signals.received_at)
                    plan.stop()
                if plan.stopped:
                    break
                memory_allows = self._memory_allows()
                if memory_allows:
                    for index, number in plan.take_due(time.time(), pool.capacity()):
                        yield from self._dispatch(index, number)
                    if plan.finished:
                        break  # (the last jobs were up to date: no outcome to wait for)
                # Held back by --memfree: look again a moment later, not at once.
                outcomes = pool.poll(self._wait_time() if memory_allows else MEMORY_RECHECK)
                # First: a failure's line then tells what still runs.
                self._show_running({attempt_id for attempt_id, _ in outcomes})
                yield from self._record(outcomes)
        finally:
            if not plan.finished:
                plan.stop()
                # When no terminal is left to say why, the records say it.
                why = self.output_lost or ""
                self._record([(attempt_id, outcome.evolve(error=f"{outcome.error}: {why}") if why and
                               outcome.status is Status.CANCELLED else outcome) for attempt_id, outcome in pool.cancel()])
                self._publish(plan.cancel_waiting(why))
            self.reporter.close()
            if self._live is not None:
                self._live.remove()
            if self.reporter.error is not None and self.output_lost is None:
                self._output_failed(self.reporter.error)

    def _show_running(self, finished: set[int]) -> None:
        """The bar's running count; the live file (``report`` from another
        terminal), when due. ``finished``: attempts whose outcomes just came,
        which a worker may not have let go of yet (it sends the outcome first)."""
        attempt_jobs = self._attempt_jobs
        running = [(attempt_id, worker, started) for attempt_id, worker, started in self.pool.running()
                   if attempt_id in attempt_jobs and attempt_id not in finished]
        self.reporter.running(len(running))
        now = time.time()
        if self._live is not None and self._live.due(now):
            jobs = self.plan.jobs
            self._live.update(now, [(attempt_id, jobs[attempt_jobs[attempt_id]].name, worker, started)
                                    for attempt_id, worker, started in running], self._done)

    def _output_failed(self, error: OSError) -> None:
        """A reader that left (EPIPE) stops the run, as it would stop ``head``'s
        writer; any other error stops only the printing."""
        if error.errno == errno.EPIPE:
            self.output_lost = f"standard output or error was closed ({error.strerror}): the run stopped"
            self.signals.stop(signal.SIGPIPE)
        else:
            self.output_lost = f"output stopped ({error.strerror or error}); the run went on"
        log.warning("%s", self.output_lost)

    def _memory_allows(self) -> bool:
        """``--memfree``: start nothing while the machine's available memory is below it."""
        return self._memfree is None or available_memory() >= self._memfree

    def _dispatch(self, index: int, number: int) -> list[JobResult]:
        job = self.plan.jobs[index]
        attempt = Attempt(next(self._attempt_ids), job, number, *log_paths(self._log_dir, job.name), self.seqs[index],
                          self.plan.gpus_of(index))
        self._attempt_jobs[attempt.attempt_id] = index
        fresh = (self.freshness.fresh_result(job, time.time(), self.plan.dependency_ran(index))
                 if number == 1 else None)
        if fresh is not None:
            return self._record([(attempt.attempt_id, fresh)])
        if log.isEnabledFor(logging.INFO):  # (-v: each start, as the job is handed to a worker)
            log.info("starting %s%s", job.name, f" (attempt {number})" if number > 1 else "")
        try:
            self.pool.submit(attempt)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            return self._record([(attempt.attempt_id, unsendable_result(attempt, error))])
        return []

    def _record(self, outcomes: list[tuple[int, JobResult]]) -> list[JobResult]:
        finals = []
        for attempt_id, outcome in outcomes:
            index = self._attempt_jobs.pop(attempt_id)
            job = self.plan.jobs[index]
            if outcome.status is not Status.UPTODATE:
                self.freshness.forget()  # (it ran: what it wrote is looked at again)
            if outcome.status is Status.OK and job.outputs:
                missing = self.freshness.missing_outputs(job)
                if missing:
                    outcome = outcome.evolve(status=Status.FAILED, error=f"missing output {missing[0]}")
                elif job.freshness == "content":  # what the next run compares with
                    outcome = outcome.evolve(content_hash=self.freshness.content_digest(job))
            recorded = self.plan.record(index, outcome, time.time())
            if recorded and recorded[0].status in PARTIAL and job.outputs and not job.keep_failed_outputs:
                self.freshness.remove_outputs(job)  # (what it made of them may be half written)
            finals += recorded
        if self.plan.stopped:
            self.pool.stop_starting()  # --fail-fast: not even a held chunk's rest
        return self._publish(finals)

    def _publish(self, finals: list[JobResult]) -> list[JobResult]:
        if finals:
            self.journal.write_all(finals)
            self._done += len(finals)
        for final in finals:
            self.reporter.result(final)
            if self.on_result is not None:
                self.on_result(final)
        return finals

    def _wait_time(self) -> float | None:
        """How long to wait for outcomes: until the next retry is due, if it can start."""
        due = self.plan.next_due()
        if due is None or self.pool.capacity() == 0:
            return None
        return max(0.0, due - time.time())
