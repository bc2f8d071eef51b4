"""``Job``: one unit of work, and the fast ways the job-file reader makes one.

A job's fields are of two kinds. Its own are the name and what a matrix may
fill in (``run``, ``args``, ``kwargs``, ``env``, ``cwd``, ``depends_on``,
``inputs``, ``outputs``): slots of the job. The others (``call``,
``timeout``, ``retries`` and the rest of ``SHARED_FIELDS``) are the same for
every job a matrix makes, and usually for every job of a file, so they live
in one ``JobShape`` that those jobs share: a job is 112 bytes, not 240 (a
million-job matrix keeps 128 MB less). Read, compared, printed,
pickled, and copied with ``dataclasses.replace``, a ``Job`` is the frozen
dataclass it always was: ``dataclasses.fields(Job)`` lists all its fields.

``built`` and ``slot_builder`` make an instance of a slotted class (a job, a
result) from checked values without ``__init__``: a million-job matrix makes
a million jobs, and its run a million results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, dataclass, field
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .fields import FIELD, PYTHON_FIELDS, Field, InvalidValue

__all__ = ["OWN_FIELDS", "SHARED_FIELDS", "Job", "built", "expanded_job", "field_checks", "job_template",
           "shape_of", "slot_builder", "trusted_job"]

_T = TypeVar("_T")

#: Per slotted dataclass: a function making an instance from a mapping of its field values.
_BUILDERS: dict[type, Callable[[Mapping[str, Any]], Any]] = {}


def built(cls: type[_T], values: Mapping[str, Any]) -> _T:
    """An instance of the frozen, slotted dataclass ``cls`` with ``values``
    for its fields (every one), without running ``__init__``: no defaults,
    no ``__post_init__`` checks."""
    builder = _BUILDERS.get(cls)
    if builder is None:
        builder = _BUILDERS[cls] = slot_builder(cls, tuple(cls.__dataclass_fields__))  # type: ignore[attr-defined]
    return builder(values)  # type: ignore[no-any-return]


def slot_builder(cls: type, names: tuple[str, ...], positional: bool = False) -> Callable[[Any], Any]:
    """A function making an instance of ``cls`` (a class with ``__slots__``)
    from a mapping with a value for each of the slots ``names`` (or, if
    ``positional``, a sequence of them in that order), without running ``__init__``."""
    # One slot setter call per field, written out: a third faster than a loop
    # over (setter, value) pairs, and twice as fast as object.__setattr__ by
    # name. The source is made of the class's own slot names, never of data.
    lines = [f"    set_{name}(instance, values[{index if positional else repr(name)}])"
             for index, name in enumerate(names)]
    source = "def build(values):\n    instance = new(cls)\n" + "\n".join(lines) + "\n    return instance\n"
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    namespace.update({f"set_{name}": cls.__dict__[name].__set__ for name in names})
    exec(source, namespace)  # noqa: S102
    return namespace["build"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Declared:
    """Job's fields as declared: their names, order, types and defaults (see ``Job``)."""

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


#: A job's own fields: the name and every field a matrix may fill in. (Ten
#: slots and the shape: 112 bytes a job; one more would make it 128. The
#: slot token, which a matrix sets but is the same in nearly every job, is shared.)
OWN_FIELDS = ("name", "run", "args", "kwargs", "env", "cwd", "depends_on", "inputs", "outputs")
#: The fields jobs share through their ``JobShape``.
SHARED_FIELDS = tuple(name for name in _Declared.__dataclass_fields__ if name not in OWN_FIELDS)


#: The values of ``SHARED_FIELDS`` that a job shares with others: a frozen,
#: slotted dataclass of those fields of ``_Declared`` (made from them: one
#: declaration of each field; ``Job`` declares their types to type checkers).
JobShape: type = dataclasses.make_dataclass(
    "JobShape", [(spec.name, spec.type) for spec in dataclasses.fields(_Declared) if spec.name in SHARED_FIELDS],
    frozen=True, slots=True)
JobShape.__module__ = __name__


