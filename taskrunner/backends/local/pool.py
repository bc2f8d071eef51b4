"""The local backend: a JoinableQueue of attempts and N supervised worker processes.

Data flow (the design card's shape)::

    coordinator ──put (item, [attempts])──▶ tasks: JoinableQueue ──get()──▶ worker 0..N-1
         ▲                                                                     │ execute each
         └────────── results: SimpleQueue ◀──put (id, JobResult) per attempt──┘ task_done() per item

    end of run:  tasks.join()  then one ``None`` sentinel per worker

An item holds one attempt, or a chunk of several when jobs are tiny
(``ChunkSizer``); see ``Supervisor.rebalance`` for how a chunk stuck behind a
slow job is shared out.

Supervision: ``poll()`` waits on the result pipe *and* every worker's process
sentinel (as CPython's ProcessPoolExecutor does), so a dead worker is noticed
at once. The coordinator reads the dead worker's slot (``WorkerSlots``) to
learn which attempt it held, records it ``crashed``, calls ``task_done()`` on
its behalf, kills what the job left running, repairs any queue lock the dead
process held, and starts a replacement in the same slot. Both queues carry
their messages as packets (``packetpipe``), so a worker killed half-way
through reading or writing one cannot tear the stream for the others.

Start method: ``forkserver``. ``fork`` is cheaper (about 2 ms a worker
against 6 ms here) but the coordinator has threads (each Queue's feeder) by
the time it replaces a dead worker, and forking a threaded process is unsafe
and deprecated from Python 3.12; ``spawn`` costs about 40 ms a worker. The
fork server preloads ``taskrunner.local.forkserver_setup`` so each worker starts
warm and the server survives signals sent to the coordinator's group.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import select
import time
from typing import Any

from ...execution.execute import KILL_GRACE
from ...model import Attempt, JobResult, Status
from ...owner import Owner
from ..outcomes import coordinator_result
from ..sending import dumps
from ..workersetup import WorkerSetup
from ._mp.taskqueue import ResultQueue, TaskQueue
from .chunks import ChunkSizer
from .helpers import START_METHOD, claim_helpers, kept_for_good, pool_closes, pool_opens
from .ledger import Ledger
from .spool import SpoolDir
from .supervisor import Supervisor
from .workers import Workers

#: Supervision events: worker deaths and replacements, repaired locks, lost
#: items queued again, leftover processes ended. No handler is configured
#: here; ``taskrunner -v`` shows them.
log = logging.getLogger("taskrunner.local")

__all__ = ["LocalPool"]

#: Upper bound on one wait, so signals and call-job deadlines are seen promptly.
MAX_WAIT = 0.2


class LocalPool:
    """Runs attempts on ``workers`` local processes; see the module docstring.

    >>> with LocalPool(workers=2) as pool:          # doctest: +SKIP
    ...     pool.submit(attempt)
    ...     outcomes = pool.poll(timeout=1.0)       # [(attempt_id, JobResult)]
    """

    def __init__(self, workers: int, setup: WorkerSetup | None = None) -> None:
        self._owner = Owner()  # a forked child leaves this pool alone (see taskrunner.owner)
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self._ctx: Any = multiprocessing.get_context(START_METHOD)
        claim_helpers()  # before the queues below start the resource tracker
        self._spool = SpoolDir()  # where messages too big for a pipe packet wait (see packetpipe)
        self._tasks = TaskQueue(ctx=self._ctx, spool_dir=self._spool.path)
        self._tasks.on_stuck = self._reap_while_stuck
        self._results = ResultQueue(ctx=self._ctx, spool_dir=self._spool.path)
        # One long-lived poll object for the result pipe and every worker's sentinel
        # (multiprocessing.connection.wait builds one per call: more than a tiny job costs).
        self._poller = select.poll()
        self._poller.register(self._results.fileno(), select.POLLIN)
        self._workers = Workers(
            self._ctx, workers, self._tasks, self._results, self._spool.path, self._poller, setup
        )
        self._slots = self._workers.slots
        # What is in flight: attempts, the chunk being filled, queue items.
        self._ledger = Ledger()
        self._chunks = ChunkSizer()
        self._supervisor = Supervisor(
            self._workers, self._ledger, self._tasks, self._results, drain=self._drain
        )
        self._closed = False
        self._pending: list[tuple[int, JobResult]] = []
        #: Queue items put so far (each carries a chunk of one or more attempts).
        self.items_sent = 0

    def __enter__(self) -> LocalPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Open the pool: the fork server runs (started if need be); the workers
        start with the first ``submit`` (a run with nothing to run starts none)."""
        pool_opens(self)

    def start_workers(self) -> None:
        """Start the workers now, if they have not started (an Executor's are ready at once)."""
        self._workers.start_all()

    # -- submitting and collecting ------------------------------------------

    def capacity(self) -> int:
        """How many more attempts to submit now: for long attempts, one per
        free worker (the run chooses the next job when a worker is free); for
        short ones two chunks a worker, so the queue never runs dry."""
        return max(0, self._chunks.ahead(self.workers) - len(self._ledger.outstanding))

    def submit(self, attempt: Attempt) -> None:
        """Queue ``attempt`` (``poll()`` sends a partial chunk); raises what pickling raised."""
        payload = dumps(attempt, of_script=getattr(attempt.job.call, "__module__", None) == "__main__")
        self.start_workers()
        self._ledger.add(attempt, payload)
        if len(self._ledger.batch) >= self._chunks.size:
            self._put_batch()

    def _put_batch(self) -> None:
        if not self._ledger.batch:
            return
        self._tasks.put(self._ledger.seal_batch(time.time()))
        self.items_sent += 1

    def _resubmit(self, attempt_ids: list[int]) -> None:
        for attempt_id in attempt_ids:
            if not self._supervisor.cancelling:  # else cancel() records them as never started
                self.submit(self._ledger.outstanding[attempt_id])
        self._put_batch()

    @property
    def crashes(self) -> int:
        """Workers that died while running an attempt."""
        return self._supervisor.crashes

    @property
    def spool_path(self) -> str:
        """Where messages too big for a pipe packet (and kept pids) are put."""
        return self._spool.path

    def processes(self) -> dict[int, Any]:
        """The live workers' ``Process`` objects by pid."""
        return self._workers.processes()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers, by slot."""
        return self._workers.pids()

    def watch(self, fd: int) -> None:
        """Also end a ``poll()`` wait when ``fd`` is readable (an Executor's wake-up pipe)."""
        self._poller.register(fd, select.POLLIN)

    def running(self) -> list[tuple[int, str, float | None]]:
        """(attempt id, worker name, when it started) of each attempt a worker holds right now."""
        return self._workers.running()

    def poll(self, timeout: float | None) -> list[tuple[int, JobResult]]:
        """Wait up to ``timeout`` seconds; return outcomes of finished attempts.

        Worker deaths and call-job timeouts are turned into outcomes here too.
        """
        timeout = MAX_WAIT if timeout is None else max(0.0, min(timeout, MAX_WAIT))
        self._put_batch()
        if self._pending:
            timeout = 0.0
        elif (gather := self._chunks.gather_time(len(self._ledger.outstanding), self.workers, time.monotonic())) > 0:
            time.sleep(min(gather, timeout))  # (a death or a signal is seen that much later)
        ready = {fd for fd, _ in self._poller.poll(timeout * 1000)}
        outcomes, self._pending = self._pending, []
        outcomes += self._drain()
        outcomes += self._bury(ready)
        self._supervisor.enforce_call_limits()
        self._resubmit(self._supervisor.rebalance())
        self._resubmit(self._supervisor.find_lost())
        self._chunks.collected(time.monotonic())
        return outcomes

    def _drain(self) -> list[tuple[int, JobResult]]:
        outcomes: list[tuple[int, JobResult]] = []
        for attempt_id, result in self._results.get_ready():
            attempt = self._ledger.settle(attempt_id)
            if attempt is None:
                continue  # already recorded (e.g. its worker was declared dead)
            if result.attempts != attempt.number:
                result = result.evolve(attempts=attempt.number)
            if result.duration is not None:
                self._chunks.observe(result.duration)
            # One that ended while we stopped it (timeout, cancel) keeps its real outcome.
            self._supervisor.timed_out.discard(attempt_id)
            self._supervisor.over_memory.discard(attempt_id)
            outcomes.append((attempt_id, result))
        return outcomes

    def _reap_while_stuck(self) -> None:
        """The task queue's lock stays taken: reap (and so repair) dead workers."""
        self._pending += self._bury()

    def _bury(self, ready: set[Any] | None = None) -> list[tuple[int, JobResult]]:
        """The outcomes dead workers left; the rest of their chunks queued again."""
        outcomes: list[tuple[int, JobResult]] = []
        for death in self._supervisor.reap(ready):
            outcomes += death.outcomes
            self._resubmit(death.requeue)
        return outcomes

    # -- stopping ------------------------------------------------------------

    def cancel(self) -> list[tuple[int, JobResult]]:
        """Stop everything outstanding; return its (mostly ``cancelled``) outcomes.

        Queued attempts are skipped by the workers; running ones get SIGTERM
        (commands: their process group; calls: ``JobCancelled`` raised in
        them) and, after a grace period, SIGKILL with their worker.
        """
        if not self._owner.here:
            return []
        self._supervisor.cancelling = True
        self._slots.stopping.value = 1
        self._ledger.batch.clear()
        running_at_start = self._workers.ask_to_cancel()
        # Grace for the workers to stop their jobs, then SIGKILL what still runs.
        outcomes = self._poll_while_running(KILL_GRACE + 1.0)
        for slot in self._workers.busy():
            self._workers.kill_slot(slot)
        outcomes += self._poll_while_running(KILL_GRACE)
        outcomes += self._drain()
        for attempt_id, attempt in self._ledger.outstanding.items():
            if attempt_id in running_at_start:
                outcome = coordinator_result(attempt, Status.CANCELLED, "cancelled while running")
            else:
                outcome = coordinator_result(
                    attempt, Status.CANCELLED, "cancelled before it started", attempts=attempt.number - 1
                )
            outcomes.append((attempt_id, outcome))
        self._ledger.clear()
        return outcomes

    def _poll_while_running(self, seconds: float) -> list[tuple[int, JobResult]]:
        outcomes: list[tuple[int, JobResult]] = []
        deadline = time.monotonic() + seconds
        while self._workers.busy() and time.monotonic() < deadline:
            outcomes += self.poll(0.05)
        return outcomes

    def close(self) -> None:
        """Join the queue, send one sentinel per worker, and reap every worker."""
        if self._closed or not self._owner.here:
            return
        self._closed = True
        self._supervisor.replacing = False
        try:
            self._supervisor.join_tasks()
            live = [p for p in self._workers.procs if p is not None and p.exitcode is None]
            for _ in live:
                self._tasks.put(None)
            deadline = time.monotonic() + 5.0
            for process in live:
                while process.exitcode is None and time.monotonic() < deadline:
                    self._drain()
                    process.join(0.05)
        finally:
            self.kill()
            # Break the pool <-> queue cycle so the queues' semaphores are
            # freed now, not by a later GC pass (which can land inside the
            # resource tracker and make it warn on Python 3.12/3.13).
            self._tasks.on_stuck = None
            self._tasks.cancel_join_thread()
            self._tasks.close()
            self._results.close()
            kept_for_good.update(self._workers.kept())
            self._spool.remove()
            pool_closes(self, self._release_semaphores)

    def _release_semaphores(self) -> None:
        """Drop the semaphores (queues, claim locks, Processes): freed now, not reported leaked."""
        self._workers.release()
        self._supervisor.release()
        self._tasks = self._results = None  # type: ignore[assignment]
        gc.collect()

    def stop_starting(self) -> None:
        """Start no more attempts, not even of a held chunk; safe in a signal handler."""
        if self._owner.here:
            self._slots.stopping.value = 1

    def kill_now(self) -> None:
        """SIGKILL every job and worker (only signals: ``poll()`` reaps the deaths
        as ``cancelled``); safe to call from a signal handler."""
        if not self._owner.here:
            return
        self._supervisor.cancelling = True
        self._slots.stopping.value = 1
        for slot in range(self.workers):
            self._workers.kill_slot(slot)

    def kill(self) -> None:
        """SIGKILL every worker and every command they run (the emergency exit)."""
        self._workers.kill_all()
