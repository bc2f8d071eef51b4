"""Imported by multiprocessing's fork server only (``set_forkserver_preload``).

The fork server lives in the coordinator's process group, so a SIGTERM or
SIGHUP sent to the whole group (``kill -TERM -PGID``, systemd, a closed
terminal) would kill it — and with it the coordinator's view of every worker.
The coordinator handles those signals itself; the server ignores them.
Workers it forks restore the default dispositions first thing.
"""

from __future__ import annotations

import signal

from . import worker  # noqa: F401 - preloaded so each worker starts warm

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