#: The one empty read-only map that jobs without kwargs or env share.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


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
    Among ready jobs, a higher ``priority`` starts first. A job is frozen.
    """

    __slots__ = (*OWN_FIELDS, "_shape")
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]] = _Declared.__dataclass_fields__
    __dataclass_params__: ClassVar[Any] = _Declared.__dataclass_params__  # type: ignore[attr-defined]
    __match_args__ = _Declared.__match_args__

    name: str
    run: str | tuple[str, ...] | None
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    env: Mapping[str, str]
    cwd: str | None
    depends_on: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    _shape: Any  # (a JobShape)
    if TYPE_CHECKING:  # (read from the shape: see the end of this module)
        call: str | Callable[..., Any] | None
        timeout: float | None
        retries: int
        retry_delay: float
        tags: tuple[str, ...]
        base_dir: str | None
        keep_children: bool
        success_codes: tuple[int, ...]
        priority: int
        resources: tuple[tuple[str, float], ...]
        memory_limit: float | None
        shell: tuple[str, ...] | None
        default: bool
        keep_failed_outputs: bool
        freshness: str
        slot_token: str | None

    def __init__(
        self, name: str, run: str | tuple[str, ...] | None = None, call: str | Callable[..., Any] | None = None,
        args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] = _EMPTY, env: Mapping[str, str] = _EMPTY,
        cwd: str | None = None, timeout: float | None = None, retries: int = 0, retry_delay: float = 0.0,
        tags: tuple[str, ...] = (), depends_on: tuple[str, ...] = (), base_dir: str | None = None,
        keep_children: bool = False, success_codes: tuple[int, ...] = (0,), inputs: tuple[str, ...] = (),
        outputs: tuple[str, ...] = (), priority: int = 0, resources: tuple[tuple[str, float], ...] = (),
        memory_limit: float | None = None, shell: tuple[str, ...] | None = None, default: bool = True,
        keep_failed_outputs: bool = False, freshness: str = "mtime", slot_token: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "name": name, "run": run, "call": call, "args": args, "kwargs": kwargs, "env": env, "cwd": cwd,
            "timeout": timeout, "retries": retries, "retry_delay": retry_delay, "tags": tags,
            "depends_on": depends_on, "base_dir": base_dir, "keep_children": keep_children,
            "success_codes": success_codes, "inputs": inputs, "outputs": outputs, "priority": priority,
            "resources": resources, "memory_limit": memory_limit, "shell": shell, "default": default,
            "keep_failed_outputs": keep_failed_outputs, "freshness": freshness, "slot_token": slot_token,
        }
        _check(values)  # the same checks as the job-file reader's, from the one field table
        values["_shape"] = _shape_of(values)
        for own in Job.__slots__:
            object.__setattr__(self, own, values[own])

    @property
    def is_command(self) -> bool:
        """True for a ``run`` job, False for a ``call`` job."""
        return self.run is not None

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(_job_values(self) == _job_values(other))

    def __hash__(self) -> int:
        return hash(_job_values(self))

    def __repr__(self) -> str:
        return f"Job({', '.join(f'{name}={value!r}' for name, value in zip(_JOB_FIELDS, _job_values(self)))})"

    def __replace__(self, **changes: Any) -> Job:  # (copy.replace, Python 3.13)
        return dataclasses.replace(self, **changes)

    def __reduce__(self) -> tuple[Any, ...]:
        # A job crosses a pipe with every attempt: its values in field order,
        # without the field names (a third of the bytes, and faster to load
        # in the worker). MappingProxyType does not pickle: plain dicts.
        values = list(_job_values(self))
        values[_KWARGS_POSITION] = dict(self.kwargs)
        values[_ENV_POSITION] = dict(self.env)
        return (_rebuild_job, (tuple(values),))


for _name in SHARED_FIELDS:  # each a read-only property of the shape's value
    setattr(Job, _name, property(attrgetter(f"_shape.{_name}"), doc=f"The job's ``{_name}`` (shared: ``JobShape``)."))


def shape_of(job: Job) -> Any:
    """The ``JobShape`` holding ``job``'s ``SHARED_FIELDS``: the same object
    for every job that shares them (a bulk reader may work a shape out once)."""
    return job._shape


_JOB_FIELDS = tuple(_Declared.__dataclass_fields__)
_job_values = attrgetter(*_JOB_FIELDS)
_KWARGS_POSITION = _JOB_FIELDS.index("kwargs")
_ENV_POSITION = _JOB_FIELDS.index("env")
_JOB_DEFAULTS = {name: spec.default for name, spec in _Declared.__dataclass_fields__.items() if spec.default is not MISSING}
_JOB_DEFAULTS["kwargs"] = _JOB_DEFAULTS["env"] = _EMPTY
#: The fields ``Job()`` checks, and their defaults (which need no check: the
#: very objects, compared by identity).
_PYTHON_DEFAULTS = tuple((spec, _JOB_DEFAULTS.get(spec.name)) for spec in PYTHON_FIELDS)
#: A job from a mapping of its own fields and ``_shape``, without ``__init__``.
_build = slot_builder(Job, Job.__slots__)
#: The values and types of the shape made last, and the shape: the next job
#: with the same values shares it (a file's jobs mostly do; see ``_shape_of``).
_last_shape: tuple[tuple[Any, ...], tuple[type, ...], Any] = ((), (), None)


def _shape_of(values: Mapping[str, Any]) -> Any:
    """The shape of a job with these field values: the last one made, when
    its values are these (of the same types: ``1`` is not ``1.0``), else a
    new one; always a new one for a job that calls a function object."""
    global _last_shape
    call = values["call"]
    if call is not None and type(call) is not str:
        # A function object (an Executor's, a script's) is never kept here:
        # once its jobs are gone, nothing of taskrunner's may hold it alive.
        return built(JobShape, values)
    shared = tuple([values[name] for name in SHARED_FIELDS])
    last_values, last_types, shape = _last_shape
    kinds = tuple(map(type, shared))
    if shape is None or shared != last_values or kinds != last_types:
        shape = built(JobShape, values)
        _last_shape = (shared, kinds, shape)
    return shape


def _check(values: dict[str, Any]) -> None:
    """``Job()``'s checks: ``values`` normalized in place, or ValueError/TypeError."""
    name = values["name"]
    _check_name(name)
    if (values["run"] is None) == (values["call"] is None):
        raise ValueError(f"job {name!r}: give exactly one of run= or call=")
    for spec, default in _PYTHON_DEFAULTS:
        value = values[spec.name]
        if value is None or value is default or (type(value) is dict and not value):
            continue  # not given: None, the field's own default, {} (a hot path)
        values[spec.name] = _checked(name, spec, value)
    values["kwargs"] = _read_only(dict(values["kwargs"]))
    values["env"] = _read_only(dict(values["env"]))
    if values["call"] is None and (values["args"] or values["kwargs"]):
        raise ValueError(f"job {name!r}: args=/kwargs= go with call=, not run=")
    run, call, env = values["run"], values["call"], values["env"]
    texts = [name, *env, *env.values(), values["cwd"] or ""]
    texts += [run] if isinstance(run, str) else list(run or ())
    texts += [call] if isinstance(call, str) else []
    if any("\x00" in text for text in texts):  # (the reader checks the job file's text)
        raise ValueError(f"job {name!r}: contains a NUL character, which no command, environment or path can carry")


