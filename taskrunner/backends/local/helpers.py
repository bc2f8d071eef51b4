"""multiprocessing's helper processes, and what dead workers leave behind.

The fork server (started early, while the job file loads) and the resource
tracker are multiprocessing's; the pool stops and waits for them when the
last pool of the process closes, so no process of a run outlives it. The
fork server is also the subreaper of whatever the jobs of a dead worker left
running (see ``reaper``): ``end_orphans`` ends it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from multiprocessing import forkserver
from typing import Any, Protocol

from .reaper import children, end_processes, kept_processes

__all__ = ["START_METHOD", "claim_helpers", "end_orphans", "kept_for_good", "open_pools", "pool_closes", "pool_opens",
           "start_fork_server", "stop_helpers"]

log = logging.getLogger("taskrunner.local")

#: Chosen explicitly (fork with live threads is deprecated from Python 3.12):
#: workers start from a clean, preloaded server, not a copy of the coordinator.
START_METHOD = "forkserver"

#: Held while a pool joins or leaves ``open_pools`` and while the helpers
#: start or stop. Pools open and close in different threads (an Executor
#: dropped without shutdown closes its pool from its own thread while the
#: program opens the next one): without it the closing pool, seeing no pool
#: open, stopped the fork server the new pool had just started and cleared
#: its address, and the new pool's workers could not start.
helpers_lock = threading.RLock()


def start_fork_server() -> None:
    """Start multiprocessing's fork server (if it is not running), preloading
    the worker code, with group signals ignored. Returns before it is ready:
    calling this early lets it start while the coordinator does other work.

    It lives in the coordinator's process group, and until it has imported
    its preload modules a Ctrl-C would kill it with a traceback. Ignored
    dispositions survive exec, so it starts immune; a signal sent in these
    few milliseconds is lost (press Ctrl-C again).
    """
    multiprocessing.get_context(START_METHOD).set_forkserver_preload(["taskrunner.backends.local.forkserver_setup"])
    with helpers_lock:
        claim_helpers()
        if threading.current_thread() is not threading.main_thread():
            forkserver.ensure_running()
            return
        group_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in group_signals}
        try:
            forkserver.ensure_running()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def pool_opens(pool: Any) -> None:
    """``pool`` is open: the helpers run (started if need be) until it closes."""
    with helpers_lock:
        open_pools.add(pool)
        start_fork_server()


def pool_closes(pool: Any, release: Callable[[], None]) -> None:
    """``pool`` has closed: if it was the last open one, ``release()`` its
    semaphores and stop the helpers taskrunner started."""
    with helpers_lock:
        open_pools.discard(pool)
        if not open_pools:
            release()
            stop_helpers()


def claim_helpers() -> None:
    """Note which helpers are not running yet: taskrunner starts those, and
    ``stop_helpers`` stops only them. Helpers someone else started (a
    multiprocessing pool of the program) are theirs. Call it before making
    anything that starts one (a queue's semaphore starts the tracker)."""
    from multiprocessing import resource_tracker

    if getattr(forkserver._forkserver, "_forkserver_pid", None) is None:
        _started_here.add("forkserver")
    if getattr(resource_tracker._resource_tracker, "_fd", None) is None:
        _started_here.add("tracker")


#: Which helpers taskrunner started (and stop_helpers may stop).
_started_here: set[str] = set()


class OpenPool(Protocol):
    """What the helpers need to know of a pool that is open."""

    def worker_pids(self) -> list[int]: ...

    @property
    def spool_path(self) -> str: ...


#: Pools of this process not closed yet: the helpers stop when the last closes.
open_pools: weakref.WeakSet[Any] = weakref.WeakSet()
#: Processes ``keep_children`` jobs of closed pools kept: never ended.
kept_for_good: set[int] = set()


def end_orphans() -> None:
    """End what the jobs of dead workers left behind: the fork server is their
    subreaper, so every child of it that is no live worker is a leftover."""
    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if not server:
        return
    pools: list[OpenPool] = list(open_pools)
    workers = {pid for pool in pools for pid in pool.worker_pids()}
    kept = kept_for_good.union(*(kept_processes(pool.spool_path) for pool in pools))
    orphans = [pid for pid in children(server) if pid not in workers and pid not in kept]
    if orphans:
        log.info("ending %d process(es) left behind by the jobs of dead workers: %s", len(orphans), orphans)
        end_processes(orphans, grace=0.5)


def stop_helpers() -> None:
    """Stop multiprocessing's fork server and resource tracker, if
    ``start_fork_server`` started them, and wait for them, so that when a run
    returns no process of it remains (they would otherwise outlive it by some
    50 ms, and a supervisor or ``timeout`` sees processes left in the group).
    The next run starts them again. The tracker stays while any semaphore is
    alive (someone still holds one): it would unlink it as leaked."""
    from multiprocessing import resource_tracker, synchronize

    with helpers_lock:
        end_orphans()
        _reap_abandoned()
        asked: list[int | None] = []  # both are asked first, then waited for together
        server = getattr(forkserver, "_forkserver", None)
        if server is not None and hasattr(server, "_forkserver_alive_fd") and "forkserver" in _started_here:
            _started_here.discard("forkserver")
            asked.append(_ask_to_exit(server, "_forkserver_alive_fd", "_forkserver_pid"))
            address = getattr(server, "_forkserver_address", None)
            server._forkserver_address = None
            if address and not multiprocessing.util.is_abstract_socket_namespace(address):
                with contextlib.suppress(OSError):
                    os.unlink(address)
        tracker = getattr(resource_tracker, "_resource_tracker", None)
        semaphores_alive = any(isinstance(obj, synchronize.SemLock) for obj in gc.get_objects())
        if tracker is not None and hasattr(tracker, "_fd") and not semaphores_alive and "tracker" in _started_here:
            _started_here.discard("tracker")
            asked.append(_ask_to_exit(tracker, "_fd", "_pid"))
        _wait_for_exit([pid for pid in asked if pid is not None])


#: How long to wait for a helper to exit once asked to.
HELPER_EXIT_WAIT = 0.5


def _ask_to_exit(helper: Any, fd_attribute: str, pid_attribute: str) -> int | None:
    """Close our end of the helper's "alive" pipe (which asks it to exit);
    return its pid to wait for. The helper only exits once *every* copy of
    that pipe is closed: a long-lived child forked by someone else
    (joblib's reusable workers, a ``fork`` pool) holds one, and
    multiprocessing's own ``_stop``, which waits forever, would never return."""
    with helper._lock:
        fd, pid = getattr(helper, fd_attribute), getattr(helper, pid_attribute)
        if fd is None:
            return None
        setattr(helper, fd_attribute, None)
        setattr(helper, pid_attribute, None)  # the next run starts a new one
        os.close(fd)
    return pid  # type: ignore[no-any-return]


def _wait_for_exit(pids: list[int]) -> None:
    """Wait for the helpers ``pids`` to exit, at most HELPER_EXIT_WAIT; one
    that is still running then is left to exit with whoever holds its pipe."""
    deadline = time.monotonic() + HELPER_EXIT_WAIT
    waiting = list(pids)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    waiting.remove(pid)
            except ChildProcessError:
                waiting.remove(pid)
        if waiting:
            time.sleep(0.002)
    for pid in waiting:
        log.info("multiprocessing helper %d still runs: another process holds its pipe; it exits with it", pid)
        _abandoned.append(pid)


#: Helpers left running (see _wait_for_exit), reaped once they have exited.
_abandoned: list[int] = []


def _reap_abandoned() -> None:
    for pid in list(_abandoned):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0]
        except ChildProcessError:
            done = pid
        if done:
            _abandoned.remove(pid)

