"""The values taskrunner passes around: jobs, attempts, results, reports.

Plain frozen dataclasses with no I/O, so they pickle cheaply to workers and
compare exactly in tests.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from typing import Any

from .job import Job, built, slot_builder

__all__ = ["FAILURES", "SUCCESSES", "Attempt", "Job", "JobResult", "Status", "rebuilt_result", "skip_reason",
           "skipped_after"]


class Status(str, Enum):
    """The final (or per-attempt) outcome of a job; compares equal to its string.

    >>> Status("timeout") is Status.TIMEOUT, Status.OK == "ok"
    (True, True)
    """

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    UPTODATE = "uptodate"

    def __str__(self) -> str:
        return self.value


#: The statuses of a job that ran and did not succeed: retried while retries
#: remain, counted by --max-failures, listed in the summary.
FAILURES = frozenset({Status.FAILED, Status.TIMEOUT, Status.CRASHED})
#: The statuses that count as success: ``ok``, and ``uptodate`` (its outputs
#: were newer than its inputs, so it did not need to run).
SUCCESSES = frozenset({Status.OK, Status.UPTODATE})


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one job, as sent to a worker.

    ``attempt_id`` is unique within a run; ``number`` counts from 1. Empty
    log paths: a call's output is not captured (it goes where the worker's does).
    """

    attempt_id: int
    job: Job
    number: int
    stdout_log: str
    stderr_log: str
    #: The job's 1-based place in the run's list of jobs (``{#}``, ``TASKRUNNER_SEQ``).
    seq: int = 0
    #: The gpu devices it holds (``CUDA_VISIBLE_DEVICES``; empty: none); None
    #: when the run does not manage gpus.
    gpus: tuple[str, ...] | None = None
    #: For a ``call``: send back the Python value (or exception) itself,
    #: pickled, instead of its JSON record (see ``taskrunner.callvalue``).
    keep_value: bool = False
    #: Measure the call's peak memory (``max_rss``): off only where no one
    #: reads it (an Executor without a results file), as it costs a few µs.
    measure_memory: bool = True

    def __reduce__(self) -> tuple[Any, ...]:
        # One crosses a pipe for every attempt: positional values (a slotted
        # dataclass's default pickling looks up its fields every time).
        return (Attempt, _attempt_values(self))


