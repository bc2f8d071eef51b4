"""What a run is doing now, beside its results file, for ``taskrunner report``
in another terminal (or over ssh).

While a run lives it keeps ``<results>.running``: a small JSON document
naming the jobs running now, since when and on which worker, with the run's
pid, host and progress. It is replaced whole (a temporary file renamed over
it) at most once a second, and at least every ``HEARTBEAT`` seconds while
nothing changes, and removed when the run ends. A run that was killed
leaves it behind: a reader sees that as stale, because the pid is gone (same
host) or the heartbeat stopped (another host looking at a shared folder).

    >>> import tempfile, os
    >>> results = os.path.join(tempfile.mkdtemp(), "r.jsonl")
    >>> live = LiveFile(results, total=3)
    >>> live.update(100.0, [(7, "compress a.log", "w1-42", 99.5)], done=1)
    >>> state = read_live(results, now=101.5)
    >>> state.stale, state.total, state.done, [(j.name, j.worker) for j in state.running]
    (False, 3, 1, [('compress a.log', 'w1-42')])
    >>> live.remove(); read_live(results) is None
    True
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..owner import Owner

__all__ = ["HEARTBEAT", "LiveFile", "LiveJob", "LiveState", "live_path", "read_live"]

#: Seconds between rewrites while nothing changes; a reader on another host
#: calls the file stale after ``STALE_AFTER`` seconds without one.
HEARTBEAT = 2.0
STALE_AFTER = 15.0
#: At most one rewrite per this many seconds.
MIN_INTERVAL = 1.0
#: A reader refuses a larger file (it holds one line per worker).
MAX_BYTES = 16 << 20


def live_path(results: str) -> str:
    """Where the run recording into ``results`` says what it is doing."""
    return results + ".running"


class LiveFile:
    """The writer: the run loop calls ``update`` often; it writes when due."""

    def __init__(self, results: str, total: int) -> None:
        self.path = live_path(results)
        self.total = total
        self._owner = Owner()
        self._host = socket.gethostname()
        self._started = time.time()
        self._first_seen: dict[int, float] = {}  # attempt id -> when first seen running
        self._written_at = 0.0
        self._written: tuple[object, ...] = ()
        self.error: OSError | None = None

    def due(self, now: float) -> bool:
        """Whether an ``update`` now could write (callers skip gathering otherwise)."""
        return now - self._written_at >= MIN_INTERVAL

    def update(self, now: float, running: Sequence[tuple[int, str, str, float | None]], done: int) -> None:
        """``running``: (attempt id, job name, worker, when it started or None) of
        each attempt running now (an unknown start is when it was first seen)."""
        seen = {attempt_id: started or self._first_seen.get(attempt_id, now) for attempt_id, _, _, started in running}
        self._first_seen = seen
        shape = (tuple(seen), done)
        if now - self._written_at < (HEARTBEAT if shape == self._written else MIN_INTERVAL):
            return
        document = {
            "pid": self._owner.pid, "host": self._host, "run_started": self._started, "updated": now,
            "total": self.total, "done": done,
            "running": [{"name": name, "worker": worker, "started": seen[attempt_id]}
                        for attempt_id, name, worker, _ in running],
        }
        temporary = f"{self.path}.tmp-{os.getpid()}"
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
            os.replace(temporary, self.path)
        except OSError as error:  # best effort: the results file is what counts
            self.error = error
            return
        self._written_at, self._written = now, shape

    def remove(self) -> None:
        """The run ended: nothing is running (only in the process that wrote it)."""
        if self._owner.here and self._written_at:
            for path in (self.path, f"{self.path}.tmp-{os.getpid()}"):
                try:
                    os.unlink(path)
                except OSError:
                    pass


@dataclass(frozen=True)
class LiveJob:
    """A job running now: its name, its worker, since when (epoch seconds)."""

    name: str
    worker: str
    started: float


@dataclass(frozen=True)
class LiveState:
    """What a run said it was doing; ``stale`` when that run is gone."""

    pid: int
    host: str
    run_started: float
    updated: float
    total: int
    done: int
    running: tuple[LiveJob, ...]
    stale: bool


def read_live(results: str, now: float | None = None) -> LiveState | None:
    """The live state beside ``results``, or None if there is none (or it cannot be read)."""
    path = live_path(results)
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        running = tuple(LiveJob(str(job["name"]), str(job["worker"]), float(job["started"]))
                        for job in document["running"])
        pid, host, updated = int(document["pid"]), str(document["host"]), float(document["updated"])
        state = (pid, host, float(document["run_started"]), updated, int(document["total"]), int(document["done"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = time.time() if now is None else now
    if host == socket.gethostname():
        stale = not _alive(pid)
    else:
        stale = now - updated > STALE_AFTER
    return LiveState(*state, running, stale)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    # A zombie (a killed run its parent has not reaped) is gone too.
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True
