"""Signal helpers in one place: the run's stop signals, process groups, names.

- ``SignalGuard``: while a run lasts, SIGINT/SIGTERM/SIGHUP only set a flag
  (and stop new starts at once); a second one kills everything. Signals the
  launcher made us ignore (``nohup``, a script's ``cmd &``) stay ignored.
- ``inherited_ignores``: which of those the jobs must inherit as ignored.
- ``signal_group`` / ``signal_name``: signal a process group safely; name a signal.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["PASSED_ON_IGNORES", "SignalGuard", "inherited_ignores", "signal_group", "signal_name"]


def signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to process group ``pgid`` if it exists (0 means none: never
    our own group by accident)."""
    if pgid <= 0:
        return
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def signal_name(signum: int) -> str:
    """``SIGKILL`` for 9, or the number if it has no name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


#: Signals a worker passes on to its jobs as ignored when the coordinator was
#: started with them ignored (see ``inherited_ignores``).
PASSED_ON_IGNORES = (signal.SIGINT, signal.SIGHUP)


def inherited_ignores() -> tuple[int, ...]:
    """The signals of PASSED_ON_IGNORES this (coordinator) process ignores.

    Whoever started us chose that (``nohup`` ignores SIGHUP; a script's
    background job ignores SIGINT), and the runner keeps it; jobs inherit it
    as they would from any shell. The fork server ignores signals for its
    own reasons, which jobs must not inherit: so workers get the
    coordinator's choice explicitly.
    """
    return tuple(s for s in PASSED_ON_IGNORES if signal.getsignal(s) == signal.SIG_IGN)


class SignalGuard:
    """SIGINT/SIGTERM/SIGHUP set a flag and call ``on_first`` (stop starting
    jobs, at once); a second one calls ``on_second`` (kill everything)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: int | None = None
        #: When (``time.time()``) the first one arrived, for the log.
        self.received_at: float | None = None
        self.on_first: Callable[[], None] = lambda: None
        self.on_second: Callable[[], None] = lambda: None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.stop(signum)
        else:
            self.on_second()

    def stop(self, signum: int) -> None:
        """Stop the run as the first ``signum`` would (the run's own reason to
        stop, e.g. SIGPIPE for a closed output pipe); nothing if it stops already."""
        if self.received is None:
            self.received, self.received_at = signum, time.time()
            self.on_first()

    def __enter__(self) -> SignalGuard:
        # Signal handlers can only be set from the main thread; elsewhere
        # (an embedding app's thread) the app keeps control of signals.
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                if signal.getsignal(signum) == signal.SIG_IGN:
                    # The launcher made us ignore it (nohup: SIGHUP; a script's
                    # background job: SIGINT): keep that, as Python itself
                    # leaves an ignored SIGINT alone. Jobs inherit it too.
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
