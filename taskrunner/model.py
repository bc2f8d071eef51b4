"""The values taskrunner passes around: jobs, attempts, results, reports.

Plain frozen dataclasses with no I/O, so they pickle cheaply to workers and
compare exactly in tests.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = ["FAILURES", "Attempt", "Job", "JobResult", "RunReport", "Status"]


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

    def __str__(self) -> str:
        return self.value


#: The statuses of a job that ran and did not succeed: retried while retries
#: remain, counted by --max-failures, listed in the summary.
FAILURES = frozenset({Status.FAILED, Status.TIMEOUT, Status.CRASHED})


_T = TypeVar("_T")

def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


def _built(cls: type[_T], values: Mapping[str, Any]) -> _T:
    """An instance of the frozen dataclass ``cls`` with ``values`` for its
    fields, without running ``__init__``. Fields are set one by one in their
    declared order, as ``__init__`` does, so instances keep CPython's compact
    shared-key attribute storage (``__dict__.update`` costs ~70% more memory
    an object, which shows at 100,000 jobs)."""
    instance = object.__new__(cls)
    for name in cls.__dataclass_fields__:  # type: ignore[attr-defined]
        object.__setattr__(instance, name, values[name])
    return instance


@dataclass(frozen=True)
class Job:
    """One unit of work: a shell command (``run``) or a Python callable (``call``).

    >>> Job(name="hello", run="echo hello").is_command
    True
    >>> Job(name="sq", call="examples.tasks:square", args=(3,)).is_command
    False

    ``depends_on`` names jobs that must finish ``ok`` first (if one does not,
    this job is ``skipped``). ``run`` is a shell string (run by ``/bin/sh -c``) or an argv sequence
    (executed directly). ``call`` is ``"package.module:function"`` or a
    module-level function object. Relative ``cwd`` and the import path of
    ``call`` resolve against ``base_dir`` (the job file's folder), else the
    current directory. When the job ends, every process it started ends too
    (new sessions and daemons included), unless ``keep_children``.
    """

    name: str
    run: str | tuple[str, ...] | None = None
    call: str | Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 0.0
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    base_dir: str | None = None
    keep_children: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"job name must be a non-empty string, got {self.name!r}")
        if (self.run is None) == (self.call is None):
            raise ValueError(f"job {self.name!r}: give exactly one of run= or call=")
        if self.run is not None and not isinstance(self.run, str):
            object.__setattr__(self, "run", tuple(str(a) for a in self.run))
            if not self.run:
                raise ValueError(f"job {self.name!r}: run= argv list is empty")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", _frozen_mapping(self.kwargs))
        object.__setattr__(self, "env", _frozen_mapping(self.env))
        _check_text(self)
        object.__setattr__(self, "tags", _names(self.tags, self.name, "tags"))
        object.__setattr__(self, "depends_on", _names(self.depends_on, self.name, "depends_on"))
        if self.call is not None and not (callable(self.call) or isinstance(self.call, str)):
            raise TypeError(f"job {self.name!r}: call= must be 'module:function' or a function")
        if self.call is None and (self.args or self.kwargs):
            raise ValueError(f"job {self.name!r}: args=/kwargs= go with call=, not run=")
        if self.timeout is not None and not (_is_number(self.timeout) and self.timeout > 0):
            raise ValueError(f"job {self.name!r}: timeout must be a number of seconds > 0")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            raise ValueError(f"job {self.name!r}: retries must be a whole number >= 0")
        if not isinstance(self.keep_children, bool):
            raise TypeError(f"job {self.name!r}: keep_children must be True or False")
        if not _is_number(self.retry_delay) or self.retry_delay < 0:
            raise ValueError(f"job {self.name!r}: retry_delay must be a number of seconds >= 0")

    @property
    def is_command(self) -> bool:
        """True for a ``run`` job, False for a ``call`` job."""
        return self.run is not None

    def __reduce__(self) -> tuple[Any, ...]:
        # MappingProxyType does not pickle; send plain dicts and rebuild.
        values = self.__dict__.copy()
        values["kwargs"] = dict(self.kwargs)
        values["env"] = dict(self.env)
        return (_rebuild_job, (values,))


def trusted_job(**values: Any) -> Job:
    """A ``Job`` from values already validated and normalized by the job-file
    reader: ``run`` a str or tuple, ``args``/``tags``/``depends_on`` tuples,
    numbers checked. Skips ``__post_init__``, which cost more than reading the
    job from YAML (0.45 of 2 s for 50,000 jobs); the reader's own checks are
    the same ones, with line numbers."""
    fields = dict(_JOB_DEFAULTS)
    fields.update(values)
    fields["kwargs"] = MappingProxyType(dict(fields.get("kwargs") or {}))
    fields["env"] = MappingProxyType(dict(fields.get("env") or {}))
    return _built(Job, fields)


def _check_text(job: Job) -> None:
    """Environment values must be strings; no NUL in what reaches the OS."""
    for key, value in job.env.items():
        if not isinstance(key, str) or not key or "=" in key:
            raise ValueError(f"job {job.name!r}: env has an invalid variable name {key!r}")
        if not isinstance(value, str):
            raise TypeError(f"job {job.name!r}: env value of {key!r} must be a string, got {value!r}")
    texts = [job.name, *job.env, *job.env.values(), job.cwd or ""]
    texts += [job.run] if isinstance(job.run, str) else list(job.run or ())
    texts += [job.call] if isinstance(job.call, str) else []
    if any("\x00" in text for text in texts):
        raise ValueError(f"job {job.name!r}: contains a NUL character, which no command, environment or path can carry")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _names(value: str | Any, job: str, field_name: str) -> tuple[str, ...]:
    """A string or an iterable of non-empty strings, as a tuple."""
    names = (value,) if isinstance(value, str) else tuple(value)
    if names and not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"job {job!r}: {field_name}= must be a name or a list of names")
    return names


_JOB_DEFAULTS = {
    name: spec.default for name, spec in Job.__dataclass_fields__.items() if spec.default is not MISSING
}


def _rebuild_job(values: dict[str, Any]) -> Job:
    # The values were validated when the Job was made; a worker unpickles one
    # Job per attempt, so skip __post_init__ and only restore the read-only maps.
    values["kwargs"] = MappingProxyType(values["kwargs"])
    values["env"] = MappingProxyType(values["env"])
    return _built(Job, values)


@dataclass(frozen=True)
class Attempt:
    """One try of one job, as sent to a worker.

    ``attempt_id`` is unique within a run; ``number`` counts from 1.
    """

    attempt_id: int
    job: Job
    number: int
    stdout_log: str
    stderr_log: str


@dataclass(frozen=True)
class JobResult:
    """The outcome of a job (or of one attempt of it): one results-file line.

    Fields ``name status returncode value error attempts started finished
    duration worker`` are the results-file contract; ``stdout_log``,
    ``stderr_log`` and ``stderr_tail`` point at and excerpt the job's output;
    ``history`` holds ``(started, finished, worker, status)`` of every attempt
    that ran (for the timeline); ``job_hash`` fingerprints the job's definition
    (see ``taskrunner.jobhash``), so ``--resume`` can tell a stale success.

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

    @property
    def ok(self) -> bool:
        """True when the job succeeded."""
        return self.status is Status.OK

    def __reduce__(self) -> tuple[Any, ...]:
        # Every result crosses a pipe: a values tuple with the status as text
        # pickles to half the bytes of a dataclass's state dict and loads
        # faster (an Enum is rebuilt by calling its class).
        fields = self.__dict__
        values = [fields[name] for name in _RESULT_FIELDS]
        values[_STATUS_POSITION] = self.status.value
        return (_rebuild_result, (tuple(values),))

    def evolve(self, **changes: Any) -> JobResult:
        """A copy with ``changes``, like ``dataclasses.replace`` but without its
        generic machinery (this runs once per job on the coordinator).

        >>> JobResult("a", Status.OK).evolve(attempts=2).attempts
        2
        """
        unknown = changes.keys() - self.__dataclass_fields__.keys()
        if unknown:
            raise TypeError(f"unknown JobResult fields: {sorted(unknown)}")
        return _built(JobResult, {**self.__dict__, **changes})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the status as its string value."""
        # Field by field rather than dataclasses.asdict, which deep-copies
        # every value: this runs once per job on the coordinator.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["status"] = self.status.value
        data["history"] = [list(entry) for entry in self.history]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobResult:
        """Rebuild a result from a results-file line; unknown keys are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["status"] = Status(known["status"])
        known["history"] = tuple(tuple(entry) for entry in known.get("history") or ())
        return cls(**known)


_RESULT_FIELDS = tuple(JobResult.__dataclass_fields__)
_STATUS_POSITION = _RESULT_FIELDS.index("status")
_STATUS_BY_VALUE = {status.value: status for status in Status}


def _rebuild_result(values: tuple[Any, ...]) -> JobResult:
    fields = dict(zip(_RESULT_FIELDS, values))
    fields["status"] = _STATUS_BY_VALUE[fields["status"]]
    return _built(JobResult, fields)


@dataclass(frozen=True)
class RunReport:
    """What a run produced: one ``JobResult`` per job, in job order.

    ``kept`` counts the results taken from an earlier run instead of running
    the job again (``--resume``); ``notes`` are one-line remarks about the
    results file (a torn last line ignored, lines of other jobs kept).

    >>> report = RunReport((JobResult("a", Status.OK),), wall_time=0.1)
    >>> report.ok, report["a"].status.value, report.counts["ok"]
    (True, 'ok', 1)
    """

    results: tuple[JobResult, ...]
    wall_time: float = 0.0
    interrupted_by: str | None = None
    results_path: str | None = None
    log_dir: str | None = None
    kept: int = 0
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[JobResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, name: str) -> JobResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def ok(self) -> bool:
        """True when every job finished ``ok`` and the run was not interrupted."""
        return self.interrupted_by is None and all(r.ok for r in self.results)

    @property
    def counts(self) -> dict[str, int]:
        """Number of jobs per status value (every status present, zeros included)."""
        counter = Counter(r.status.value for r in self.results)
        return {status.value: counter.get(status.value, 0) for status in Status}

    def to_json(self) -> str:
        """The report as one JSON document (counts, wall time, every result)."""
        return json.dumps(
            {
                "ok": self.ok,
                "counts": self.counts,
                "wall_time": self.wall_time,
                "interrupted_by": self.interrupted_by,
                "results_path": self.results_path,
                "log_dir": self.log_dir,
                "kept": self.kept,
                "notes": list(self.notes),
                "results": [r.to_dict() for r in self.results],
            }
        )
