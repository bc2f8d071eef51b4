"""The local pool's spool folder (messages too big for one pipe packet).

A coordinator that is SIGKILLed cannot remove its spool folder, so each
folder carries a lock its pool holds for as long as it lives (``flock``: the
kernel drops it when the holder dies), and every new pool first removes the
folders in the temp directory whose lock nobody holds. A folder without a
lock file (an older taskrunner's, or one a pool is creating this instant) is
removed once it is an hour old.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time

__all__ = ["SpoolDir"]

PREFIX = "taskrunner-spool-"
LOCK_NAME = ".lock"
#: Age after which a spool folder without a lock file is taken as abandoned.
UNLOCKED_MAX_AGE = 3600.0


class SpoolDir:
    """A fresh, locked spool folder (``path``); ``remove()`` deletes it."""

    def __init__(self) -> None:
        remove_abandoned()
        self.path = tempfile.mkdtemp(prefix=PREFIX)
        self._lock: int | None = os.open(
            os.path.join(self.path, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def remove(self) -> None:
        """Delete the folder, then drop its lock."""
        if self._lock is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)
        self._lock = None


def remove_abandoned(parent: str | None = None) -> int:
    """Remove this user's spool folders in ``parent`` (default: the temp
    directory) that no live pool holds; return how many were removed."""
    parent = parent or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or info.st_uid != os.getuid():
            continue
        if _abandoned(entry.path, info.st_mtime):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def _abandoned(path: str, modified: float) -> bool:
    try:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return time.time() - modified > UNLOCKED_MAX_AGE
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live pool holds it
    finally:
        os.close(fd)  # closing drops the probe's lock again
    return True
