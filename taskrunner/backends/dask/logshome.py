"""A Dask attempt's logs come home: written where a local run puts them.

On the worker, an attempt writes its stdout and stderr into a scratch folder
of the worker's own (not the coordinator's log folder, which the worker may
not share, or may share as a different file). The first CHUNK of each log
travels back with the result; a longer log is fetched by the coordinator in
CHUNK pieces (``client.run`` on that worker: it does not wait behind the
worker's running task) up to ``log_limit()`` bytes, then the worker's copy is
removed. What is past the limit stays on the worker: the coordinator's copy
ends with a line saying where, and the results line's ``worker_logs`` names
the worker and the path.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace

from ...execution.logfiles import open_log
from ...model import Attempt, JobResult

__all__ = ["CHUNK", "Shipped", "bring_home", "drop_scratch", "log_limit", "pack", "read_chunk", "remove_scratch_folder",
           "scratch_attempt"]

#: What one message carries of a log (the first piece travels with the result).
CHUNK = 1 << 20
#: How much of each log comes home by default; ``TASKRUNNER_DASK_LOG_LIMIT``
#: (bytes, on the coordinator) changes it.
DEFAULT_LOG_LIMIT = 64 << 20


def log_limit() -> int:
    """The most bytes of one log that come home (at least one CHUNK)."""
    try:
        return max(CHUNK, int(os.environ.get("TASKRUNNER_DASK_LOG_LIMIT", DEFAULT_LOG_LIMIT)))
    except ValueError:
        return DEFAULT_LOG_LIMIT


# -- on the worker ------------------------------------------------------------

_scratch: str | None = None


def _scratch_folder() -> str:
    global _scratch
    if _scratch is None or not os.path.isdir(_scratch):
        _scratch = tempfile.mkdtemp(prefix="taskrunner-dask-")
        atexit.register(remove_scratch_folder)  # also when the worker ends without closing
    return _scratch


def scratch_attempt(attempt: Attempt) -> Attempt:
    """``attempt`` with its logs in this worker's scratch folder (empty paths,
    meaning "not captured", stay empty)."""
    if not attempt.stdout_log and not attempt.stderr_log:
        return attempt
    folder = _scratch_folder()

    def local(path: str) -> str:
        return path and os.path.join(folder, f"{attempt.attempt_id}-{os.path.basename(path)}")

    return replace(attempt, stdout_log=local(attempt.stdout_log), stderr_log=local(attempt.stderr_log))


@dataclass(frozen=True)
class Shipped:
    """One log as it travels back: its first piece, its size, and the path
    it has on the worker while more of it is to be fetched (else None)."""

    head: bytes
    size: int
    path: str | None


def pack(path: str | None) -> Shipped | None:
    """The log at ``path`` (None: the attempt left none) for the trip home;
    removed here once all of it travels in the first piece."""
    if path is None:
        return None
    try:
        with open(path, "rb") as log:
            head = log.read(CHUNK)
            size = os.fstat(log.fileno()).st_size
    except OSError:
        return None
    if size <= len(head):
        drop_scratch(path)
        return Shipped(head, len(head), None)
    return Shipped(head, size, path)


def read_chunk(path: str, offset: int) -> bytes:
    """Run on the worker by ``client.run``: CHUNK bytes of a log from ``offset``."""
    with open(path, "rb") as log:
        log.seek(offset)
        return log.read(CHUNK)


def remove_scratch_folder() -> None:
    """The worker closes: remove its scratch folder, unless it keeps logs
    that did not come home whole (the results name them)."""
    if _scratch is not None:
        with contextlib.suppress(OSError):
            os.rmdir(_scratch)


def drop_scratch(path: str) -> None:
    """Run on the worker (also by ``client.run``): remove a log that came home."""
    with contextlib.suppress(OSError):
        os.unlink(path)


# -- on the coordinator -----------------------------------------------------------

#: ``fetch(worker, path, offset)``: a piece of a log still on a worker (raises
#: ``OSError`` if it cannot be had); ``drop(worker, path)``: remove it there.
Fetch = Callable[[str, str, int], bytes]
Drop = Callable[[str, str], None]


def bring_home(result: JobResult, attempt: Attempt, logs: tuple[Shipped | None, Shipped | None],
               fetch: Fetch, drop: Drop) -> JobResult:
    """``result`` with its logs written at ``attempt``'s (the coordinator's)
    log paths; ``worker_logs`` set if part of one stayed on the worker."""
    if logs == (None, None):
        return result  # (most jobs print nothing: no copy of the result for them)
    worker = result.worker or "?"
    paths: list[str | None] = []
    left: list[str] = []
    for shipped, target in zip(logs, (attempt.stdout_log, attempt.stderr_log)):
        if shipped is None or not target:
            paths.append(None)
            continue
        if _write_home(shipped, target, worker, fetch):
            if shipped.path is not None:
                drop(worker, shipped.path)
        else:
            left.append(shipped.path or "?")
        paths.append(target)
    return result.evolve(stdout_log=paths[0], stderr_log=paths[1],
                         worker_logs=f"{worker} {' '.join(left)}" if left else None)


def _write_home(shipped: Shipped, target: str, worker: str, fetch: Fetch) -> bool:
    """Write the log at ``target``; False if part of it stays on the worker."""
    limit = log_limit()
    fd = open_log(target)
    try:
        _write_all(fd, shipped.head)
        written = len(shipped.head)
        while shipped.path is not None and written < min(shipped.size, limit):
            try:
                piece = fetch(worker, shipped.path, written)[:limit - written]
            except OSError:
                piece = b""
            if not piece:
                break
            _write_all(fd, piece)
            written += len(piece)
        if written >= shipped.size:
            return True
        note = (f"\n[taskrunner: {written} of {shipped.size} bytes came home; "
                f"the whole log stays on Dask worker {worker} at {shipped.path}]\n")
        _write_all(fd, note.encode("utf-8", "backslashreplace"))
        return False
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