def trusted_job(**values: Any) -> Job:
    """A ``Job`` from values already validated and normalized by the job-file
    reader: ``run`` a str or tuple, ``args``/``tags``/``depends_on`` tuples,
    numbers checked. Skips ``Job()``'s checks, which cost more than reading
    the job from YAML (0.45 of 2 s for 50,000 jobs); the reader's own checks
    are the same ones, with line numbers."""
    fields = {**_JOB_DEFAULTS, **values}
    kwargs, env = fields["kwargs"], fields["env"]
    fields["kwargs"] = _read_only(dict(kwargs)) if kwargs else _EMPTY
    fields["env"] = _read_only(dict(env)) if env else _EMPTY
    fields["_shape"] = _shape_of(fields)
    return _build(fields)  # type: ignore[no-any-return]


#: Fields whose filled-in text needs no check again: the name is checked on
#: its own, a shell string or argv stays one (values go in quoted or as
#: variables), env values are text; NUL is looked for separately.
_STAYS_VALID = frozenset({"name", "run", "env"})


def field_checks(changed: Collection[str]) -> tuple[Field, ...]:
    """The checks ``expanded_job`` runs for jobs whose ``changed`` fields
    were filled in (own fields: a matrix never fills in a shared one)."""
    if not set(changed) <= set(OWN_FIELDS):
        raise ValueError(f"a matrix fills in only a job's own fields, not {sorted(set(changed) - set(OWN_FIELDS))}")
    return tuple(spec for spec in PYTHON_FIELDS if spec.name in changed and spec.name not in _STAYS_VALID)


def job_template(**values: Any) -> dict[str, Any]:
    """Every field of a job: ``values``, the defaults for the rest; ``env``
    read-only (shared by the jobs made from it that do not fill it in),
    ``kwargs`` a dict (each job gets a copy: see ``matrixfill``), and the
    ``_shape`` every job made from it shares."""
    fields = {**_JOB_DEFAULTS, **values}
    fields["kwargs"] = dict(fields["kwargs"])
    fields["env"] = _read_only(dict(fields["env"]))
    fields["_shape"] = built(JobShape, fields)
    return fields


def expanded_job(checks: tuple[Field, ...], values: dict[str, Any]) -> Job:
    """A ``Job`` from a job-file template (``job_template``, which passed the
    reader's checks) with matrix values filled in: only the name and the
    fields of ``checks`` (``field_checks``) are checked again, with the
    errors ``Job()`` raises (the reader refused a NUL in any matrix value):
    a million-job matrix pays for its placeholders, not for every field of
    every job. A ``kwargs`` or ``env`` dict in ``values`` becomes the job's own, read-only.

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
    if values["slot_token"] is not None:  # (set by the fill: the template's shape has none)
        values["_shape"] = _shape_of(values)
    return _build(values)  # type: ignore[no-any-return]


def _rebuild_job(values: tuple[Any, ...]) -> Job:
    # The values were validated when the Job was made; a worker unpickles one
    # Job per attempt, so skip the checks and only restore the read-only maps
    # (and a shape of its own: a job in a worker shares nothing).
    fields = dict(zip(_JOB_FIELDS, values))
    fields["kwargs"] = _read_only(fields["kwargs"])
    fields["env"] = _read_only(fields["env"])
    fields["_shape"] = built(JobShape, fields)
    return _build(fields)  # type: ignore[no-any-return]


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


def _read_only(values: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(values) if values else _EMPTY
