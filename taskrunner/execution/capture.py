"""Where a job's output goes: its log files, made only when it writes something.

Creating two files per job cost more than running a trivial ``call`` job, and
left thousands of empty files behind. So:

- A ``call`` job writes into two scratch files that each process opens once
  (anonymous, in the log folder); fds 1 and 2 and ``sys.stdout``/``sys.stderr``
  point at them during the call. Afterwards whatever landed there is copied to
  the job's log file and the scratch file is emptied. Nothing written, no file.
- A command writes straight into its log files (so ``tail -f`` works while it
  runs); files it left empty are removed when it ends.

Either way a result's ``stdout_log``/``stderr_log`` is the log's path, or None
when the job wrote nothing there.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import IO, Any

from .logfiles import open_log

__all__ = ["CommandLogs", "captured_call_output", "read_tail"]

#: How much of stderr a result carries.
TAIL_LINES = 20
TAIL_CHARS = 2000


class _Scratch:
    """A process's pair of scratch files for one log folder, and text streams on them."""

    def __init__(self, folder: str) -> None:
        # Open for the process's life (one pair per log folder), not a block.
        self.files: list[IO[bytes]] = [tempfile.TemporaryFile(dir=folder) for _ in range(2)]  # noqa: SIM115
        self.fds = [handle.fileno() for handle in self.files]
        self.streams = [
            open(fd, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
            for fd in self.fds
        ]


_scratch_by_folder: dict[str, _Scratch] = {}


def _scratch_for(folder: str) -> _Scratch:
    scratch = _scratch_by_folder.get(folder)
    if scratch is None:
        scratch = _scratch_by_folder[folder] = _Scratch(folder)
    return scratch


class CallOutput:
    """What a ``call`` job wrote: the log paths (None: nothing) and stderr's tail."""

    stdout_log: str | None = None
    stderr_log: str | None = None
    stderr_tail: str | None = None


class captured_call_output:  # (lower case: it was a function; a class makes no generator per call)
    """Point fds 1 and 2 *and* sys.stdout/sys.stderr at scratch files for a call,
    so print(), C code and replaced streams (pytest, notebooks) are all caught;
    afterwards move what was written to ``stdout_log``/``stderr_log``.

    Used as ``with captured_call_output(out, err) as output:``; ``output`` is
    the ``CallOutput``, filled in when the block ends."""

    __slots__ = ("_output", "_saved_fds", "_saved_streams", "_scratch", "_stderr_log", "_stdout_log")

    def __init__(self, stdout_log: str, stderr_log: str) -> None:
        self._stdout_log, self._stderr_log = stdout_log, stderr_log
        self._scratch = _scratch_for(os.path.dirname(stdout_log) or ".")
        self._output = CallOutput()

    def __enter__(self) -> CallOutput:
        scratch = self._scratch
        self._saved_streams = saved = sys.stdout, sys.stderr
        for stream in saved:
            _flush(stream)
        self._saved_fds = os.dup(1), os.dup(2)
        try:
            os.dup2(scratch.fds[0], 1)
            os.dup2(scratch.fds[1], 2)
        except BaseException:
            self._restore()
            raise
        sys.stdout, sys.stderr = scratch.streams
        return self._output

    def __exit__(self, *exc: object) -> None:
        for stream in self._scratch.streams:
            _flush(stream)
        sys.stdout, sys.stderr = self._saved_streams
        self._restore()
        fds, output = self._scratch.fds, self._output
        stderr_size = _written(fds[1])
        if stderr_size:
            output.stderr_tail = _tail_of_fd(fds[1], stderr_size)
        output.stdout_log = _move_out(fds[0], self._stdout_log)
        output.stderr_log = _move_out(fds[1], self._stderr_log)

    def _restore(self) -> None:
        saved = self._saved_fds
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _written(fd: int) -> int:
    # The scratch fd and the dup2'd fds 1/2 share one file offset.
    return os.lseek(fd, 0, os.SEEK_CUR)


def _move_out(fd: int, path: str) -> str | None:
    """Copy the scratch file to ``path`` and empty it; None if it was empty."""
    size = _written(fd)
    if not size:
        return None
    target = open_log(path)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        copied = 0
        while copied < size:
            sent = os.sendfile(target, fd, None, size - copied)
            if sent == 0:
                break
            copied += sent
    finally:
        os.close(target)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    return path


class CommandLogs:
    """The two log files a command writes into; ``close()`` drops the empty ones.

    >>> logs = CommandLogs("/tmp/doc-capture.out", "/tmp/doc-capture.err")
    >>> _ = os.write(logs.stderr, b"oops\\n")
    >>> logs.close()
    >>> logs.stdout_log, logs.stderr_log, logs.stderr_tail
    (None, '/tmp/doc-capture.err', 'oops')
    """

    def __init__(self, stdout_log: str, stderr_log: str) -> None:
        self.stdout_log: str | None = stdout_log
        self.stderr_log: str | None = stderr_log
        self.stderr_tail: str | None = None
        # Read-write: the tail of stderr is read back through the same fd.
        self.stdout = open_log(stdout_log, os.O_RDWR)
        try:
            self.stderr = open_log(stderr_log, os.O_RDWR)
        except OSError:
            os.close(self.stdout)
            raise

    def close(self) -> None:
        """Close both files; remove each one the command left empty."""
        stderr_size = os.fstat(self.stderr).st_size
        if stderr_size:
            self.stderr_tail = _tail_of_fd(self.stderr, stderr_size)
        else:
            _unlink(self.stderr_log)  # type: ignore[arg-type]
            self.stderr_log = None
        if not os.fstat(self.stdout).st_size:
            _unlink(self.stdout_log)  # type: ignore[arg-type]
            self.stdout_log = None
        os.close(self.stdout)
        os.close(self.stderr)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _flush(stream: Any) -> None:
    try:
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _tail_of_fd(fd: int, size: int, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str | None:
    """The tail (as ``read_tail``) of the first ``size`` bytes of an open file."""
    text = os.pread(fd, chars * 4, max(0, size - chars * 4)).decode("utf-8", errors="replace").rstrip("\n")
    if not text:
        return None
    return "\n".join(text.splitlines()[-lines:])[-chars:]


def read_tail(path: str, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str | None:
    """The last ``lines`` lines (at most ``chars`` characters) of a log, or None if empty."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _tail_of_fd(fd, os.fstat(fd).st_size, lines, chars)
    finally:
        os.close(fd)