_attempt_values = attrgetter(*Attempt.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class JobResult:
    """The outcome of a job (or of one attempt of it): one results-file line.

    Fields ``name status returncode value error attempts started finished
    duration worker`` are the results-file contract; ``stdout_log``,
    ``stderr_log`` and ``stderr_tail`` point at and excerpt the job's output;
    ``history`` holds ``(started, finished, worker, status)`` of every attempt
    that ran (for the timeline); ``job_hash`` fingerprints the job's definition
    (see ``taskrunner.jobhash``), so ``--resume`` can tell a stale success;
    ``max_rss`` is the peak resident memory of the last attempt, in bytes;
    ``content_hash`` the digest of its files (``freshness: content``);
    ``worker_logs`` where a Dask worker keeps the whole of a log too long
    to come home (``"ADDRESS PATH..."``).

    >>> result = JobResult.from_dict({"name": "a", "status": "failed", "returncode": 3})
    >>> result.ok, result.to_dict()["status"]
    (False, 'failed')
    """

    name: str
    status: Status
    returncode: int | None = None
    value: Any = None
    error: str | None = None
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    duration: float | None = None
    worker: str | None = None
    stdout_log: str | None = None
    stderr_log: str | None = None
    stderr_tail: str | None = None
    history: tuple[tuple[float, float, str, str], ...] = ()
    job_hash: str | None = None
    max_rss: int | None = None
    #: ``freshness: content`` only: the digest of the job's inputs and outputs when it last ran.
    content_hash: str | None = None
    #: Dask only: the worker and the paths there of logs that came home cut short.
    worker_logs: str | None = None

    @property
    def ok(self) -> bool:
        """True when the job succeeded (``ok``, or ``uptodate``: nothing to do)."""
        return self.status in SUCCESSES

    def __reduce__(self) -> tuple[Any, ...]:
        # Every result crosses a pipe: a values tuple with the status as text
        # pickles to half the bytes of a dataclass's state dict and loads
        # faster (an Enum is rebuilt by calling its class).
        values = list(_result_values(self))
        values[_STATUS_POSITION] = self.status.value
        if self.history == ((self.started, self.finished, self.worker, values[_STATUS_POSITION]),):
            # A single attempt's history repeats four other fields: sent as
            # a mark, rebuilt from them (fewer bytes, and no copies kept).
            values[_HISTORY_POSITION] = _OWN_HISTORY
        return (rebuilt_result, (tuple(values),))

    def evolve(self, **changes: Any) -> JobResult:
        """A copy with ``changes``, like ``dataclasses.replace`` but without its
        generic machinery (this runs once per job on the coordinator).

        >>> JobResult("a", Status.OK).evolve(attempts=2).attempts
        2
        """
        unknown = changes.keys() - self.__dataclass_fields__.keys()
        if unknown:
            raise TypeError(f"unknown JobResult fields: {sorted(unknown)}")
        values = dict(zip(_RESULT_FIELDS, _result_values(self)))
        values.update(changes)
        return built(JobResult, values)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the status as its string value."""
        # Field by field rather than dataclasses.asdict, which deep-copies
        # every value: this runs once per job on the coordinator.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["status"] = self.status.value
        data["history"] = [list(entry) for entry in self.history]
        # Only lines that need them carry these.
        for optional in ("content_hash", "worker_logs"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobResult:
        """Rebuild a result from a results-file line; unknown keys are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["status"] = Status(known["status"])
        known["history"] = tuple(tuple(entry) for entry in known.get("history") or ())
        return cls(**known)


_RESULT_FIELDS = tuple(JobResult.__dataclass_fields__)
_result_values = attrgetter(*_RESULT_FIELDS)
_STATUS_POSITION = _RESULT_FIELDS.index("status")
_HISTORY_POSITION = _RESULT_FIELDS.index("history")
_WORKER_POSITION = _RESULT_FIELDS.index("worker")
_STARTED_POSITION = _RESULT_FIELDS.index("started")
_FINISHED_POSITION = _RESULT_FIELDS.index("finished")
_STATUS_BY_VALUE = {status.value: status for status in Status}
#: Stands for ``((started, finished, worker, status),)`` in a pickled result.
_OWN_HISTORY = 0


def rebuilt_result(values: tuple[Any, ...]) -> JobResult:
    """A ``JobResult`` from its field values in declared order, the status as
    text (what a results line or a pickle carries), without ``__init__``."""
    fields = list(values)
    fields[_STATUS_POSITION] = status = _STATUS_BY_VALUE[fields[_STATUS_POSITION]]
    # A coordinator keeps every result of a run: one copy of the worker's
    # name for all, and a history made of the result's own values.
    worker = fields[_WORKER_POSITION]
    if type(worker) is str:
        fields[_WORKER_POSITION] = worker = sys.intern(worker)
    if fields[_HISTORY_POSITION] == _OWN_HISTORY:
        fields[_HISTORY_POSITION] = ((fields[_STARTED_POSITION], fields[_FINISHED_POSITION], worker, status.value),)
    return _build_result(fields)  # type: ignore[no-any-return]


#: A result from its field values in declared order, without ``__init__``.
_build_result = slot_builder(JobResult, _RESULT_FIELDS, positional=True)


_SKIP_REASON = re.compile(r"dependency (.+) did not succeed$")


def skip_reason(dependency: str) -> str:
    """The error of a job skipped because ``dependency`` did not succeed
    (the results-file text; ``skipped_after`` reads it back).

    >>> skip_reason("gz-1"), skipped_after(JobResult("stats", Status.SKIPPED, error=skip_reason("gz-1")))
    ("dependency 'gz-1' did not succeed", 'gz-1')
    """
    return f"dependency {dependency!r} did not succeed"


def skipped_after(result: JobResult) -> str | None:
    """The name of the dependency whose failure skipped ``result``, if its error says."""
    found = _SKIP_REASON.match(result.error or "") if result.status is Status.SKIPPED else None
    if found is None:
        return None
    try:
        return str(ast.literal_eval(found[1]))
    except (ValueError, SyntaxError):
        return None
