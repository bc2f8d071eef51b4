"""One run per results file at a time: an exclusive lock beside the file.

The lock is ``flock`` on ``<results>.lock`` (not on the results file itself,
which a rewrite replaces by a rename). The kernel drops it when its holder
dies, so a ``kill -9``-ed run never leaves a stale lock; the holder writes
its pid into the file so the refusal can name it, and removes the file when
it is done. Two spellings of one path (``./x``, a symlink) lock the same
file, because the path is resolved first.

    >>> with ResultsLock("/tmp/doc-lock.jsonl"):  # doctest: +ELLIPSIS
    ...     ResultsLock("/tmp/doc-lock.jsonl").acquire()
    Traceback (most recent call last):
    ...
    taskrunner.errors.ResultsFileBusy: results file /tmp/doc-lock.jsonl is in use by another run (pid ...
"""

from __future__ import annotations

import fcntl
import os

from ..errors import ResultsFileBusy, ResultsFileError
from ..owner import Owner
from ..paths import keep_out_of_git

__all__ = ["ResultsLock"]


class ResultsLock:
    """Holds the lock of the results file ``path`` while entered (``shown``:
    the path as the user gave it, for messages)."""

    def __init__(
        self, path: str, shown: str | None = None, what: str = "results file", option: str = "--results"
    ) -> None:
        self.lock_path = os.path.realpath(path) + ".lock"
        self.shown = shown or path
        #: What the path is and the option that names another, for messages
        #: (a run also locks its log folder).
        self.what, self.option = what, option
        self._fd: int | None = None
        self._owner = Owner()

    def acquire(self) -> None:
        """Take the lock now or raise ``ResultsFileBusy``; never waits."""
        folder = os.path.dirname(self.lock_path)
        for _ in range(10):
            try:
                os.makedirs(folder, exist_ok=True)
                keep_out_of_git(folder)
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            except OSError as error:
                raise ResultsFileError(f"cannot lock {self.what} {self.shown}: {error.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _pid_in(fd)
                os.close(fd)
                holder = f"pid {pid}" if pid else "pid unknown"
                raise ResultsFileBusy(
                    f"{self.what} {self.shown} is in use by another run ({holder}); "
                    f"wait for it to finish or give another {self.option}",
                    pid,
                ) from None
            # The holder before us may have removed the file between our open
            # and our flock: then we hold a lock nobody else can see. Retry.
            if _same_file(fd, self.lock_path):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
                return
            os.close(fd)
        raise ResultsFileError(f"cannot lock {self.what} {self.shown}: its lock file keeps changing")

    def release(self) -> None:
        """Remove the lock file and drop the lock (in that order, so nobody
        locks a file that is about to vanish)."""
        if self._fd is None:
            return
        if self._owner.here:  # (a forked child only drops its copy: the lock is the parent's)
            try:
                os.unlink(self.lock_path)
            except OSError:
                pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> ResultsLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _pid_in(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or "0") or None
    except (OSError, ValueError):
        return None


def _same_file(fd: int, path: str) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
