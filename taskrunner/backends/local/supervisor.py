"""The pool's supervisor: worker deaths and stuck work become outcomes and repairs.

When a worker dies, the supervisor records the attempt it held (``crashed``,
or ``timeout``/``cancelled`` when the coordinator killed it on purpose),
pays the ``task_done()`` it owed, queues again the rest of its chunk,
releases any queue lock it left taken, ends what its jobs left behind, and
starts a replacement in its slot. It also finds queue items a worker took and
died before publishing, gives an idle worker the unstarted rest of a chunk
stuck behind a slow job, and kills the worker of a call job past its timeout.

It works on the pool's ``Workers`` and ``Ledger`` and changes nothing else:
what the pool must queue again comes back as values (``Death.requeue``, the
attempt ids ``find_lost`` and ``rebalance`` return). It reads the result pipe
through ``drain`` (the pool's), because results must keep flowing while it
waits for a dead worker's lock.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from ...errors import WorkerError
from ...execution.memwatch import format_size, process_rss
from ...model import Attempt, JobResult, Status
from ..outcomes import coordinator_result
from ..outcomes import exit_reason as process_exit_reason
from .chunks import TAKE_REST_AFTER
from .helpers import end_orphans
from .ledger import Ledger
from .worker import EXIT_RETIRED, EXIT_UNCLEAN, NOT_HELD
from .workers import Workers

__all__ = ["LOST_AFTER", "POISON_WAIT", "Death", "Supervisor"]

log = logging.getLogger("taskrunner.local")

#: How long a lock must stay taken, after a worker died, before the
#: coordinator concludes the dead worker held it. Live workers hold these
#: locks for microseconds.
POISON_WAIT = 1.0
#: An attempt nobody holds, while a worker sat idle with the queue usable
#: for this long, was taken off the queue by a worker that then died.
LOST_AFTER = 3.0

Outcomes = list[tuple[int, JobResult]]


@dataclasses.dataclass
class Death:
    """A worker that died: the outcomes it leaves (the attempt it held, as
    ``crashed``/``timeout``/``cancelled``, and results drained meanwhile) and
    the attempts of its chunk that never started, to queue again."""

    slot: int
    pid: int
    reason: str
    outcomes: Outcomes
    requeue: list[int]


def exit_reason(exitcode: int | None) -> str:
    """Why a worker process ended, in a few words."""
    if exitcode == EXIT_UNCLEAN:
        return "left to be replaced: a call changed its process beyond repair"
    if exitcode == EXIT_RETIRED:
        return "retired after max_tasks_per_child attempts"
    return process_exit_reason(exitcode)


class Supervisor:
    """Watches one pool's workers (see the module docstring)."""

    def __init__(
        self,
        workers: Workers,
        ledger: Ledger,
        tasks: Any,
        results: Any,
        drain: Callable[[], Outcomes],
    ) -> None:
        self._workers = workers
        self._ledger = ledger
        self._tasks = tasks
        self._results = results
        self._drain = drain
        #: Call attempts whose worker we killed for their timeout / their memory limit.
        self.timed_out: set[int] = set()
        self.over_memory: set[int] = set()
        #: Set while the pool cancels: deaths are then ``cancelled``, not replaced.
        self.cancelling = False
        #: Cleared when the pool closes: dead workers are no longer replaced.
        self.replacing = True
        #: Workers that died while running an attempt.
        self.crashes = 0
        self._suspect_lost = False
        self._queue_usable_since = 0.0
        self._deaths_without_work = 0

    def reap(self, ready: set[Any] | None = None) -> list[Death]:
        """Handle every dead worker; with ``ready`` (the fds ``poll()`` saw ready),
        only those whose sentinel fired — asking each worker costs a syscall;
        then start a replacement for each."""
        deaths = []
        for slot, process in self._workers.exited(ready):
            # Results the dead worker sent before dying are in the pipe by now.
            drained = self._drain()
            death = self._handle_death(slot, process)
            death.outcomes[:0] = drained
            deaths.append(death)
        return deaths

    def _handle_death(self, slot: int, process: Any) -> Death:
        item_id, attempt_id = self._workers.retire(slot, process)
        log.info(
            "worker w%d-%d died (%s)%s", slot + 1, process.pid, exit_reason(process.exitcode),
            "" if attempt_id == NOT_HELD else f" holding attempt {attempt_id}",
        )
        end_orphans()
        requeue: list[int] = []
        outcomes = []
        condition_lock, read_lock = self._tasks.locks()
        for lock in [*self._results.locks(), condition_lock]:
            outcomes += self._repair_lock(lock)
        if item_id == NOT_HELD:
            # It may have died inside get() holding the read lock, or with an
            # item taken but not yet published in its slot.
            outcomes += self._repair_lock(read_lock)
            self._suspect_lost = True
            self._deaths_without_work += 1
        else:
            # It never reached task_done(); account for it.
            self.pay_task_done()
            if attempt_id != NOT_HELD:
                attempt = self._ledger.settle(attempt_id)
                if attempt is not None:
                    outcomes.append((attempt_id, self._death_result(attempt, slot, process)))
                self._deaths_without_work = 0
            requeue = self._ledger.take_item(item_id)  # the rest of its chunk never started
        if self.replacing and not self.cancelling:
            if self._deaths_without_work > 3 * self._workers.count + 10:
                raise WorkerError("workers keep dying before running any job")
            self._workers.spawn(slot)
            log.info("worker slot %d: replacement w%d-%d started", slot + 1, slot + 1, self._workers.procs[slot].pid)
        return Death(slot, process.pid, exit_reason(process.exitcode), outcomes, requeue)

    def _death_result(self, attempt: Attempt, slot: int, process: Any) -> JobResult:
        started = self._workers.slots.started[slot] or None
        finished = time.time()
        if attempt.attempt_id in self.over_memory:
            self.over_memory.discard(attempt.attempt_id)
            limit = format_size(attempt.job.memory_limit or 0)
            status, error = Status.FAILED, f"memory limit {limit} exceeded; worker killed and replaced"
        elif attempt.attempt_id in self.timed_out:
            self.timed_out.discard(attempt.attempt_id)
            status, error = Status.TIMEOUT, f"timed out after {attempt.job.timeout:g}s; worker killed and replaced"
        elif self.cancelling:
            status, error = Status.CANCELLED, "cancelled while running; worker killed"
        else:
            self.crashes += 1
            status = Status.CRASHED
            error = f"worker w{slot + 1}-{process.pid} died ({exit_reason(process.exitcode)}) while running this job"
        return coordinator_result(
            attempt,
            status,
            error,
            started=started,
            finished=finished,
            duration=None if started is None else finished - started,
            worker=f"w{slot + 1}-{process.pid}",
        )

    def pay_task_done(self) -> None:
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

    def find_lost(self) -> list[int]:
        """The attempts to queue again of the items a worker took off the queue and then died
        before publishing (so none of their attempts started).

        An item is lost when nobody holds it although, for LOST_AFTER, it
        was queued, the queue was usable and some worker sat idle: a live
        idle worker takes a queued item within milliseconds. (The worker may
        have gone idle after the item was queued: all were busy then.)
        """
        if not self._suspect_lost:
            return []
        now = time.time()
        held = set(self._workers.slots.item[:])
        unheld = [item_id for item_id in self._ledger.items if item_id not in held]
        if not unheld:
            self._suspect_lost = False
            return []
        idle_since = [
            self._workers.slots.idle_since[slot]
            for slot in range(self._workers.count)
            if self._workers.procs[slot] is not None and self._workers.slots.item[slot] == NOT_HELD
        ]
        if not idle_since:
            return []
        lost: list[int] = []
        for item_id in unheld:
            since = max(self._ledger.items[item_id].queued_at, self._queue_usable_since, min(idle_since))
            if now - since > LOST_AFTER:
                log.warning("queue item %d was taken by a worker that died before starting it; queued again", item_id)
                self.pay_task_done()
                lost += self._ledger.take_item(item_id)
        return lost

    def rebalance(self) -> list[int]:
        """The attempts to queue again for an idle worker:  the not-yet-started attempts of a busy worker's chunk.

        Without this a chunk would hold its later attempts hostage behind a
        slow one while another worker sits idle (and two jobs that must run
        at the same time, a server and its client, could wait forever). Runs
        only when nothing is queued, for a worker whose attempt has run past
        TAKE_REST_AFTER; the rest keeps its order. (Chunks of tiny jobs are
        ~CHUNK_SECONDS of work, so they never need this.) The worker claims
        each attempt under its claim lock, so an attempt is run by exactly
        one worker.
        """
        if self._ledger.batch or self.cancelling:
            return []
        live = self._workers.live()
        holding = {self._workers.slots.item[slot]: slot for slot in live if self._workers.slots.item[slot] != NOT_HELD}
        if len(holding) == len(live) or any(item_id not in holding for item_id in self._ledger.items):
            return []  # no worker idle, or something still queued for it
        now = time.time()
        for item_id, slot in holding.items():
            stuck = self._workers.slots.held[slot] != NOT_HELD and now - self._workers.slots.started[slot] > TAKE_REST_AFTER
            if item_id not in self._ledger.items or not stuck or not self._workers.claim_locks[slot].acquire(timeout=0.01):
                continue
            try:
                if self._workers.slots.item[slot] != item_id:
                    continue  # it finished the item meanwhile
                claimed, limit = self._workers.slots.claimed[slot], self._workers.slots.limit[slot]
                self._workers.slots.limit[slot] = claimed
            finally:
                self._workers.claim_locks[slot].release()
            taken = self._ledger.take_rest(item_id, claimed, limit)
            if taken:
                return taken
        return []

    def enforce_call_limits(self) -> None:
        """Kill (and later replace) a worker whose call job is past its timeout
        or its memory limit (the worker's resident size).

        Commands enforce their own limits in the worker; a Python call
        cannot be interrupted safely, so its worker goes.
        """
        now = time.time()
        for slot in range(self._workers.count):
            attempt_id = self._workers.slots.held[slot]
            queued = self._ledger.outstanding.get(attempt_id)
            job = queued.job if queued else None
            if job is None or job.is_command or attempt_id in self.timed_out or attempt_id in self.over_memory:
                continue
            if job.timeout is not None and now - self._workers.slots.started[slot] > job.timeout:
                self.timed_out.add(attempt_id)
                self._workers.kill_slot(slot)
            elif job.memory_limit is not None and self._rss_of(slot) > job.memory_limit:
                self.over_memory.add(attempt_id)
                self._workers.kill_slot(slot)

    def release(self) -> None:
        """Drop the queues (the pool is closed), so their semaphores can go."""
        self._tasks = self._results = None

    def _rss_of(self, slot: int) -> int:
        process = self._workers.procs[slot]
        return 0 if process is None else process_rss(process.pid)

    def join_tasks(self) -> None:
        """``join()`` the queue once every owed ``task_done()`` is accounted for.

        Called with nothing outstanding. A worker that died between clearing
        its slot and calling ``task_done()`` owes one nobody will pay; once
        all live workers have idled a moment, the coordinator pays it.
        """
        deadline = time.monotonic() + 10.0
        quiet_since = None
        while self._tasks.unfinished() > 0 and time.monotonic() < deadline:
            self._drain()
            self.reap()  # nothing is outstanding: nothing to queue again
            if self._workers.busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.5:
                for _ in range(self._tasks.unfinished()):
                    self.pay_task_done()
            time.sleep(0.01)
        if self._tasks.unfinished() == 0:
            self._tasks.join()
