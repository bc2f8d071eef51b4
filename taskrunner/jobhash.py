"""A stable fingerprint of what a job does, written on its results line.

``--resume`` keeps an ``ok`` line only while the job's definition is the one
that succeeded: the hash covers what the job runs and how — ``run`` (a shell
string and an argv list differ), or ``call`` with ``args`` and ``kwargs`` —
and its ``env`` and ``cwd`` (as written, relative to the job file), and
``success_codes`` when it is not ``[0]`` and the ``shell`` of a command
string when one is set. It leaves
out what does not change the work: the name, ``timeout``, ``retries``,
``retry_delay``, ``tags`` and ``depends_on``.

Recipe (stable across releases and machines): the JSON text of
``{"call": ..., "args": [...], "kwargs": {...}, "cwd": ..., "env": {...},
"run": ...}`` with sorted keys, no spaces and UTF-8 text; its SHA-256; the
first 16 hex digits. A function object counts as ``"module:qualname"``; a
value JSON cannot express counts as its ``repr()``, so a value whose repr
changes from run to run (an object address) is never trusted across runs.

    >>> from taskrunner.model import Job
    >>> job_hash(Job(name="a", run="true"))
    'c289865de1942316'
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from json.encoder import encode_basestring
from typing import Any

from .job import shape_of
from .model import Job

__all__ = ["job_hash", "job_hasher"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)


def job_hash(job: Job) -> str:
    """The 16-hex-digit fingerprint of ``job``'s definition (see the module docstring)."""
    return _digest(job, _shared_text(job))


def job_hasher() -> Callable[[Job], str]:
    """``job_hash`` for many jobs (``--resume`` hashes every job): what a job
    shares with others through its shape (``call``, ``shell``,
    ``success_codes``) is written out once per shape, not once per job; a
    job defined by the very objects of the job before it gets that job's
    hash (a matrix field without a placeholder is one object in every job:
    jobs that differ only in name, inputs or outputs are hashed once)."""
    shared_by_shape: dict[int, _Shared | None] = {}
    shapes: list[Any] = []  # (held, so that no id is reused while this lives)
    last_shape: Any = None  # the last job's shape, and its shared text (the next job's, mostly)
    last_shared: _Shared | None = None
    before: Any = None  # the last job hashed, and its hash
    before_hash = ""

    def hash_of(job: Job) -> str:
        nonlocal last_shape, last_shared, before, before_hash
        shape = shape_of(job)
        # (``args`` first: what tells a matrix's calls apart.)
        if (before is not None and job.args is before.args and job.run is before.run and shape is last_shape
                and job.env is before.env and job.kwargs is before.kwargs and job.cwd is before.cwd):
            return before_hash
        if shape is not last_shape:
            try:
                last_shared = shared_by_shape[id(shape)]
            except KeyError:
                last_shared = shared_by_shape[id(shape)] = _shared_text(job)
                shapes.append(shape)
            last_shape = shape
        before, before_hash = job, _digest(job, last_shared)
        return before_hash

    return hash_of


def _digest(job: Job, shared: _Shared | None) -> str:
    text = None if shared is None else _plain_definition(job, shared)
    if text is None:
        text = _ENCODER.encode(_definition(job))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


#: The recipe's JSON text of a job's shared fields, for ``_plain_definition``:
#: ``call``, then what follows ``run`` when it is a string and when it is not.
_Shared = tuple[str, str, str]


def _shared_text(job: Job) -> _Shared | None:
    """The common job's shared fields as the recipe's JSON text: a call by
    name (text or a function named by its module; or none), a shell and
    success codes of texts and whole numbers; None for any other job."""
    call, shell, codes = job.call, job.shell, job.success_codes
    call_text = None if call is None else _call_text(call)
    if (call is not None and call_text is None) or not all(type(code) is int for code in codes):
        return None
    codes_text = "" if codes == (0,) else ',"success_codes":[' + ",".join(map(str, codes)) + "]"
    if shell is None:
        shell_text = ""
    elif all(type(word) is str for word in shell):
        shell_text = ',"shell":[' + ",".join(map(encode_basestring, shell)) + "]"
    else:
        return None
    return ("null" if call_text is None else encode_basestring(call_text)), shell_text + codes_text, codes_text


def _call_text(call: Any) -> str | None:
    """What the recipe writes for ``call``: its text, or ``"module:qualname"``
    of a function; None for one that travels by value (hashed by its code)."""
    if isinstance(call, str):
        return call
    module, qualname = getattr(call, "__module__", "?"), getattr(call, "__qualname__", repr(call))
    # A function that travels by value (a lambda, a closure, one of the
    # script) is what its code and captured values are, not its name.
    return None if module == "__main__" or "<" in qualname else f"{module}:{qualname}"


def _plain_definition(job: Job, shared: _Shared) -> str | None:
    """The recipe's JSON text of the common job, written directly: a command
    or a call by name, with text values and arguments that are JSON scalars
    (a third of the time of the encoder); None for any other. The JSON
    encoder's own writers write each value, so the bytes are the encoder's
    (a property test holds the two equal)."""
    args, kwargs, run, cwd, env = job.args, job.kwargs, job.run, job.cwd, job.env
    call_text, after_text_run, after_other_run = shared
    args_texts = _scalar_texts(args) if args else []
    kwargs_text = _kwargs_text(kwargs) if kwargs else ""
    if args_texts is None or kwargs_text is None:
        return None
    args_text = ",".join(args_texts)
    if type(run) is str:
        run_text, after_run = encode_basestring(run), after_text_run
    elif run is None:
        run_text, after_run = "null", after_other_run
    elif type(run) is tuple and all(type(word) is str for word in run):
        run_text, after_run = "[" + ",".join(map(encode_basestring, run)) + "]", after_other_run
    else:
        return None
    if cwd is None:
        cwd_text = "null"
    elif type(cwd) is str:
        cwd_text = encode_basestring(cwd)
    else:
        return None
    if not env:
        env_text = ""
    elif all(type(key) is str and type(value) is str for key, value in env.items()):
        env_text = ",".join(encode_basestring(key) + ":" + encode_basestring(env[key]) for key in sorted(env))
    else:
        return None
    return (f'{{"args":[{args_text}],"call":{call_text},"cwd":{cwd_text},"env":{{{env_text}}},'
            f'"kwargs":{{{kwargs_text}}},"run":{run_text}{after_run}}}')  # (one string built: an f-string)


_INT_TEXT = int.__repr__
_FLOAT_TEXT = float.__repr__


def _kwargs_text(kwargs: Mapping[str, Any]) -> str | None:
    """The JSON encoder's text of the members of ``kwargs`` (keys sorted, as
    the recipe's encoder sorts them), when every value is a JSON scalar."""
    if not all(type(key) is str for key in kwargs):
        return None
    keys = sorted(kwargs)
    texts = _scalar_texts([kwargs[key] for key in keys])
    return None if texts is None else ",".join(encode_basestring(key) + ":" + text for key, text in zip(keys, texts))


def _scalar_texts(values: Iterable[Any]) -> list[str] | None:
    """``_scalar_text`` of each of ``values``; None if one has none."""
    texts = []
    for value in values:
        text = _scalar_text(value)
        if text is None:
            return None
        texts.append(text)
    return texts


def _scalar_text(value: Any) -> str | None:
    """The JSON encoder's text of a text, a whole number, a finite float,
    a bool or None (exact types: a subclass may write itself otherwise);
    None for any other value."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return _INT_TEXT(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float and math.isfinite(value):
        return _FLOAT_TEXT(value)
    return None


def _definition(job: Job) -> dict[str, Any]:
    """What the hash covers, as the recipe's JSON object (see the module docstring)."""
    call = job.call
    if call is not None:
        text = _call_text(call)
        call = f"by value {_code_hash(call)}" if text is None else text
    definition = {
        "run": list(job.run) if isinstance(job.run, tuple) else job.run,
        "call": call,
        "args": list(job.args),
        "kwargs": dict(job.kwargs),
        "env": dict(job.env),
        "cwd": job.cwd,
    }
    if job.success_codes != (0,):  # only then, so that older hashes stay valid
        definition["success_codes"] = list(job.success_codes)
    if job.shell is not None and isinstance(job.run, str):  # (likewise)
        definition["shell"] = list(job.shell)
    return definition


def _code_hash(function: Any) -> str:
    import cloudpickle  # only for functions that travel by value

    return hashlib.sha256(cloudpickle.dumps(function, protocol=5)).hexdigest()[:16]
