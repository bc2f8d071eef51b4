"""A matrix variable's value source, as the job file names it: the value, not
the reading (``inputs.resolve`` reads it). Here, beside the field table that
checks it, because checking a job file needs no I/O.

    >>> parse_source("f", {"glob": "data/*.log"})
    Source(kind='glob', argument='data/*.log', allow_empty=False)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Source", "SourceError", "glob_hint", "parse_source"]


class SourceError(ValueError):
    """A source that cannot be read or gives no usable values."""


@dataclass(frozen=True)
class Source:
    """One matrix variable's value source (see the module docstring)."""

    kind: str  # "glob", "lines" or "range"
    argument: Any
    allow_empty: bool = False

    def __str__(self) -> str:
        return f"{self.kind}: {self.argument!r}"


def parse_source(name: str, value: dict[str, Any]) -> Source:
    """Check a source mapping; raise ``ValueError`` naming what is wrong."""
    kinds = [kind for kind in ("glob", "lines", "range") if kind in value]
    extra = set(value) - {"glob", "lines", "range", "allow_empty"}
    if len(kinds) != 1 or extra:
        raise ValueError(f"variable {name!r} must be a list of values or one of {{glob: PATTERN}}, "
                         f"{{lines: FILE}}, {{range: [START, STOP]}}, got {value!r}")
    kind = kinds[0]
    argument = value[kind]
    allow_empty = value.get("allow_empty", False)
    if not isinstance(allow_empty, bool) or ("allow_empty" in value and kind != "glob"):
        raise ValueError(f"variable {name!r}: 'allow_empty' (true or false) goes with 'glob' only")
    if kind in ("glob", "lines") and (not isinstance(argument, str) or not argument.strip()):
        raise ValueError(f"variable {name!r}: {kind!r} must be a non-empty string, got {argument!r}")
    whole_numbers = isinstance(argument, list) and all(
        isinstance(n, int) and not isinstance(n, bool) for n in argument)
    if kind == "range" and (not whole_numbers or len(argument) not in (2, 3) or argument[2:] == [0]):
        raise ValueError(f"variable {name!r}: 'range' must be [start, stop] or [start, stop, step] "
                         f"(whole numbers, step not 0), got {argument!r}")
    return Source(kind, argument, allow_empty)


def glob_hint(value: Any) -> str:
    """For a matrix variable given one string that looks like a glob: the
    ``glob`` source that lists those files.

    >>> glob_hint("data/*.gz"), glob_hint("plain")
    (' (to list files, use {glob: "data/*.gz"})', '')
    """
    if isinstance(value, str) and any(char in value for char in "*?["):
        return f" (to list files, use {{glob: {json.dumps(value)}}})"
    return ""
