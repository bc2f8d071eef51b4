"""The results file: JSON Lines, one line per job whose outcome is final.

The rules (README, "The results file"):

- Lines are written as soon as outcomes are final, with one ``write()`` per
  batch of outcomes that arrived together (one system call per batch rather
  than per line), so a coordinator that is killed loses no finished result.
  ``close()`` also fsyncs, where the file system supports it.
- A write that fails (no space, an I/O error, a file-size limit) cuts the
  file back to its last whole line and raises ``ResultsWriteError``; the
  runner then stops the run. The file never keeps half a line of ours.
- Rewriting (``replace_results``: a new run keeps some earlier lines) goes
  through a temporary file and a rename, so a kill at any instant leaves
  either the old file or the new one.
- ``read_results`` checks every line (``resultline``); a torn last line —
  the normal state after ``kill -9`` mid-write — is skipped with a warning,
  any other bad line is a ``FILE:LINE: what`` error.
- The path must be a regular file (or not exist yet): a device, a fifo or a
  folder is refused before anything runs, since neither a rename nor a
  cut-back can work there.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring
from typing import Any

from ..errors import ResultsFileError, ResultsWriteError
from ..model import JobResult
from ..owner import Owner, many_objects
from .lazyresults import ResultLines
from .resultline import Record, parse_result_line, read_records

log = logging.getLogger("taskrunner.results")

__all__ = [
    "Journal", "check_replaceable", "check_results_path", "read_result_lines", "read_results", "replace_results",
    "result_line",
]

# One encoder for every line: json.dumps() with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)

#: fsync errors that only mean "this file cannot be synced" (a pipe, some
#: devices and file systems); the data was written all the same.
_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.EROFS, errno.ENOTSUP}


def _encoded(results: Iterable[JobResult]) -> bytes:
    # backslashreplace turns a lone surrogate (a str from os.fsdecode of a
    # bad file name) into its JSON escape, so the line stays valid JSON.
    text = "".join([result_line(result) for result in results])
    return text.encode("utf-8", "backslashreplace")


_FLOAT_TEXT = float.__repr__
_INT_TEXT = int.__repr__


def _json(value: Any) -> str:
    """``_ENCODER.encode(value)``, written out directly for the scalars a result holds."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return _INT_TEXT(value)
    if kind is float and math.isfinite(value):
        return _FLOAT_TEXT(value)
    return _ENCODER.encode(value)


def result_line(result: JobResult) -> str:
    """The results-file line of ``result``: ``_ENCODER.encode(result.to_dict())``
    and a newline, the same text at half the cost (one is written per job).

    >>> from taskrunner.model import Status
    >>> result_line(JobResult("a", Status.OK, attempts=1, history=((1.5, 2.0, "w1", "ok"),)))[:65]
    '{"name": "a", "status": "ok", "returncode": null, "value": null, '
    """
    history = ", ".join([f"[{_json(a)}, {_json(b)}, {_json(c)}, {_json(d)}]" for a, b, c, d in result.history])
    return (
        f'{{"name": {_json(result.name)}, "status": {_json(result.status.value)}, '
        f'"returncode": {_json(result.returncode)}, "value": {_json(result.value)}, "error": {_json(result.error)}, '
        f'"attempts": {_json(result.attempts)}, "started": {_json(result.started)}, '
        f'"finished": {_json(result.finished)}, "duration": {_json(result.duration)}, '
        f'"worker": {_json(result.worker)}, "stdout_log": {_json(result.stdout_log)}, '
        f'"stderr_log": {_json(result.stderr_log)}, "stderr_tail": {_json(result.stderr_tail)}, '
        f'"history": [{history}], "job_hash": {_json(result.job_hash)}, "max_rss": {_json(result.max_rss)}'
        + ("" if result.content_hash is None else f', "content_hash": {_json(result.content_hash)}')
        + ("" if result.worker_logs is None else f', "worker_logs": {_json(result.worker_logs)}')
        + "}\n"
    )


def _write_whole(fd: int, data: bytes) -> None:
    # os.write may write part of it (a disk filling up): go on until all of
    # it is written or a write fails.
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_error(path: str, error: OSError) -> ResultsWriteError:
    return ResultsWriteError(f"cannot write results file {path}: {error.strerror or error}")


def check_results_path(path: str) -> None:
    """Refuse a results path that cannot be one: a folder, a device, a fifo.

    >>> check_results_path("/dev/null")
    Traceback (most recent call last):
    ...
    taskrunner.errors.ResultsFileError: results file /dev/null is not a regular file (a device, a fifo or a socket); give a file path
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise ResultsFileError(f"cannot write results file {path}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ResultsFileError(f"results file {path} is a folder; give a file path")
    if not stat.S_ISREG(mode):
        raise ResultsFileError(
            f"results file {path} is not a regular file (a device, a fifo or a socket); give a file path"
        )


def check_replaceable(path: str) -> None:
    """Refuse to replace an existing file whose first line is not a result
    (a job file, notes: anything but a results file), so a mistyped path
    destroys nothing. An empty file or a lone torn line is replaceable."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 20)
    except FileNotFoundError:
        return
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot read results file: {error.strerror}") from None
    if not first.endswith(b"\n"):
        return
    try:
        parse_result_line(first[:-1].decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        raise ResultsFileError(
            f"{path}:1: not a taskrunner results file; not replacing it (remove it or give another results path)"
        ) from None


class Journal:
    """Appends final results to an existing results file.

    ``shown`` is the path as the user gave it, for messages.
    """

    def __init__(self, path: str, shown: str | None = None) -> None:
        self.path = path
        self.shown = shown or path
        #: The write error that stopped this journal (later writes are dropped).
        self.failed: ResultsWriteError | None = None
        self._owner = Owner()
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self._size = os.fstat(self._fd).st_size
        except OSError as error:
            raise _write_error(self.shown, error) from None

    def write_all(self, results: list[JobResult]) -> None:
        """Append a line per result with one write; on failure cut back and raise.
        (A child forked from the run writes nothing: the file is the parent's.)"""
        if self.failed is not None or self._fd is None or not self._owner.here:
            return
        encoded = _encoded(results)
        try:
            _write_whole(self._fd, encoded)
        except OSError as error:
            self.failed = _write_error(self.shown, error)
            self._cut_back()
            raise self.failed from None
        self._size += len(encoded)

    def _cut_back(self) -> None:
        try:
            # A batch written in part would leave a torn line: back to the
            # last whole one (truncating needs no free space).
            os.ftruncate(self._fd, self._size)  # type: ignore[arg-type]
        except OSError:
            pass

    def close(self) -> None:
        """fsync (where supported) and close; an fsync that reports lost data
        (EIO, ENOSPC on NFS) sets ``failed`` like a failed write."""
        if self._fd is None:
            return
        try:
            if self.failed is None:
                os.fsync(self._fd)
        except OSError as error:
            if error.errno not in _FSYNC_UNSUPPORTED:
                self.failed = _write_error(self.shown, error)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_results(path: str, on_warning: Callable[[str], None] | None = None) -> list[JobResult]:
    """Every line of a results file, checked: ``read_result_lines``, each ``JobResult`` made."""
    lines = read_result_lines(path, on_warning)
    with many_objects():
        return list(lines)


#: How much of a results file is read at a time.
_BLOCK = 1 << 20


def read_result_lines(path: str, on_warning: Callable[[str], None] | None = None) -> ResultLines:
    """Every line of a results file, checked, as decoded (each ``JobResult``
    made when it is read: a resume that keeps a million lines makes few).

    A torn last line (no newline: its writer was killed mid-write; that
    result was never final) is skipped and reported to ``on_warning``. Any
    other bad line raises ``ResultsFileError`` (``FILE:LINE: what``); so does
    a file that cannot be read.
    """
    records: list[Record] = []  # (one a line read so far)
    torn = b""  # what follows the last newline read
    # A line is a few objects; the cyclic garbage collector, triggered
    # again and again by them, would walk every line read so far (a sixth
    # of the time of 100,000 lines). Nothing here makes a cycle.
    try:
        with many_objects(), open(path, "rb") as handle:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                lines = (torn + block).split(b"\n")
                torn = lines.pop()
                try:
                    read_records(lines, records)
                except ValueError as error:  # (the lines before the bad one were read)
                    what = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else str(error)
                    raise ResultsFileError(f"{path}:{len(records) + 1}: {what}") from None
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot read results file: {error.strerror}") from None
    if torn and on_warning is not None:
        on_warning(f"{path}:{len(records) + 1}: ignored a torn last line (a run was killed while writing it)")
    return ResultLines(records)


def replace_results(path: str, results: Sequence[JobResult], shown: str | None = None,
                    numbers: Sequence[int] | None = None) -> None:
    """Atomically make ``path`` hold exactly ``results`` (creating its folder):
    a temporary file beside it, fsynced, then renamed over it.

    ``numbers``: the 0-based numbers of the lines of ``path`` that ``results``
    were read from (ascending): those lines are copied as they are, not
    encoded again (a kept line keeps its bytes, at a fraction of the cost).
    """
    # (The moment a test kills the run at, to prove a kill here loses nothing.)
    log.debug("rewriting results file %s: %d lines, through a temporary file", shown or path, len(results))
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            if numbers:
                _copy_lines(path, numbers, fd)
            else:
                _write_whole(fd, _encoded(results))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise _write_error(shown or path, error) from None


def _copy_lines(path: str, numbers: Sequence[int], fd: int) -> None:
    """Write the lines of ``path`` numbered ``numbers`` to ``fd``, counting
    lines as ``read_results`` does, a few thousand per write."""
    wanted = iter(numbers)
    next_wanted = next(wanted, None)
    batch: list[bytes] = []
    with open(path, "rb") as old:
        for number, raw in enumerate(old):
            if number != next_wanted:
                continue
            batch.append(raw)
            if len(batch) == 4096:
                _write_whole(fd, b"".join(batch))
                batch.clear()
            next_wanted = next(wanted, None)
            if next_wanted is None:
                break
    if next_wanted is not None or (batch and not batch[-1].endswith(b"\n")):
        raise OSError(errno.EIO, f"{path} changed while it was being rewritten")
    _write_whole(fd, b"".join(batch))
