"""The values taskrunner passes around: jobs, attempts, results, reports.

Plain frozen dataclasses with no I/O, so they pickle cheaply to workers and
compare exactly in tests.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, dataclass, field
from enum import Enum
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from .fields import FIELD, PYTHON_FIELDS, Field, InvalidValue
from .slotbuild import built

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
class Job:
    """One unit of work: a shell command (``run``) or a Python callable (``call``).

    >>> Job(name="hello", run="echo hello").is_command
    True
    >>> Job(name="sq", call="examples.tasks:square", args=(3,)).is_command
    False

    ``depends_on`` names jobs that must finish ``ok`` first (if one does not,
    this job is ``skipped``). ``run`` is a shell string (run by ``/bin/sh -c``, or ``shell``) or an argv sequence
    (executed directly). ``call`` is ``"package.module:function"`` or a
    module-level function object. Relative ``cwd`` and the import path of
    ``call`` resolve against ``base_dir`` (the job file's folder), else the
    current directory. When the job ends, every process it started ends too
    (new sessions and daemons included), unless ``keep_children``. A command
    whose exit status is in ``success_codes`` is ``ok``. A job with
    ``outputs`` that are all newer than its ``inputs`` (paths or globs,
    relative to its working directory) is ``uptodate`` without running.
    Among ready jobs, a higher ``priority`` starts first.
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
    success_codes: tuple[int, ...] = (0,)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    priority: int = 0
    #: What it needs of the run's resources, as sorted (name, amount) pairs.
    resources: tuple[tuple[str, float], ...] = ()
    memory_limit: float | None = None
    #: The shell of a ``run`` string, as an argv prefix (None: ``/bin/sh -c``).
    shell: tuple[str, ...] | None = None
    #: False: runs only when selected (``--only``, ``--tag``) or needed by one that runs.
    default: bool = True
    #: True: a job that fails keeps what it made of its ``outputs`` (else they are removed).
    keep_failed_outputs: bool = False
    #: How up-to-dateness is judged: ``mtime`` (make's rule) or ``content`` (hashes).
    freshness: str = "mtime"
    #: Internal: the text standing for ``{%}`` (the worker slot) outside shell
    #: strings, replaced where the job runs (see ``taskrunner.slotfill``).
    slot_token: str | None = None

    def __post_init__(self) -> None:
        # The same checks as the job-file reader's, from the one field table.
        _check_name(self.name)
        if (self.run is None) == (self.call is None):
            raise ValueError(f"job {self.name!r}: give exactly one of run= or call=")
        for spec, value, default in zip(PYTHON_FIELDS, _python_values(self), _PYTHON_DEFAULTS):
            if value is None or value is default or (type(value) is dict and not value):
                continue  # not given: None, the field's own default, {} (a hot path)
            object.__setattr__(self, spec.name, _checked(self.name, spec, value))
        object.__setattr__(self, "kwargs", _read_only(dict(self.kwargs)))
        object.__setattr__(self, "env", _read_only(dict(self.env)))
        if self.call is None and (self.args or self.kwargs):
            raise ValueError(f"job {self.name!r}: args=/kwargs= go with call=, not run=")
        _check_text(self)

    @property
    def is_command(self) -> bool:
        """True for a ``run`` job, False for a ``call`` job."""
        return self.run is not None

    def __reduce__(self) -> tuple[Any, ...]:
        # A job crosses a pipe with every attempt: its values in field order,
        # without the field names (a third of the bytes, and faster to load
        # in the worker). MappingProxyType does not pickle: plain dicts.
        values = list(_job_values(self))
        values[_KWARGS_POSITION] = dict(self.kwargs)
        values[_ENV_POSITION] = dict(self.env)
        return (_rebuild_job, (tuple(values),))


def trusted_job(**values: Any) -> Job:
    """A ``Job`` from values already validated and normalized by the job-file
    reader: ``run`` a str or tuple, ``args``/``tags``/``depends_on`` tuples,
    numbers checked. Skips ``__post_init__``, which cost more than reading the
    job from YAML (0.45 of 2 s for 50,000 jobs); the reader's own checks are
    the same ones, with line numbers."""
    fields = {**_JOB_DEFAULTS, **values}
    kwargs, env = fields.get("kwargs"), fields.get("env")
    fields["kwargs"] = _read_only(dict(kwargs)) if kwargs else _EMPTY
    fields["env"] = _read_only(dict(env)) if env else _EMPTY
    return built(Job, fields)


#: Fields whose filled-in text needs no check again: the name is checked on
#: its own, a shell string or argv stays one (values go in quoted or as
#: variables), env values are text; NUL is looked for separately.
_STAYS_VALID = frozenset({"name", "run", "env"})


def field_checks(changed: Collection[str]) -> tuple[Field, ...]:
    """The checks ``expanded_job`` runs for jobs whose ``changed`` fields were filled in."""
    return tuple(spec for spec in PYTHON_FIELDS if spec.name in changed and spec.name not in _STAYS_VALID)


def expanded_job(checks: tuple[Field, ...], values: dict[str, Any]) -> Job:
    """A ``Job`` from every field of a job-file template (``job_template``,
    which passed the reader's checks) with matrix values filled in: only the
    name and the fields of ``checks`` (``field_checks``) are checked again,
    with the errors ``Job()`` raises (the reader refused a NUL in any matrix
    value): a million-job matrix pays for its placeholders, not for every
    field of every job. A ``kwargs`` or ``env`` dict in ``values`` becomes
    the job's own, read-only.

    >>> expanded_job(field_checks({"name", "run", "cwd"}), job_template(name="n", run="true", cwd=7))
    Traceback (most recent call last):
    ...
    ValueError: job 'n': cwd must be a non-empty string, got 7
    """
    name = values["name"]
    if type(name) is not str or not name.strip():
        _check_name(name)
    for spec in checks:
        if values[spec.name] is not None:
            values[spec.name] = _checked(name, spec, values[spec.name])
    for key in ("kwargs", "env"):
        if type(values[key]) is dict:  # (one the template's fill made for this job)
            values[key] = MappingProxyType(values[key]) if values[key] else _EMPTY
    return built(Job, values)


def job_template(**values: Any) -> dict[str, Any]:
    """Every field of a job: ``values``, the defaults for the rest; ``env``
    read-only (shared by the jobs made from it that do not fill it in), and
    ``kwargs`` a dict (each job gets a copy: see ``matrixfill``)."""
    fields = {**_JOB_DEFAULTS, **values}
    fields["kwargs"] = dict(fields.get("kwargs") or {})
    fields["env"] = _read_only(dict(fields.get("env") or {}))
    return fields


def _check_name(name: Any) -> None:
    try:
        FIELD["name"].check(name)
    except InvalidValue:
        raise ValueError(f"job name must be a non-empty string, got {name!r}") from None


def _checked(name: str, spec: Field, value: Any) -> Any:
    """``value`` checked and normalized for the field ``spec`` of job ``name``."""
    try:
        return spec.check_python(value)
    except InvalidValue as problem:
        raise ValueError(f"job {name!r}: {spec.name} {problem}") from None
    except TypeError as problem:
        raise TypeError(f"job {name!r}: {spec.name}= {problem}") from None


def _check_text(job: Job) -> None:
    """No NUL in what reaches the OS (the reader checks the job file's text)."""
    texts = [job.name, *job.env, *job.env.values(), job.cwd or ""]
    texts += [job.run] if isinstance(job.run, str) else list(job.run or ())
    texts += [job.call] if isinstance(job.call, str) else []
    if any("\x00" in text for text in texts):
        raise ValueError(f"job {job.name!r}: contains a NUL character, which no command, environment or path can carry")


_JOB_DEFAULTS = {
    name: spec.default for name, spec in Job.__dataclass_fields__.items() if spec.default is not MISSING
}
#: The fields ``Job()`` checks, their values, and their defaults (which need
#: no check: the very objects, compared by identity).
_python_values = attrgetter(*(spec.name for spec in PYTHON_FIELDS))
_PYTHON_DEFAULTS = tuple(_JOB_DEFAULTS.get(spec.name) for spec in PYTHON_FIELDS)


_JOB_FIELDS = tuple(Job.__dataclass_fields__)
_job_values = attrgetter(*_JOB_FIELDS)
_KWARGS_POSITION = _JOB_FIELDS.index("kwargs")
_ENV_POSITION = _JOB_FIELDS.index("env")


def _rebuild_job(values: tuple[Any, ...]) -> Job:
    # The values were validated when the Job was made; a worker unpickles one
    # Job per attempt, so skip __post_init__ and only restore the read-only maps.
    fields = dict(zip(_JOB_FIELDS, values))
    fields["kwargs"] = _read_only(fields["kwargs"])
    fields["env"] = _read_only(fields["env"])
    return built(Job, fields)


#: The one empty read-only map that jobs without kwargs or env share.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _read_only(values: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(values) if values else _EMPTY


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
_STATUS_BY_VALUE = {status.value: status for status in Status}
#: Stands for ``((started, finished, worker, status),)`` in a pickled result.
_OWN_HISTORY = 0


def rebuilt_result(values: tuple[Any, ...]) -> JobResult:
    """A ``JobResult`` from its field values in declared order, the status as
    text (what a results line or a pickle carries), without ``__init__``."""
    fields = dict(zip(_RESULT_FIELDS, values))
    fields["status"] = _STATUS_BY_VALUE[fields["status"]]
    # A coordinator keeps every result of a run: one copy of the worker's
    # name for all, and a history made of the result's own values.
    worker = fields["worker"]
    if type(worker) is str:
        fields["worker"] = worker = sys.intern(worker)
    if fields["history"] == _OWN_HISTORY:
        fields["history"] = ((fields["started"], fields["finished"], worker, fields["status"].value),)
    return built(JobResult, fields)


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
