"""The final results of a run, kept small: a million-job run keeps a million.

A ``JobResult`` object with its strings, floats and history tuples takes
some 500 bytes; most results look alike (one attempt, no output, no error),
and those are kept here as a row of numbers instead (about 50 bytes, plus
the return value itself). Any other result is kept whole. ``JobResult``s
are made again, equal to the ones stored, when asked for.

    >>> from taskrunner.model import Job, Status
    >>> store = ResultStore([Job(name="a", run="true"), Job(name="b", run="true")])
    >>> result = JobResult("a", Status.OK, 0, None, None, 1, 10.0, 10.5, 0.5, "w0-1",
    ...                    history=((10.0, 10.5, "w0-1", "ok"),), job_hash="c289865de1942316")
    >>> store.put(0, result)
    >>> store.get(0) == result, store.get(1), store.compact_count
    (True, None, 1)
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..model import Job, JobResult, Status
from .lazyresults import Brief, LazyResults

__all__ = ["ResultStore", "ResultsView"]

_STATUSES = tuple(Status)
_CODE = {status: code for code, status in enumerate(_STATUSES, start=1)}
#: ``returncode`` None, as a 32-bit integer (an exit status or a signal's
#: number: 4 bytes a job, not 8).
_NO_CODE = -(1 << 31)
#: ``max_rss`` None, in the row's unsigned 32-bit count of KiB (the kernel
#: measures in KiB: up to 4 TiB in 4 bytes a job, not 8).
_NO_RSS = (1 << 32) - 1
_HEX_DIGITS = frozenset("0123456789abcdef")
_SCALARS = frozenset({int, float, str, bool})
#: How many distinct return values a store keeps one copy of.
SHARED_VALUES = 4096


def _fits_code(value: Any) -> bool:
    return value is None or (type(value) is int and _NO_CODE < value < -_NO_CODE)


def _fits_rss(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0 and not value & 1023 and value >> 10 < _NO_RSS)


class ResultStore:
    """The final result of each of ``jobs`` (by index), or None while it has none."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        count = len(jobs)
        self.jobs = jobs
        self._status = bytearray(count)  # 0: no final result yet
        self._started = array("d", bytes(8 * count))
        self._finished = array("d", bytes(8 * count))
        self._returncode = array("i", bytes(4 * count))
        self._max_rss_kib = array("I", bytes(4 * count))
        self._attempts = array("I", bytes(4 * count))
        self._hash = bytearray(8 * count)
        self._worker = array("H", bytes(2 * count))
        self._values: list[Any] = [None] * count
        self._seen: dict[tuple[type, Any], Any] = {}  # see _shared
        self._workers: list[str] = []
        self._worker_index: dict[str, int] = {}
        #: The results kept as they are (job index -> result).
        self._whole: dict[int, JobResult] = {}

    def __len__(self) -> int:
        return len(self._status)

    @property
    def compact_count(self) -> int:
        """How many results are kept as rows."""
        return sum(1 for code in self._status if code) - len(self._whole)

    def complete(self) -> bool:
        """Whether every job has its final result."""
        return all(self._status)

    def has(self, index: int) -> bool:
        """Whether job ``index`` has its final result."""
        return bool(self._status[index])

    def status(self, index: int) -> Status | None:
        """The final status of job ``index`` (None: not final yet)."""
        code = self._status[index]
        return _STATUSES[code - 1] if code else None

    def status_counts(self) -> Counter[str]:
        """How many final results have each status value."""
        counts = Counter(self._status)
        counts.pop(0, None)
        return Counter({_STATUSES[code - 1].value: number for code, number in counts.items()})

    def put(self, index: int, result: JobResult) -> None:
        """Keep ``result`` as job ``index``'s final result (replacing any)."""
        self._whole.pop(index, None)
        self._status[index] = _CODE[result.status]
        if not self._put_row(index, result):
            self._whole[index] = result

    def _put_row(self, index: int, result: JobResult) -> bool:
        """Keep ``result`` as a row if it is one that ``get`` gives back equal."""
        started, finished, worker, job_hash = result.started, result.finished, result.worker, result.job_hash
        if (
            result.name != self.jobs[index].name
            or result.error is not None
            or result.stdout_log is not None
            or result.stderr_log is not None
            or result.stderr_tail is not None
            or result.content_hash is not None
            or result.worker_logs is not None
            or type(started) is not float
            or type(finished) is not float
            or result.duration != finished - started
            or type(worker) is not str
            or result.history != ((started, finished, worker, result.status.value),)
            or type(job_hash) is not str
            or len(job_hash) != 16
            or not _HEX_DIGITS.issuperset(job_hash)
            or not _fits_code(result.returncode)
            or not _fits_rss(result.max_rss)
            or not 0 <= result.attempts < (1 << 32)
        ):
            return False
        slot = self._worker_index.get(worker)
        if slot is None:
            if len(self._workers) >= 1 << 16:
                return False
            slot = self._worker_index[worker] = len(self._workers)
            self._workers.append(worker)
        self._started[index], self._finished[index] = started, finished
        self._returncode[index] = _NO_CODE if result.returncode is None else result.returncode
        self._max_rss_kib[index] = _NO_RSS if result.max_rss is None else result.max_rss >> 10
        self._attempts[index] = result.attempts
        self._hash[8 * index : 8 * index + 8] = bytes.fromhex(job_hash)
        self._worker[index] = slot
        self._values[index] = self._shared(result.value)
        return True

    def _shared(self, value: Any) -> Any:
        """One object for values that repeat (a worker's pid, ``True``, ``"done"``):
        each result's value arrives as its own copy, 28 bytes and more a job.
        Only scalars, keyed by type (``1``, ``1.0`` and ``True`` stay apart),
        and only the first SHARED_VALUES distinct ones."""
        kind = type(value)
        if kind not in _SCALARS:
            return value
        key = (kind, value)
        known = self._seen.get(key)
        if known is not None:
            return known
        if len(self._seen) < SHARED_VALUES:
            self._seen[key] = value
        return value

    def brief(self, index: int) -> Brief:
        """Job ``index``'s final status, attempts and duration (it must have a result)."""
        whole = self._whole.get(index)
        if whole is not None:
            return whole.status, whole.attempts, whole.duration
        return _STATUSES[self._status[index] - 1], self._attempts[index], self._finished[index] - self._started[index]

    def get(self, index: int) -> JobResult | None:
        """Job ``index``'s final result, or None while it has none."""
        code = self._status[index]
        if not code:
            return None
        whole = self._whole.get(index)
        if whole is not None:
            return whole
        status = _STATUSES[code - 1]
        started, finished = self._started[index], self._finished[index]
        worker = self._workers[self._worker[index]]
        returncode, max_rss_kib = self._returncode[index], self._max_rss_kib[index]
        return JobResult(
            self.jobs[index].name, status, None if returncode == _NO_CODE else returncode, self._values[index], None,
            self._attempts[index], started, finished, finished - started, worker,
            history=((started, finished, worker, status.value),),
            job_hash=self._hash[8 * index : 8 * index + 8].hex(), max_rss=None if max_rss_kib == _NO_RSS else max_rss_kib << 10,
        )


class ResultsView(LazyResults):
    """The final results of a ``ResultStore``, in job order, as a read-only
    sequence of ``JobResult`` (made as they are read: a report of a million
    jobs does not hold a million objects). Jobs without a result are left out."""

    def __init__(self, store: ResultStore) -> None:
        count = len(store)
        super().__init__(range(count) if store.complete() else [index for index in range(count) if store.has(index)])
        self._store = store

    def _make(self, index: int) -> JobResult:
        result = self._store.get(index)
        assert result is not None
        return result

    def _brief(self, index: int) -> Brief:
        return self._store.brief(index)

    def status_counts(self) -> Counter[str]:
        """How many results have each status value (without making them)."""
        return self._store.status_counts()
