"""The worker process: ``get()`` a chunk of attempts, run each and put its result, ``task_done()``.

What a worker shares with the coordinator, and why:

- ``tasks`` (JoinableQueue): ``(item_id, [(attempt_id, pickled Attempt), ...])``
  items — a chunk of one or more attempts, run in order, with one
  ``task_done()`` for the whole item — or ``None``, the sentinel that tells one
  worker to exit.
- ``results`` (ResultQueue, a SimpleQueue written synchronously):
  ``(attempt_id, JobResult)``, sent as soon as each attempt ends.
- ``WorkerSlots``: lock-free shared arrays in which each worker publishes the
  attempt it holds and its command's process group, so the coordinator knows
  what a dead worker was doing without asking it.

A worker waits for work *without* holding the queue's read lock (it waits on
the pipe, then takes an item with ``get(block=False)``), so killing an idle
worker almost never leaves the lock held; the coordinator repairs the rare
case (see ``pool.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from multiprocessing.connection import wait
from typing import Any

from ...execution.callvalue import packed_exception
from ...execution.execute import AttemptControl, execute, track_signal_changes
from ...model import Attempt, JobResult, Status
from ..workersetup import WorkerSetup
from .reaper import (
    become_subreaper,
    end_processes,
    keep_processes,
    own_children,
    reap_zombies,
)

__all__ = ["EXIT_UNCLEAN", "NOT_HELD", "WorkerSlots", "worker_main"]

NOT_HELD = -1


class WorkerSlots:
    """Per-worker shared state, one slot per worker position (no locks).

    ``item[i]``: queue item worker *i* has taken and not finished, or -1.
    ``held[i]``: attempt id (of that item) worker *i* is running, or -1.
    ``claimed[i]`` / ``limit[i]``: how many of the item's attempts worker *i*
    has started, and up to which index it may go on (the coordinator lowers
    it to give the rest to an idle worker). Both change under the worker's
    claim lock.
    ``pgid[i]``: process group of the command it runs, or 0.
    ``started[i]`` / ``idle_since[i]``: when it took its attempt / became idle
    (infinity while a new worker starts).
    ``stopping``: set by the coordinator; workers then skip queued attempts.
    """

    def __init__(self, ctx: Any, size: int) -> None:
        self.size = size
        self.item = ctx.Array("q", [NOT_HELD] * size, lock=False)
        self.held = ctx.Array("q", [NOT_HELD] * size, lock=False)
        self.claimed = ctx.Array("q", size, lock=False)
        self.limit = ctx.Array("q", size, lock=False)
        self.pgid = ctx.Array("q", size, lock=False)
        self.started = ctx.Array("d", size, lock=False)
        self.idle_since = ctx.Array("d", size, lock=False)
        self.stopping = ctx.Value("b", 0, lock=False)


# The attempt running in this worker, for the SIGTERM handler and the
# parent watcher; and the lock held while a command starts (see _watch_parent).
_current: AttemptControl | None = None
_spawn_lock = threading.Lock()
_stopping: Any = None  # the coordinator's stop flag (WorkerSlots.stopping)

#: Exit status of a worker that left to be replaced (a call it ran left the
#: process in a state it cannot undo).
EXIT_UNCLEAN = 75
#: A worker's exit status after ``max_tasks_per_child`` attempts: replaced, not crashed.
EXIT_RETIRED = 76


def _on_sigterm(signum: int, frame: Any) -> None:
    # The coordinator raises its stop flag before it sends SIGTERM to mean
    # "cancel what you are running" (an idle worker then has nothing to do).
    # A SIGTERM without it comes from someone else: die of it, as any process
    # would, and the coordinator records the job as crashed, not cancelled.
    if _stopping is not None and _stopping.value:
        if _current is not None:
            _current.cancel()
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _ignore(signum: int, frame: Any) -> None:
    """A no-op handler: unlike SIG_IGN it is not inherited by the commands we exec."""


def _watch_parent(sentinel: int) -> None:
    """Exit, killing the running command's group, once the coordinator is gone.

    Taking the spawn lock for good first means the main thread cannot start
    the next job between our kill and our exit (it would be orphaned).
    Killing our own group takes us and anything a call job started.
    """
    wait([sentinel])
    _spawn_lock.acquire()
    if _current is not None:
        _current.kill()
    os.killpg(0, signal.SIGKILL)


def _next_item(tasks: Any) -> Any:
    """Block until an item can be taken, holding the read lock only to take it."""
    while True:
        wait([tasks.reader])
        try:
            return tasks.get(block=False)
        except queue.Empty:
            # Another worker holds the lock or took the item; wait again.
            time.sleep(0.0005)


def worker_main(
    slot: int,
    tasks: Any,
    results: Any,
    slots: WorkerSlots,
    claim_lock: Any,
    ignored: tuple[int, ...] = (),
    spool_dir: str = "",
    setup: WorkerSetup | None = None,
) -> None:
    """Entry point of a worker process (runs until it gets the ``None`` sentinel).

    ``ignored``: signals to leave ignored for the jobs (``inherited_ignores``).
    ``spool_dir``: where to list the processes ``keep_children`` jobs keep.
    ``setup``: the initializer to run first (if it fails, every attempt
    here fails saying so) and how many attempts to take before retiring.
    """
    global _current, _stopping
    _stopping = slots.stopping
    # Ctrl-C reaches the whole foreground process group; the coordinator decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN if signal.SIGINT in ignored else _ignore)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # The fork server ignores SIGHUP; jobs get it back unless the coordinator ignored it too.
    signal.signal(signal.SIGHUP, signal.SIG_IGN if signal.SIGHUP in ignored else signal.SIG_DFL)
    # Own process group: killing the group also takes whatever a call job spawned.
    os.setpgid(0, 0)
    # Orphans among our jobs' descendants become our children (see reaper).
    become_subreaper()
    # Handlers are set: from here on, calls that change one get it put back.
    track_signal_changes()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_watch_parent, args=(parent.sentinel,), daemon=True).start()
    name = f"w{slot + 1}-{os.getpid()}"  # the 1-based slot, as TASKRUNNER_SLOT and {%} say
    init_failure = setup.initialize() if setup is not None else None
    max_tasks = setup.max_tasks if setup is not None else None
    taken = 0
    slots.idle_since[slot] = time.time()
    kept: set[int] = set()  # what keep_children jobs left running here

    def publish_pgid(pgid: int) -> None:
        slots.pgid[slot] = pgid

    while True:
        item = _next_item(tasks)
        if item is None:
            _task_done(tasks)
            break
        item_id, entries = item
        with claim_lock:
            slots.item[slot] = item_id
            slots.claimed[slot] = 0
            slots.limit[slot] = len(entries)
        for index, (attempt_id, payload) in enumerate(entries):
            if slots.stopping.value:
                break  # the coordinator records the rest as cancelled
            with claim_lock:
                if index >= slots.limit[slot]:
                    break  # the coordinator gave the rest to an idle worker
                slots.claimed[slot] = index + 1
                slots.started[slot] = time.time()
                slots.held[slot] = attempt_id
            control = _current = AttemptControl(on_spawn=publish_pgid, spawn_lock=_spawn_lock)
            if init_failure is not None:
                now = time.time()
                result = JobResult("?", Status.FAILED, error=init_failure, started=now, finished=now, worker=name)
                keep_children = False
            else:
                result, keep_children = _run(payload, name, control, slot + 1)
            taken += 1
            _current = None
            # Before the result goes out: a job recorded as ended has ended,
            # daemons and new sessions included (we are their subreaper).
            leftovers = [pid for pid in own_children() if pid not in kept]
            if leftovers and keep_children:
                kept.update(leftovers)
                keep_processes(leftovers, spool_dir)
            elif leftovers:
                end_processes(leftovers)
                reap_zombies()
            results.put((attempt_id, result))
            slots.held[slot] = NOT_HELD
            if control.unclean is not None:
                # The next call would not start clean: a fresh worker takes
                # over (the coordinator queues the rest of the item again).
                os._exit(EXIT_UNCLEAN)
            if max_tasks is not None and taken >= max_tasks:
                os._exit(EXIT_RETIRED)  # max_tasks_per_child: replaced the same way
        # Order matters: clear the slot before task_done(), so a worker that
        # dies in between owes a task_done() the coordinator can see is owed.
        slots.item[slot] = NOT_HELD
        slots.idle_since[slot] = time.time()
        _task_done(tasks)
    results.close()


def _task_done(tasks: Any) -> None:
    try:
        tasks.task_done()
    except ValueError:
        # The coordinator already paid this one for us (it does so when it
        # believes our task_done() is lost); the count is right either way.
        pass


def _run(payload: bytes, name: str, control: AttemptControl, slot: int) -> tuple[JobResult, bool]:
    """The attempt's result, and whether its job keeps its children."""
    try:
        attempt: Attempt = pickle.loads(payload)
    except Exception as error:  # noqa: BLE001 - e.g. a function only __main__ had
        failed = JobResult(
            name="?",
            status=Status.FAILED,
            # The error itself travels too: an Executor's future raises it.
            value=packed_exception(error),
            error=f"worker could not load the job: {type(error).__name__}: {error}",
            worker=name,
        )
        return failed, False
    return execute(attempt, name, control, slot, own_process=True), attempt.job.keep_children
