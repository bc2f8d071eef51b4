"""The local backend: a JoinableQueue of attempts and N supervised worker processes.

Data flow (the design card's shape)::

    coordinator ──put (item, [attempts])──▶ tasks: JoinableQueue ──get()──▶ worker 0..N-1
         ▲                                                                     │ execute each
         └────────── results: SimpleQueue ◀──put (id, JobResult) per attempt──┘ task_done() per item

    end of run:  tasks.join()  then one ``None`` sentinel per worker

An item holds one attempt, or a chunk of several when jobs are tiny
(``ChunkSizer``); see ``_rebalance`` for how a chunk stuck behind a slow job
is shared out.

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
import os
import pickle
import select
import signal
import time
from typing import Any

from ..errors import WorkerError
from ..execute import KILL_GRACE
from ..model import Attempt, JobResult, Status
from ..outcomes import coordinator_result
from ..signals import signal_name
from ._mp.taskqueue import ResultQueue, TaskQueue
from .chunks import TAKE_REST_AFTER, ChunkSizer
from .helpers import START_METHOD, end_orphans, kept_for_good, open_pools, start_fork_server, stop_helpers
from .ledger import Ledger
from .spool import SpoolDir
from .worker import EXIT_UNCLEAN, NOT_HELD
from .workers import Workers

#: Supervision events: worker deaths and replacements, repaired locks, lost
#: items queued again, leftover processes ended. No handler is configured
#: here; ``taskrunner -v`` shows them.
log = logging.getLogger("taskrunner.local")

__all__ = ["LocalPool"]

#: How long a lock must stay taken, after a worker died, before the
#: coordinator concludes the dead worker held it. Live workers hold these
#: locks for microseconds.
POISON_WAIT = 1.0
#: An attempt nobody holds, while a worker sat idle with the queue usable
#: for this long, was taken off the queue by a worker that then died.
LOST_AFTER = 3.0
#: Upper bound on one wait, so signals and call-job deadlines are seen promptly.
MAX_WAIT = 0.2


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {signal_name(-exitcode)}"
    if exitcode == EXIT_UNCLEAN:
        return "left to be replaced: a call changed its process beyond repair"
    return f"exit code {exitcode}"


class LocalPool:
    """Runs attempts on ``workers`` local processes; see the module docstring.

    >>> with LocalPool(workers=2) as pool:          # doctest: +SKIP
    ...     pool.submit(attempt)
    ...     outcomes = pool.poll(timeout=1.0)       # [(attempt_id, JobResult)]
    """

    def __init__(self, workers: int, import_main: bool = False) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self._ctx: Any = multiprocessing.get_context(START_METHOD)
        # Where messages too big for one atomic pipe write wait (see packetpipe).
        self._spool = SpoolDir()
        self._tasks = TaskQueue(ctx=self._ctx, spool_dir=self._spool.path)
        self._tasks.on_stuck = self._reap_while_stuck
        self._results = ResultQueue(ctx=self._ctx, spool_dir=self._spool.path)
        # Long-lived poll objects (multiprocessing.connection.wait builds a
        # selector per call, which cost more than a tiny job): one for the
        # result pipe, one for it and every worker's sentinel.
        self._result_poller = select.poll()
        self._result_poller.register(self._results._reader.fileno(), select.POLLIN)
        self._poller = select.poll()
        self._poller.register(self._results._reader.fileno(), select.POLLIN)
        self._workers = Workers(
            self._ctx, workers, self._tasks, self._results, self._spool.path, self._poller, import_main
        )
        self._slots = self._workers.slots
        # What is in flight: attempts, the chunk being filled, queue items.
        self._ledger = Ledger()
        self._chunks = ChunkSizer()
        self._timed_out: set[int] = set()
        self._cancelling = False
        self._closed = False
        self._suspect_lost = False
        self._pending: list[tuple[int, JobResult]] = []
        self._queue_usable_since = 0.0
        self._deaths_without_work = 0
        self.crashes = 0
        #: Queue items put so far (each carries a chunk of one or more attempts).
        self.items_sent = 0

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> LocalPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the fork server (if needed) and every worker."""
        open_pools.add(self)
        start_fork_server()
        for slot in range(self.workers):
            self._workers.spawn(slot)

    # -- submitting and collecting ------------------------------------------

    def capacity(self) -> int:
        """How many more attempts to submit now: two chunks a worker, so the
        queue stays short but never runs dry."""
        return max(0, 2 * self.workers * self._chunks.size - len(self._ledger.outstanding))

    def submit(self, attempt: Attempt) -> None:
        """Queue ``attempt`` (in the chunk being filled; ``poll()`` sends a partial
        one). Raises ``pickle.PicklingError``/``TypeError`` if it cannot be sent."""
        payload = pickle.dumps(attempt, protocol=pickle.HIGHEST_PROTOCOL)
        self._ledger.add(attempt, payload)
        if len(self._ledger.batch) >= self._chunks.size:
            self._put_batch()

    def _put_batch(self) -> None:
        if not self._ledger.batch:
            return
        self._tasks.put(self._ledger.seal_batch(time.time()))
        self.items_sent += 1

    def _requeue_item(self, item_id: int) -> None:
        """Submit again the attempts of an item whose worker died before starting them."""
        self._resubmit(self._ledger.take_item(item_id))

    def _resubmit(self, attempt_ids: list[int]) -> None:
        for attempt_id in attempt_ids:
            if not self._cancelling:  # else cancel() records them as never started
                self.submit(self._ledger.outstanding[attempt_id])
        self._put_batch()

    @property
    def spool_path(self) -> str:
        """Where messages too big for a pipe packet (and kept pids) are put."""
        return self._spool.path

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers, by slot."""
        return self._workers.pids()

    def running_count(self) -> int:
        """How many attempts workers hold right now."""
        return len(self._workers.busy())

    def poll(self, timeout: float | None) -> list[tuple[int, JobResult]]:
        """Wait up to ``timeout`` seconds; return outcomes of finished attempts.

        Worker deaths and call-job timeouts are turned into outcomes here too.
        """
        timeout = MAX_WAIT if timeout is None else max(0.0, min(timeout, MAX_WAIT))
        self._put_batch()
        if self._pending:
            timeout = 0.0
        ready = {fd for fd, _ in self._poller.poll(timeout * 1000)}
        outcomes, self._pending = self._pending, []
        outcomes += self._drain()
        outcomes += self._reap_dead(ready)
        self._enforce_call_timeouts()
        self._rebalance()
        if self._suspect_lost:
            self._find_lost()
        return outcomes

    def _drain(self) -> list[tuple[int, JobResult]]:
        outcomes: list[tuple[int, JobResult]] = []
        while self._result_poller.poll(0):
            attempt_id, result = self._results.get()
            attempt = self._ledger.settle(attempt_id)
            if attempt is None:
                continue  # already recorded (e.g. its worker was declared dead)
            if result.attempts != attempt.number:
                result = result.evolve(attempts=attempt.number)
            if result.duration is not None:
                self._chunks.observe(result.duration)
            # A job that finished while we were killing it (timeout, cancel)
            # keeps its real outcome; one we stopped says so itself.
            self._timed_out.discard(attempt_id)
            outcomes.append((attempt_id, result))
        return outcomes

    # -- supervision -------------------------------------------------------

    def _reap_while_stuck(self) -> None:
        """The task queue's lock stays taken: reap (and so repair) dead workers."""
        self._pending += self._reap_dead()

    def _reap_dead(self, ready: set[Any] | None = None) -> list[tuple[int, JobResult]]:
        """Handle every dead worker; with ``ready`` (the fds ``poll()`` saw ready),
        only those whose sentinel fired — asking each worker costs a syscall."""
        outcomes = []
        for slot, process in self._workers.exited(ready):
            # Results the dead worker sent before dying are in the pipe by now.
            outcomes += self._drain()
            outcomes += self._handle_death(slot, process)
        return outcomes

    def _handle_death(self, slot: int, process: Any) -> list[tuple[int, JobResult]]:
        item_id, attempt_id = self._workers.retire(slot, process)
        log.info(
            "worker w%d-%d died (%s)%s", slot, process.pid, _exit_reason(process.exitcode),
            "" if attempt_id == NOT_HELD else f" holding attempt {attempt_id}",
        )
        end_orphans()
        outcomes = self._repair_lock(self._results._wlock) if self._results._wlock else []
        outcomes += self._repair_lock(self._tasks._cond)
        if item_id == NOT_HELD:
            # It may have died inside get() holding the read lock, or with an
            # item taken but not yet published in its slot.
            outcomes += self._repair_lock(self._tasks._rlock)
            self._suspect_lost = True
            self._deaths_without_work += 1
        else:
            # It never reached task_done(); account for it.
            self._task_done_for_dead()
            if attempt_id != NOT_HELD:
                attempt = self._ledger.settle(attempt_id)
                if attempt is not None:
                    outcomes.append((attempt_id, self._death_result(attempt, slot, process)))
                self._deaths_without_work = 0
            self._requeue_item(item_id)  # the rest of its chunk never started
        if not self._closed and not self._cancelling:
            if self._deaths_without_work > 3 * self.workers + 10:
                raise WorkerError("workers keep dying before running any job")
            self._workers.spawn(slot)
            log.info("worker slot %d: replacement w%d-%d started", slot, slot, self._workers.procs[slot].pid)
        return outcomes

    def _death_result(self, attempt: Attempt, slot: int, process: Any) -> JobResult:
        started = self._slots.started[slot] or None
        finished = time.time()
        if attempt.attempt_id in self._timed_out:
            self._timed_out.discard(attempt.attempt_id)
            status, error = Status.TIMEOUT, f"timed out after {attempt.job.timeout:g}s; worker killed and replaced"
        elif self._cancelling:
            status, error = Status.CANCELLED, "cancelled while running; worker killed"
        else:
            self.crashes += 1
            status = Status.CRASHED
            error = f"worker w{slot}-{process.pid} died ({_exit_reason(process.exitcode)}) while running this job"
        return coordinator_result(
            attempt,
            status,
            error,
            started=started,
            finished=finished,
            duration=None if started is None else finished - started,
            worker=f"w{slot}-{process.pid}",
        )

    def _task_done_for_dead(self) -> None:
        try:
            self._tasks.task_done()
        except ValueError:
            pass  # nothing was owed after all

    def _repair_lock(self, lock: Any) -> list[tuple[int, JobResult]]:
        """Release ``lock`` if a dead worker left it taken.

        Live processes hold these locks only for an atomic pipe operation, so
        a lock still taken after POISON_WAIT (while we keep draining results,
        which unblocks any live writer) belongs to the dead. Safe to release:
        every message is written in one atomic write, none is half-sent.
        """
        outcomes: list[tuple[int, JobResult]] = []
        deadline = time.monotonic() + POISON_WAIT
        while time.monotonic() < deadline:
            if lock.acquire(timeout=0.05):
                lock.release()
                return outcomes
            outcomes += self._drain()
        lock.release()
        log.warning("released a queue lock a dead worker left taken (%r)", lock)
        self._queue_usable_since = time.time()
        return outcomes

    def _find_lost(self) -> None:
        """Queue again the items a worker took off the queue and then died
        before publishing (so none of their attempts started).

        An item is lost when nobody holds it although, for LOST_AFTER, it
        was queued, the queue was usable and some worker sat idle: a live
        idle worker takes a queued item within milliseconds. (The worker may
        have gone idle after the item was queued: all were busy then.)
        """
        now = time.time()
        held = set(self._slots.item[:])
        unheld = [item_id for item_id in self._ledger.items if item_id not in held]
        if not unheld:
            self._suspect_lost = False
            return
        idle_since = [
            self._slots.idle_since[slot]
            for slot in range(self.workers)
            if self._workers.procs[slot] is not None and self._slots.item[slot] == NOT_HELD
        ]
        if not idle_since:
            return
        for item_id in unheld:
            since = max(self._ledger.items[item_id].queued_at, self._queue_usable_since, min(idle_since))
            if now - since > LOST_AFTER:
                log.warning("queue item %d was taken by a worker that died before starting it; queued again", item_id)
                self._task_done_for_dead()
                self._requeue_item(item_id)

    def _rebalance(self) -> None:
        """Give an idle worker the not-yet-started attempts of a busy worker's chunk.

        Without this a chunk would hold its later attempts hostage behind a
        slow one while another worker sits idle (and two jobs that must run
        at the same time, a server and its client, could wait forever). Runs
        only when nothing is queued, for a worker whose attempt has run past
        TAKE_REST_AFTER; the rest keeps its order. (Chunks of tiny jobs are
        ~CHUNK_SECONDS of work, so they never need this.) The worker claims
        each attempt under its claim lock, so an attempt is run by exactly
        one worker.
        """
        if self._ledger.batch or self._cancelling:
            return
        live = self._workers.live()
        holding = {self._slots.item[slot]: slot for slot in live if self._slots.item[slot] != NOT_HELD}
        if len(holding) == len(live) or any(item_id not in holding for item_id in self._ledger.items):
            return  # no worker idle, or something still queued for it
        now = time.time()
        for item_id, slot in holding.items():
            stuck = self._slots.held[slot] != NOT_HELD and now - self._slots.started[slot] > TAKE_REST_AFTER
            if item_id not in self._ledger.items or not stuck or not self._workers.claim_locks[slot].acquire(timeout=0.01):
                continue
            try:
                if self._slots.item[slot] != item_id:
                    continue  # it finished the item meanwhile
                claimed, limit = self._slots.claimed[slot], self._slots.limit[slot]
                self._slots.limit[slot] = claimed
            finally:
                self._workers.claim_locks[slot].release()
            taken = self._ledger.take_rest(item_id, claimed, limit)
            if taken:
                self._resubmit(taken)
                return

    def _enforce_call_timeouts(self) -> None:
        """Kill (and later replace) a worker whose call job is past its timeout.

        Commands enforce their own timeout in the worker; a Python call
        cannot be interrupted safely, so its worker goes.
        """
        now = time.time()
        for slot in range(self.workers):
            attempt_id = self._slots.held[slot]
            queued = self._ledger.outstanding.get(attempt_id)
            job = queued.job if queued else None
            if job is None or job.is_command or job.timeout is None or attempt_id in self._timed_out:
                continue
            if now - self._slots.started[slot] > job.timeout:
                self._timed_out.add(attempt_id)
                self._workers.kill_slot(slot)

    # -- stopping ------------------------------------------------------------

    def cancel(self) -> list[tuple[int, JobResult]]:
        """Stop everything outstanding; return its (mostly ``cancelled``) outcomes.

        Queued attempts are skipped by the workers; running ones get SIGTERM
        (commands: their process group; calls: ``JobCancelled`` raised in
        them) and, after a grace period, SIGKILL with their worker.
        """
        self._cancelling = True
        self._slots.stopping.value = 1
        self._ledger.batch.clear()
        busy = self._workers.busy()
        running_at_start = {self._slots.held[slot] for slot in busy}
        for slot in busy:
            process = self._workers.procs[slot]
            if process is not None:
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
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
        while self.running_count() and time.monotonic() < deadline:
            outcomes += self.poll(0.05)
        return outcomes

    def close(self) -> None:
        """Join the queue, send one sentinel per worker, and reap every worker."""
        if self._closed:
            return
        self._closed = True
        try:
            self._join_tasks()
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
            open_pools.discard(self)
            if not open_pools:
                self._release_semaphores()
                stop_helpers()

    def _release_semaphores(self) -> None:
        """Drop every reference to the pool's semaphores (queues, claim locks,
        and the worker Process objects whose arguments hold them), so each is
        unlinked and unregistered now: the resource tracker, stopped next,
        would otherwise report them as leaked."""
        self._workers.release()
        self._tasks = self._results = None  # type: ignore[assignment]
        gc.collect()

    def _join_tasks(self) -> None:
        """``join()`` the queue once every owed ``task_done()`` is accounted for.

        Called with nothing outstanding. A worker that died between clearing
        its slot and calling ``task_done()`` owes one nobody will pay; once
        all live workers have idled a moment, the coordinator pays it.
        """
        deadline = time.monotonic() + 10.0
        quiet_since = None
        while self._tasks.unfinished() > 0 and time.monotonic() < deadline:
            self._drain()
            self._reap_dead()
            if self._workers.busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.5:
                for _ in range(self._tasks.unfinished()):
                    self._task_done_for_dead()
            time.sleep(0.01)
        if self._tasks.unfinished() == 0:
            self._tasks.join()

    def stop_starting(self) -> None:
        """Start no more attempts, also none of a chunk a worker already holds
        (workers check the flag before each); safe in a signal handler."""
        self._slots.stopping.value = 1

    def kill_now(self) -> None:
        """SIGKILL every job and worker; safe to call from a signal handler.

        Only sends signals: the deaths are then reaped by ``poll()`` as
        ``cancelled`` outcomes.
        """
        self._cancelling = True
        self._slots.stopping.value = 1
        for slot in range(self.workers):
            self._workers.kill_slot(slot)

    def kill(self) -> None:
        """SIGKILL every worker and every command they run (the emergency exit)."""
        self._workers.kill_all()
