"""multiprocessing's helper processes, and what dead workers leave behind.

The fork server (started early, while the job file loads) and the resource
tracker are multiprocessing's; the pool stops and waits for them when the
last pool of the process closes, so no process of a run outlives it. The
fork server is also the subreaper of whatever the jobs of a dead worker left
running (see ``reaper``): ``end_orphans`` ends it.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import signal
import threading
import weakref
from multiprocessing import forkserver
from typing import Any, Protocol

from .reaper import children, end_processes, kept_processes

__all__ = ["START_METHOD", "end_orphans", "kept_for_good", "open_pools", "start_fork_server", "stop_helpers"]

log = logging.getLogger("taskrunner.local")

#: Chosen explicitly (fork with live threads is deprecated from Python 3.12):
#: workers start from a clean, preloaded server, not a copy of the coordinator.
START_METHOD = "forkserver"


def start_fork_server() -> None:
    """Start multiprocessing's fork server (if it is not running), preloading
    the worker code, with group signals ignored. Returns before it is ready:
    calling this early lets it start while the coordinator does other work.

    It lives in the coordinator's process group, and until it has imported
    its preload modules a Ctrl-C would kill it with a traceback. Ignored
    dispositions survive exec, so it starts immune; a signal sent in these
    few milliseconds is lost (press Ctrl-C again).
    """
    multiprocessing.get_context(START_METHOD).set_forkserver_preload(["taskrunner.local.forkserver_setup"])
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
    """Stop multiprocessing's fork server and resource tracker and wait for
    them, so that when a run returns no process of it remains (they would
    otherwise outlive it by some 50 ms, and a supervisor or ``timeout`` sees
    processes left in the group). The next run starts them again. The
    tracker stays while any semaphore is alive (someone still holds one): it
    would unlink it as leaked."""
    from multiprocessing import resource_tracker, synchronize

    end_orphans()
    helpers = [getattr(forkserver, "_forkserver", None)]
    if not any(isinstance(obj, synchronize.SemLock) for obj in gc.get_objects()):
        helpers.append(getattr(resource_tracker, "_resource_tracker", None))
    for helper in helpers:
        stop = getattr(helper, "_stop", None)
        if stop is None:  # pragma: no cover - a Python without these internals
            continue
        try:
            stop()
        except (OSError, ChildProcessError):
            pass
