"""A call job runs in the worker's own process: this puts the process back
as the call found it (see ``call_environment``), so every call starts clean.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["call_environment", "track_signal_changes"]


#: Signals a call job may have changed the handling of (all that can be caught).
_CATCHABLE = tuple(sorted(signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}))


class _SignalChanges:
    """Which handlers calls changed, noted by a wrapper around ``signal.signal``
    (``track_signal_changes``): reading all 62 handlers after every call cost
    more than a trivial call. Without tracking, every handler is compared."""

    def __init__(self) -> None:
        self.baseline: dict[int, Any] | None = None
        self.changed: set[int] = set()

    def install(self) -> None:
        self.baseline = {signum: signal.getsignal(signum) for signum in _CATCHABLE}
        original = signal.signal

        def recording_signal(signum: Any, handler: Any) -> Any:
            self.changed.add(int(signum))
            return original(signum, handler)

        signal.signal = recording_signal  # type: ignore[assignment]

    def snapshot(self) -> dict[int, Any]:
        if self.baseline is not None:
            return self.baseline
        return {signum: signal.getsignal(signum) for signum in _CATCHABLE}

    def suspects(self) -> list[int]:
        if self.baseline is None:
            return list(_CATCHABLE)
        changed, self.changed = sorted(self.changed), set()
        return changed


_signal_changes = _SignalChanges()


def track_signal_changes() -> None:
    """In a worker: note which handlers each call changes, so only those are
    put back (call once, after the worker set its own handlers)."""
    _signal_changes.install()


class call_environment:  # (lower case: it was a function; a class makes no generator per call)
    """Apply ``env`` and ``cwd`` for a call; afterwards restore the process
    as the call found it: working directory, umask, environment and signal
    handlers (also when the job changed them itself). What cannot be restored
    (the folder is gone, a handler set from C) is reported to ``unclean``:
    the worker then makes way for a fresh one."""

    __slots__ = ("_cwd", "_env", "_saved_cwd", "_saved_env", "_saved_handlers", "_saved_umask", "_unclean")

    def __init__(self, env: Mapping[str, str], cwd: str | None, unclean: Callable[[str], None]) -> None:
        self._env, self._cwd, self._unclean = env, cwd, unclean

    def __enter__(self) -> None:
        self._saved_env = _environment_snapshot()
        self._saved_cwd = os.getcwd()
        self._saved_umask = os.umask(0o022)
        os.umask(self._saved_umask)
        self._saved_handlers = _signal_changes.snapshot()
        if self._env:
            os.environ.update(self._env)
        if self._cwd:
            os.chdir(self._cwd)

    def __exit__(self, *exc: object) -> None:
        saved_cwd = self._saved_cwd
        # Asking where we are costs half of going back (a call seldom moves).
        if self._cwd or _cwd_or_none() != saved_cwd:
            try:
                os.chdir(saved_cwd)  # also when the call removed the folder it went to
            except OSError as error:
                self._unclean(f"cannot return to {saved_cwd}: {error.strerror}")
        os.umask(self._saved_umask)
        if _environment_snapshot() != self._saved_env:
            _restore_environment(self._saved_env)
        _restore_handlers(self._saved_handlers, self._unclean)


def _cwd_or_none() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the folder we are in was removed
        return None


def _restore_handlers(saved: dict[int, Any], unclean: Callable[[str], None]) -> None:
    for signum in _signal_changes.suspects():
        handler = saved[signum]
        if signal.getsignal(signum) is handler:
            continue
        try:
            signal.signal(signum, handler)
        except (TypeError, ValueError, OSError):  # None: a handler set outside Python
            unclean(f"cannot restore the handler of {signal.Signals(signum).name}")


# CPython's raw (bytes) environment behind os.environ on POSIX. Copying and
# comparing it costs about a microsecond, against some 25 for dict(os.environ),
# and rewriting the whole environment (a putenv() per variable) cost more than
# a trivial call itself.
_RAW_ENVIRON: dict[Any, Any] | None = getattr(os.environ, "_data", None)


def _environment_snapshot() -> dict[Any, Any]:
    return dict(_RAW_ENVIRON) if _RAW_ENVIRON is not None else dict(os.environ)


def _restore_environment(saved: dict[Any, Any]) -> None:
    """Put back the environment ``_environment_snapshot`` saw, variable by variable."""
    target: Any = os.environb if _RAW_ENVIRON is not None else os.environ
    for key in [key for key in target if key not in saved]:
        del target[key]
    for key, value in saved.items():
        if target.get(key) != value:
            target[key] = value
