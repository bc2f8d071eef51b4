"""The worker processes of one pool, one per slot: start, find the dead, kill.

Mechanics only: what a death means (the attempt it held, the queue locks it
may have left taken, the rest of its chunk) is the pool's business. Each
slot has a shared record (``WorkerSlots``) its worker publishes into, a claim
lock, and the ``Process``; every started worker's sentinel is registered
with the pool's poller, so a death wakes the coordinator at once.
"""

from __future__ import annotations

import math
import os
import select
import signal
from typing import Any

from ...errors import WorkerError
from ...owner import Owner
from ...signals import inherited_ignores, signal_group
from ..mainmodule import hidden_main
from ..workersetup import WorkerSetup
from ._mp import forget_in_forked_children
from .reaper import kept_processes
from .worker import NOT_HELD, WorkerSlots, worker_main

__all__ = ["Workers"]


class Workers:
    """``count`` worker slots of a pool whose queues are ``tasks``/``results``;
    ``setup``: what each worker runs first (see ``workersetup``)."""

    def __init__(
        self, ctx: Any, count: int, tasks: Any, results: Any, spool_path: str, poller: Any,
        setup: WorkerSetup | None = None,
    ) -> None:
        self.count = count
        self.slots = WorkerSlots(ctx, count)
        self.procs: list[Any] = [None] * count
        # One per worker: held while it claims the next attempt of its chunk,
        # or while the coordinator takes the unclaimed rest for an idle worker.
        self.claim_locks: list[Any] = [None] * count
        self._ctx = ctx
        self._tasks = tasks
        self._results = results
        self._spool_path = spool_path
        self._poller = poller
        self._ignores = inherited_ignores()
        self._setup = setup
        self._owner = Owner()
        self._started = False

    def start_all(self) -> None:
        """Start a worker in every slot, the first time only (later deaths are
        replaced one by one with ``spawn``)."""
        if not self._started:
            self._started = True
            for slot in range(self.count):
                self.spawn(slot)

    def spawn(self, slot: int) -> None:
        """Start a (new) worker in ``slot``."""
        self.slots.held[slot] = NOT_HELD
        self.slots.pgid[slot] = 0
        # Not idle until the new worker says so: a worker still starting up
        # cannot take queued items, so it must not make them look lost.
        self.slots.idle_since[slot] = math.inf
        # A fresh lock: one its dead predecessor held would stay taken.
        self.claim_locks[slot] = self._ctx.Lock()
        process = self._ctx.Process(
            target=worker_main,
            args=(slot, self._tasks, self._results, self.slots, self.claim_locks[slot], self._ignores,
                  self._spool_path, self._setup),
            name=f"taskrunner-worker-{slot}",
            # Not daemonic, so that a call may start processes of its own (a
            # multiprocessing.Pool, an executor). No worker outlives the
            # coordinator all the same: it watches its parent and kills its own
            # group when the parent is gone (worker._watch_parent).
            daemon=False,
        )
        try:
            with hidden_main():  # workers never import the calling script (see mainmodule)
                process.start()
        except OSError as error:
            raise WorkerError(f"cannot start a worker process: {error}") from error
        self.procs[slot] = process
        forget_in_forked_children(process)
        self._poller.register(process.sentinel, select.POLLIN)

    def pids(self) -> list[int]:
        """Process ids of the live workers, by slot."""
        return [p.pid for p in self.procs if p is not None and p.exitcode is None]

    def processes(self) -> dict[int, Any]:
        """The live workers' ``Process`` objects by pid (a snapshot: any thread may ask)."""
        return {p.pid: p for p in list(self.procs) if p is not None and p.exitcode is None}

    def busy(self) -> list[int]:
        """The slots whose worker holds an attempt."""
        return [slot for slot in range(self.count) if self.slots.held[slot] != NOT_HELD]

    def running(self) -> list[tuple[int, str, float | None]]:
        """(attempt id, worker name, when it started) of each attempt a worker holds, by slot."""
        found: list[tuple[int, str, float | None]] = []
        for slot in range(self.count):
            attempt_id, process = self.slots.held[slot], self.procs[slot]
            if attempt_id != NOT_HELD and process is not None:
                found.append((attempt_id, f"w{slot + 1}-{process.pid}", self.slots.started[slot]))
        return found

    def live(self) -> list[int]:
        """The slots with a worker process."""
        return [slot for slot in range(self.count) if self.procs[slot] is not None]

    def exited(self, ready: set[Any] | None = None) -> list[tuple[int, Any]]:
        """``(slot, process)`` of each worker that has ended; with ``ready``
        (the fds a poll saw ready) only those whose sentinel fired — asking
        each process costs a system call."""
        found = []
        for slot, process in enumerate(self.procs):
            if process is None or (ready is not None and process.sentinel not in ready):
                continue
            if process.exitcode is not None:
                found.append((slot, process))
        return found

    def retire(self, slot: int, process: Any) -> tuple[int, int]:
        """Forget a dead worker (after killing what its job left in its
        groups); return the (item, attempt) it held (``NOT_HELD``: none)."""
        held = self.slots.item[slot], self.slots.held[slot]
        self.kill_slot(slot)
        process.join()
        self._poller.unregister(process.sentinel)
        self.procs[slot] = None
        self.slots.item[slot] = self.slots.held[slot] = NOT_HELD
        self.slots.pgid[slot] = 0
        return held

    def ask_to_cancel(self) -> set[int]:
        """SIGTERM every busy worker (the coordinator's stop flag being set, it
        cancels its job and starts no other); the attempt ids they held."""
        busy = self.busy()
        for slot in busy:
            process = self.procs[slot]
            if process is not None:
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        return {self.slots.held[slot] for slot in busy}

    def kill_slot(self, slot: int) -> None:
        """SIGKILL the command a worker runs and the worker's own group (itself
        and whatever a call job started). Only sends signals."""
        signal_group(self.slots.pgid[slot], signal.SIGKILL)
        process = self.procs[slot]
        if process is not None:
            signal_group(process.pid, signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL every worker and every command they run, and reap them
        (in a child forked from the coordinator: nothing, they are not its own)."""
        if not self._owner.here:
            return
        for slot, process in enumerate(self.procs):
            if process is None:
                continue
            self.kill_slot(slot)
            process.join(1.0)
            self.procs[slot] = None

    def kept(self) -> set[int]:
        """Processes ``keep_children`` jobs of these workers kept running."""
        return kept_processes(self._spool_path)

    def release(self) -> None:
        """Drop the Process objects and claim locks (their semaphores with them)."""
        for process in self.procs:
            if process is not None:
                process.close()
        self.procs = [None] * self.count
        self.claim_locks = [None] * self.count
        self._tasks = self._results = None

