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

#: For each kind of job, the keys ``list --json`` shows, and a getter of their values.
_JSON_KEYS = {kind: tuple(field.name for field in FIELDS if field.json in ("always", kind)) for kind in ("command", "call")}
_JSON_VALUES = {kind: attrgetter(*names) for kind, names in _JSON_KEYS.items()}


def as_json(job: Any) -> dict[str, Any]:
    """A job as ``list --json`` shows it: its keys in table order, the ones of
    the other kind of job left out. Values stay as the job holds them (tuples,
    read-only mappings): ``json_bytes`` writes them as arrays and objects."""
    kind = "command" if job.is_command else "call"
    data = dict(zip(_JSON_KEYS[kind], _JSON_VALUES[kind](job)))
    data["env"] = dict(job.env)  # (read-only mappings: the encoder's hook would cost more)
    if kind == "call":
        data["kwargs"] = dict(job.kwargs)
    if "resources" in data:
        data["resources"] = dict(job.resources)
    if any(isinstance(path, Depfile) for path in job.inputs):
        data["inputs"] = [{"depfile": str(path)} if isinstance(path, Depfile) else path for path in job.inputs]
    if kind == "call" and not isinstance(job.call, str):
        data["call"] = str(job.call)
    return data


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
