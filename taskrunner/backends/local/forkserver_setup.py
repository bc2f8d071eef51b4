"""Imported by multiprocessing's fork server only (``set_forkserver_preload``).

The fork server lives in the coordinator's process group, so a SIGTERM or
SIGHUP sent to the whole group (``kill -TERM -PGID``, systemd, a closed
terminal) would kill it — and with it the coordinator's view of every worker.
The coordinator handles those signals itself; the server ignores them.
Workers it forks restore the default dispositions first thing.
It is also the subreaper of whatever a dead worker's jobs leave behind.

Asked to exit (the coordinator closes its "alive" pipe and waits for it),
the server skips the interpreter's teardown of every preloaded module, some
20 ms of each run's end: it holds nothing to flush, its workers are gone and
what they left behind has been ended (``helpers.end_orphans``).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import warnings

from . import worker  # noqa: F401 - preloaded so each worker starts warm
from .reaper import become_subreaper

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
# What the jobs of a dead worker leave behind is re-parented here, not to
# init, so the coordinator finds and ends it (see reaper). The server reaps
# such children itself and would warn about each one.
become_subreaper()
warnings.filterwarnings("ignore", message="forkserver: waitpid returned unexpected pid")

_SERVER_PID = os.getpid()


def _exit_without_teardown() -> None:
    # Registered last, so run first at exit. A process forked from the
    # server (a worker's own child that exits normally) inherits the hook
    # and must keep its exit status and teardown: only the server skips.
    if os.getpid() == _SERVER_PID:
        sys.stderr.flush()
        os._exit(0)


atexit.register(_exit_without_teardown)
