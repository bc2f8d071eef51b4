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
from typing import Any

from .model import Job

__all__ = ["job_hash"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)


def job_hash(job: Job) -> str:
    """The 16-hex-digit fingerprint of ``job``'s definition (see the module docstring)."""
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
    return hashlib.sha256(_ENCODER.encode(definition).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _code_hash(function: Any) -> str:
    import cloudpickle  # only for functions that travel by value

    return hashlib.sha256(cloudpickle.dumps(function, protocol=5)).hexdigest()[:16]
