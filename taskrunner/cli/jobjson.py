"""A job as ``list --json`` shows it, from the key table (``fields.FIELDS``:
each key's ``json`` says for which kind of job it appears).

    >>> from taskrunner.model import Job
    >>> as_json(Job(name="a", run="true"))["run"]
    'true'
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from ..fields import FIELDS, Depfile

__all__ = ["as_json"]

#: For each kind of job, the keys ``list --json`` shows, and a getter of their values.
_JSON_KEYS = {kind: tuple(field.name for field in FIELDS if field.json in ("always", kind)) for kind in ("command", "call")}
_JSON_VALUES = {kind: attrgetter(*names) for kind, names in _JSON_KEYS.items()}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def as_json(job: Any) -> dict[str, Any]:
    """A job as ``list --json`` shows it: its keys in table order, the ones of
    the other kind of job left out, tuples as lists, mappings as objects."""
    kind = "command" if job.is_command else "call"
    data = dict(zip(_JSON_KEYS[kind], map(_plain, _JSON_VALUES[kind](job))))
    if "resources" in data:
        data["resources"] = dict(job.resources)
    if any(isinstance(path, Depfile) for path in job.inputs):
        data["inputs"] = [{"depfile": str(path)} if isinstance(path, Depfile) else path for path in job.inputs]
    if kind == "call" and not isinstance(job.call, str):
        data["call"] = str(job.call)
    return data


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # most values; an ABC check costs a microsecond
        return value
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value
