"""The log folder and the files in it, handled as untrusted ground.

- ``prepare_log_dir`` creates the folder and proves it writable (by creating
  and removing a file: ``os.access`` does not see every read-only mount or
  full disk) before anything runs, so a bad folder is one line, not one
  traceback per job.
- ``open_log`` never writes through a symlink or hard link someone planted in
  the folder: it removes whatever has the log's name and creates a new file
  with ``O_EXCL | O_NOFOLLOW`` (so the link's target is untouched).
- ``drop_if_empty`` is how every path that ends an attempt (a worker's, or the
  coordinator's for a worker that died) leaves no empty log file behind.
- ``remove_stale_logs``: in the log folder derived from its results file (see
  ``paths.logs_for``; never one given elsewhere), a full run removes the logs
  of jobs no longer in its file (``*.out``/``*.err``, nothing else).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from ..errors import TaskrunnerError

__all__ = ["drop_if_empty", "open_log", "prepare_log_dir", "remove_stale_logs"]

_CREATE = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_LOG_SUFFIXES = (".out", ".err")


def prepare_log_dir(path: str) -> None:
    """Create ``path`` if needed and check a file can be made in it; else raise
    ``TaskrunnerError`` (one line naming the folder and the reason)."""
    probe = os.path.join(path, f".taskrunner-probe-{os.getpid()}")
    try:
        os.makedirs(path, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | _CREATE, 0o600))
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError) and not os.path.isdir(path):
            reason = "not a folder"
        raise TaskrunnerError(f"cannot use log folder {path}: {reason}") from None


def open_log(path: str, flags: int = os.O_WRONLY) -> int:
    """A new, empty log file at ``path`` (anything there before is removed,
    never followed); returns its fd."""
    for _ in range(5):
        try:
            return os.open(path, flags | _CREATE, 0o644)
        except FileExistsError:
            # A file from an earlier attempt, or a planted link: replace it.
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return os.open(path, flags | _CREATE, 0o644)


def drop_if_empty(path: str | None) -> str | None:
    """``path`` if it names a non-empty regular file; otherwise remove an
    empty one and return None."""
    if path is None:
        return None
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    if info.st_size == 0:
        try:
            os.unlink(path)
        except OSError:
            pass
        return None
    return path


def remove_stale_logs(path: str, stems: Callable[[], set[str]]) -> int:
    """Remove the ``*.out``/``*.err`` files of ``path`` whose stem is not in
    ``stems()`` (called only if there is any such file); return how many."""
    with os.scandir(path) as entries:
        logs = [entry for entry in entries if entry.name.endswith(_LOG_SUFFIXES)
                and not entry.is_dir(follow_symlinks=False)]
    if not logs:
        return 0
    wanted = stems()
    removed = 0
    for entry in logs:
        if entry.name[:-4] not in wanted:
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed
