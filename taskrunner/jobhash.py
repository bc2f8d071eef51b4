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
from json.encoder import encode_basestring
from typing import Any

from .model import Job

__all__ = ["job_hash"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)


def job_hash(job: Job) -> str:
    """The 16-hex-digit fingerprint of ``job``'s definition (see the module docstring)."""
    text = _plain_definition(job)
    if text is None:
        text = _ENCODER.encode(_definition(job))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _plain_definition(job: Job) -> str | None:
    """The recipe's JSON text of the common job, written directly: a command
    or a call by name, without arguments, with text values only (``--resume``
    hashes every job: a third of the time of the encoder); None for any other.
    The JSON encoder's own string writer writes each text, so the bytes are
    the encoder's (a property test holds the two equal)."""
    if job.args or job.kwargs:
        return None
    call, run, cwd, env = job.call, job.run, job.cwd, job.env
    if type(run) is str:
        run_text = encode_basestring(run)
    elif run is None:
        run_text = "null"
    elif type(run) is tuple and all(type(word) is str for word in run):
        run_text = "[" + ",".join(map(encode_basestring, run)) + "]"
    else:
        return None
    if not (call is None or type(call) is str) or not (cwd is None or type(cwd) is str):
        return None
    if not all(type(key) is str and type(value) is str for key, value in env.items()):
        return None
    parts = ['{"args":[],"call":', "null" if call is None else encode_basestring(call),
             ',"cwd":', "null" if cwd is None else encode_basestring(cwd),
             ',"env":{', ",".join(encode_basestring(key) + ":" + encode_basestring(env[key]) for key in sorted(env)),
             '},"kwargs":{},"run":', run_text]
    if job.shell is not None and type(run) is str:
        if not all(type(word) is str for word in job.shell):
            return None
        parts += (',"shell":[', ",".join(map(encode_basestring, job.shell)), "]")
    if job.success_codes != (0,):
        if not all(type(code) is int for code in job.success_codes):
            return None
        parts += (',"success_codes":[', ",".join(map(str, job.success_codes)), "]")
    parts.append("}")
    return "".join(parts)


def _definition(job: Job) -> dict[str, Any]:
    """What the hash covers, as the recipe's JSON object (see the module docstring)."""
    call = job.call
    if call is not None and not isinstance(call, str):
        module, qualname = getattr(call, "__module__", "?"), getattr(call, "__qualname__", repr(call))
        # A function that travels by value (a lambda, a closure, one of the
        # script) is what its code and captured values are, not its name.
        call = f"by value {_code_hash(call)}" if module == "__main__" or "<" in qualname else f"{module}:{qualname}"
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
