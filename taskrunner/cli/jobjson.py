"""A job as ``list --json`` shows it, from the key table (``fields.FIELDS``:
each key's ``json`` says for which kind of job it appears).

    >>> from taskrunner.model import Job
    >>> json_bytes(as_json(Job(name="a", run="true", env={"A": "1"})))[:50]
    b'{"name":"a","run":"true","env":{"A":"1"},"cwd":nul'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

import click
import msgspec

from ..fields import FIELDS, Depfile

__all__ = ["as_json", "echo_json_array", "json_bytes"]

#: For each kind of job, the keys ``list --json`` shows, in table order.
_JSON_KEYS = {kind: tuple(field.name for field in FIELDS if field.json in ("always", kind)) for kind in ("command", "call")}
_JSON_VALUES = {kind: attrgetter(*names) for kind, names in _JSON_KEYS.items()}
#: For each kind, a struct of those keys: made from the job's values by
#: position and written by the encoder key by key, in order, with no dict
#: per job (a third of the cost of ``list --json`` of a million jobs).
_JSON_SHAPES = {kind: msgspec.defstruct(f"{kind.title()}Json", [(name, object) for name in names])
                for kind, names in _JSON_KEYS.items()}
_AT = {kind: {name: names.index(name) for name in names} for kind, names in _JSON_KEYS.items()}
#: The values that are read-only mappings in a job (plain dicts in JSON).
_MAPPINGS = {kind: tuple(_AT[kind][name] for name in ("kwargs", "env", "resources") if name in _AT[kind])
             for kind in _JSON_KEYS}
_NOTHING: dict[str, Any] = {}  # (written, never changed)


def as_json(job: Any) -> msgspec.Struct:
    """A job as ``list --json`` shows it (``json_bytes`` writes it): its keys
    in table order, the ones of the other kind of job left out; tuples stay
    tuples (arrays), read-only mappings become dicts (objects), a depfile
    input ``{"depfile": path}`` and a called function its name."""
    kind = "command" if job.is_command else "call"
    values = list(_JSON_VALUES[kind](job))
    for position in _MAPPINGS[kind]:  # (the encoder's hook would cost more)
        values[position] = dict(values[position]) if values[position] else _NOTHING
    if job.inputs and any(isinstance(path, Depfile) for path in job.inputs):
        values[_AT[kind]["inputs"]] = [{"depfile": str(path)} if isinstance(path, Depfile) else path
                                       for path in job.inputs]
    if kind == "call" and not isinstance(job.call, str):
        values[_AT[kind]["call"]] = str(job.call)
    return _JSON_SHAPES[kind](*values)


def _plain(value: Any) -> Any:
    """What the encoder cannot write itself: a read-only mapping inside a call's arguments."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


#: Compact JSON, a microsecond an item (json's C encoder took some 5).
json_bytes = msgspec.json.Encoder(enc_hook=_plain).encode


def echo_json_array(jobs: Iterable[Any], block: int = 10_000) -> None:
    """Print the jobs as a JSON array, one job per line, written ``block`` at
    a time (a million jobs never become one string)."""
    separator = b"["
    lines: list[bytes] = []
    for job in jobs:
        lines += (separator, b"\n", json_bytes(as_json(job)))
        separator = b","
        if len(lines) >= block:
            click.echo(b"".join(lines), nl=False)
            lines.clear()
    lines.append(b"[]\n" if separator == b"[" else b"\n]\n")
    click.echo(b"".join(lines), nl=False)
