"""Matrix expansion: one job template × every combination of the variables.

``{var}`` placeholders are replaced only for declared variables — any other
braces (``awk '{print $2}'``, ``${HOME}``) stay as written. ``{var.}``,
``{var/}``, ``{var//}`` and ``{var/.}`` give the value without its extension,
its basename, its dirname, its basename without extension; ``{#}`` is the
job's sequence number in the file, ``{%}`` the worker slot that runs it. In a shell string
a value is data, never code, whatever quotes it stands in (see
``shellvalues``); in argv lists, ``args``, ``kwargs``, ``env`` and ``cwd`` it
is inserted as is, and an argument that is exactly ``"{var}"`` keeps the
value's YAML type.

    >>> [e.fields["run"] for e in expand({"name": "gz", "run": "gzip {f}"}, {"f": ["a b", "c;d"]})]
    ["gzip 'a b'", "gzip 'c;d'"]
    >>> next(expand({"name": "e", "run": 'echo "{f}"'}, {"f": ["$(id)"]})).fields["env"]
    {'TASKRUNNER_MATRIX_f': '$(id)'}
    >>> [e.fields["name"] for e in expand({"name": "t", "run": "x"}, {"n": [1, 2], "py": ["3.11"]})]
    ['t[n=1,py=3.11]', 't[n=2,py=3.11]']
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from ..fields import FIELD
from .shellvalues import ShellTemplate

__all__ = ["Expansion", "Written", "count", "expand", "placeholder_pattern", "plain", "render", "replacement",
           "uses_run_placeholders"]


class Expansion(NamedTuple):
    """One expanded job: its fields and the variable values that made it
    (a tuple: one is made per combination)."""

    fields: dict[str, Any]
    values: dict[str, Any]


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


def expand(
    template: Mapping[str, Any], matrix: Mapping[str, Sequence[Any]], first_seq: int = 1
) -> Iterator[Expansion]:
    """Every combination of ``matrix`` applied to ``template`` (validated job
    fields); ``first_seq`` is the ``{#}`` of the first one.

    Combinations come in file order, the last variable varying fastest, one
    at a time (a million-combination matrix never holds them all).
    """
    names = list(matrix)
    pattern = placeholder_pattern(names)
    # Shell strings scanned once, filled per combination.
    shell = {key: ShellTemplate(value, pattern) for key, value in template.items()
             if key in FIELD and FIELD[key].placeholders == "run" and isinstance(value, str)}
    # What to fill in, worked out once: (key, how, value) of each field that may
    # hold placeholders, and whether the name has any.
    fillable = [(key, FIELD[key].placeholders, value) for key, value in template.items()
                if key in FIELD and FIELD[key].placeholders != "none"]
    name = template["name"]
    name_has_placeholders = bool(pattern.search(name)) or not names
    templates: dict[str, _TextTemplate] = {}
    for seq, combination in enumerate(itertools.product(*(matrix[n] for n in names)), start=first_seq):
        values = dict(zip(names, combination, strict=True))
        substitute = _Substitution(pattern, values, seq, templates)
        fields = dict(template)
        if name_has_placeholders:
            fields["name"] = substitute.text(name)
        else:
            fields["name"] = f"{name}[{','.join(f'{k}={render(v)}' for k, v in values.items())}]"
        referenced: dict[str, str] = {}
        for key, how, value in fillable:
            if key in shell:
                fields[key], referenced = shell[key].fill(substitute.replacements)
            elif how == "run":
                fields[key] = tuple(type(item)(substitute.text(item)) for item in value)  # (a Depfile stays one)
            elif how == "data":
                fields[key] = substitute.data(value)
            elif how == "env":
                fields[key] = {k: substitute.text(v) for k, v in value.items()}
            elif how == "text":
                fields[key] = substitute.text(value)
            elif how == "names":
                fields[key] = tuple(type(item)(substitute.text(item)) for item in value)  # (a Depfile stays one)
        if referenced:  # the values a shell string refers to (see shellvalues)
            fields["env"] = {**fields.get("env", {}), **referenced}
        if substitute.slot_used:
            fields["slot_token"] = substitute.replacements.slot
        yield Expansion(fields, values)


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


class _Replacements(Mapping[str, str]):
    """What each placeholder stands for in one expanded job (made on demand)."""

    def __init__(self, rendered: dict[str, str], seq: int) -> None:
        self.rendered, self.seq = rendered, str(seq)
        self._slot: str | None = None

    @property
    def slot(self) -> str:
        """The text standing for ``{%}`` outside shell strings (see ``_Substitution``)."""
        if self._slot is None:
            # {%} is known only where the job runs: it becomes a token the
            # worker replaces, one that no value of this job contains.
            self._slot = "{%}"
            taken = "\n".join(self.rendered.values())
            number = 0
            while self._slot in taken:
                number += 1
                self._slot = "{%" + str(number) + "}"
        return self._slot

    def __getitem__(self, key: str) -> str:
        if key == "#":
            return self.seq
        if key == "%":
            return self.slot
        plain = self.rendered.get(key)  # {x} itself: most placeholders
        if plain is not None:
            return plain
        name = key.rstrip("./")
        return replacement(self.rendered[name], key[len(name):])

    def __iter__(self) -> Iterator[str]:
        return iter(self.rendered)

    def __len__(self) -> int:
        return len(self.rendered)


class _TextTemplate:
    """A text split once at its placeholders (a million-job matrix does not
    search its name a million times), filled for each combination."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.literals: list[str] = []
        self.keys: list[str] = []
        last = 0
        for found in pattern.finditer(text):
            self.literals.append(text[last:found.start()])
            self.keys.append(found[1])
            last = found.end()
        self.tail = text[last:]
        self.uses_slot = "%" in self.keys

    def fill(self, replacements: _Replacements) -> str:
        parts: list[str] = []
        for literal, key in zip(self.literals, self.keys):
            parts += (literal, replacements[key])
        parts.append(self.tail)
        return "".join(parts)


class _Substitution:
    """The values of one combination, put into the template's texts.

    ``templates``: the texts already split (shared by every combination).
    """

    def __init__(
        self, pattern: re.Pattern[str], values: dict[str, Any], seq: int, templates: dict[str, _TextTemplate]
    ) -> None:
        self.pattern = pattern
        self.values = values
        self.templates = templates
        self.replacements = _Replacements({name: render(value) for name, value in values.items()}, seq)
        self.slot_used = False

    def text(self, text: str) -> str:
        template = self.templates.get(text)
        if template is None:
            template = self.templates[text] = _TextTemplate(text, self.pattern)
        if template.uses_slot:
            self.slot_used = True
        return template.fill(self.replacements)

    def data(self, value: Any) -> Any:
        """Arguments: an exact ``"{var}"`` becomes the value itself, with its type."""
        if isinstance(value, str):
            exact = self.pattern.fullmatch(value)
            if exact and exact[1] in self.values:
                return plain(self.values[exact[1]])
            return self.text(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self.data(item) for item in value)
        if isinstance(value, dict):
            return {key: self.data(item) for key, item in value.items()}
        return value
