"""Matrix expansion: one job template × every combination of the variables.

``{var}`` placeholders are replaced only for declared variables — any other
braces (``awk '{print $2}'``, ``${HOME}``) stay as written. In a shell string
a value is data, never code, whatever quotes it stands in (see
``shellvalues``); in argv lists, ``args``, ``kwargs``, ``env`` and ``cwd`` it
is inserted as is, and an argument that is exactly ``"{var}"`` keeps the
value's YAML type.

    >>> [e.fields["run"] for e in expand({"name": "gz", "run": "gzip {f}"}, {"f": ["a b", "c;d"]})]
    ["gzip 'a b'", "gzip 'c;d'"]
    >>> expand({"name": "e", "run": 'echo "{f}"'}, {"f": ["$(id)"]})[0].fields["env"]
    {'TASKRUNNER_MATRIX_f': '$(id)'}
    >>> [e.fields["name"] for e in expand({"name": "t", "run": "x"}, {"n": [1, 2], "py": ["3.11"]})]
    ['t[n=1,py=3.11]', 't[n=2,py=3.11]']
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .fields import FIELD
from .shellvalues import fill_shell

__all__ = ["Expansion", "count", "expand", "render"]


@dataclass(frozen=True)
class Expansion:
    """One expanded job: its fields and the variable values that made it."""

    fields: dict[str, Any]
    values: dict[str, Any]


def render(value: Any) -> str:
    """A matrix value as text, spelled as in YAML (``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def count(matrix: Mapping[str, Sequence[Any]]) -> int:
    """How many jobs ``matrix`` expands to."""
    return math.prod(len(values) for values in matrix.values())


def expand(template: Mapping[str, Any], matrix: Mapping[str, Sequence[Any]]) -> list[Expansion]:
    """Every combination of ``matrix`` applied to ``template`` (validated job fields).

    Combinations come in file order, the last variable varying fastest.
    """
    names = list(matrix)
    pattern = re.compile(r"\{(" + "|".join(re.escape(n) for n in names) + r")\}")
    expansions = []
    for combination in itertools.product(*(matrix[n] for n in names)):
        values = dict(zip(names, combination, strict=True))
        substitute = _Substitution(pattern, values)
        fields = dict(template)
        name = template["name"]
        if pattern.search(name):
            fields["name"] = substitute.text(name)
        else:
            fields["name"] = f"{name}[{','.join(f'{k}={render(v)}' for k, v in values.items())}]"
        referenced: dict[str, str] = {}
        for key, value in template.items():
            how = FIELD[key].placeholders if key in FIELD else "none"
            if how == "run" and isinstance(value, str):
                fields[key], referenced = fill_shell(value, pattern, substitute.rendered)
            elif how == "run":
                fields[key] = tuple(substitute.text(item) for item in value)
            elif how == "data":
                fields[key] = substitute.data(value)
            elif how == "env":
                fields[key] = {k: substitute.text(v) for k, v in value.items()}
            elif how == "text":
                fields[key] = substitute.text(value)
            elif how == "names":
                fields[key] = tuple(substitute.text(item) for item in value)
        if referenced:  # the values a shell string refers to (see shellvalues)
            fields["env"] = {**fields.get("env", {}), **referenced}
        expansions.append(Expansion(fields, values))
    return expansions


class _Substitution:
    def __init__(self, pattern: re.Pattern[str], values: dict[str, Any]) -> None:
        self.pattern = pattern
        self.values = values
        self.rendered = {name: render(value) for name, value in values.items()}

    def text(self, text: str) -> str:
        return self.pattern.sub(lambda match: self.rendered[match[1]], text)

    def data(self, value: Any) -> Any:
        """Arguments: an exact ``"{var}"`` becomes the value itself, with its type."""
        if isinstance(value, str):
            exact = self.pattern.fullmatch(value)
            return self.values[exact[1]] if exact else self.text(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self.data(item) for item in value)
        if isinstance(value, dict):
            return {key: self.data(item) for key, item in value.items()}
        return value
