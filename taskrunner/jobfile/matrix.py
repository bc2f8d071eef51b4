"""Matrix values and placeholders: what a matrix job's texts may refer to.

``{var}`` placeholders are replaced only for declared variables — any other
braces (``awk '{print $2}'``, ``${HOME}``) stay as written. ``{var.}``,
``{var/}``, ``{var//}`` and ``{var/.}`` give the value without its extension,
its basename, its dirname, its basename without extension; ``{#}`` is the
job's sequence number in the file, ``{%}`` the worker slot that runs it. In a shell string
a value is data, never code, whatever quotes it stands in (see
``shellvalues``); in argv lists, ``args``, ``kwargs``, ``env`` and ``cwd`` it
is inserted as is, and an argument that is exactly ``"{var}"`` keeps the
value's YAML type. ``matrixfill`` expands a template with them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..fields import FIELD

__all__ = ["Written", "changed_fields", "count", "placeholder_pattern", "plain", "render", "replacement",
           "uses_run_placeholders"]


class Written:
    """A typed matrix value and its text as written in the job file, where
    the two differ (``0755``, ``3.10``, ``1e3``, ``True``): in any text the
    value is what was written, where a typed value is kept (an argument that
    is exactly ``"{var}"``) it is ``value``.

    >>> render(Written(3.1, "3.10")), plain(Written(3.1, "3.10"))
    ('3.10', 3.1)
    """

    __slots__ = ("text", "value")

    def __init__(self, value: Any, text: str) -> None:
        self.value, self.text = value, text

    def __repr__(self) -> str:
        return self.text


def render(value: Any) -> str:
    """A matrix value as text: as written in the file, else spelled as YAML
    spells it (``true``, not ``True``)."""
    if type(value) is str:
        return value
    if type(value) is Written:
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plain(value: Any) -> Any:
    """A matrix value as its typed value."""
    return value.value if type(value) is Written else value


def count(matrix: Mapping[str, Sequence[Any]]) -> int:
    """How many jobs ``matrix`` expands to."""
    return math.prod(len(values) for values in matrix.values())


def placeholder_pattern(names: Sequence[str]) -> re.Pattern[str]:
    """``{x}``, ``{x.}``, ``{x/}``, ``{x//}``, ``{x/.}`` for each of ``names``,
    and ``{#}``, ``{%}``; group 1 is what stands between the braces."""
    variables = "|".join(re.escape(name) for name in names)
    inner = rf"(?:{variables})(?:/\.|//|/|\.)?|#|%" if names else "#|%"
    return re.compile(r"\{(" + inner + r")\}")


_ANY_PLACEHOLDER = placeholder_pattern([])


def uses_run_placeholders(fields: Mapping[str, Any]) -> bool:
    """Whether a job without a matrix writes ``{#}`` or ``{%}`` anywhere they apply."""
    return any(_ANY_PLACEHOLDER.search(text) for text in _texts(fields))


def _texts(fields: Mapping[str, Any]) -> Iterator[str]:
    for key, value in fields.items():
        how = FIELD[key].placeholders if key in FIELD else "none"
        if how == "none" or how == "names":
            continue
        yield from _strings(value)


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, (list, tuple)):
            stack += item
        elif isinstance(item, dict):
            stack += item.values()


def changed_fields(template: Mapping[str, Any], names: Sequence[str]) -> frozenset[str]:
    """The fields of ``template`` that hold a placeholder of ``names``. (The
    name and ``env`` change in every expansion anyway: see ``expand``.)

    >>> sorted(changed_fields({"name": "a", "run": "echo {x}", "cwd": "/tmp"}, ["x"]))
    ['run']
    """
    pattern = placeholder_pattern(names)
    return frozenset(key for key, value in template.items()
                     if key in FIELD and FIELD[key].placeholders != "none" and any(map(pattern.search, _strings(value))))


def replacement(text: str, form: str) -> str:
    """A value as ``{x<form>}`` shows it (GNU parallel's replacement strings).

    >>> [replacement("data/a b.tar.gz", f) for f in ("", ".", "/", "//", "/.")]
    ['data/a b.tar.gz', 'data/a b.tar', 'a b.tar.gz', 'data', 'a b.tar']
    """
    if form == ".":
        return os.path.splitext(text)[0]
    if form == "/":
        return os.path.basename(text)
    if form == "//":
        return os.path.dirname(text) or "."
    if form == "/.":
        return os.path.splitext(os.path.basename(text))[0]
    return text
