"""A matrix job's template compiled once, filled for each combination of values.

Every text of the template that holds a placeholder becomes a format string
over named slots (``"gzip {q0}"``): its literal braces are doubled, so that
only the slots are replaced, and a value put in a slot is never read as a
format again. For each combination, one table holds the text of every slot
(a variable's value, a replacement form such as ``{x/}``, ``{#}``, a value
quoted as one shell word) and each text is one ``format_map`` of it: a
million-job matrix scans and splits its texts once, and pays per job for the
values it puts in, not for walking the template.

    >>> [fields["run"] for fields in expand({"name": "gz", "run": "gzip {f}"}, {"f": ["a b", "c;d"]})]
    ["gzip 'a b'", "gzip 'c;d'"]
    >>> next(expand({"name": "e", "run": 'echo "{f}"'}, {"f": ["$(id)"]}))["env"]
    {'TASKRUNNER_MATRIX_f': '$(id)'}
    >>> [fields["name"] for fields in expand({"name": "t", "run": "x"}, {"n": [1, 2], "py": ["3.11"]})]
    ['t[n=1,py=3.11]', 't[n=2,py=3.11]']
    >>> FillPlan({"name": "gz-{f/}", "run": "gzip {f}"}, ["f"]).fields(("data/a b.log",), 1)
    {'name': 'gz-a b.log', 'run': "gzip 'data/a b.log'"}
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..fields import FIELD
from .matrix import placeholder_pattern, plain, render, replacement
from .shellvalues import ShellTemplate, quote

__all__ = ["FillPlan", "expand", "slot_token"]

#: Fills one field for a combination: (the table of slot texts, the typed values) -> the field's value.
_Filler = Callable[[Mapping[str, str], Sequence[Any]], Any]


def expand(
    template: Mapping[str, Any], matrix: Mapping[str, Sequence[Any]], first_seq: int = 1
) -> Iterator[dict[str, Any]]:
    """The job fields of every combination of ``matrix`` applied to
    ``template`` (validated job fields); ``first_seq`` is the ``{#}`` of the
    first one. Raise ``UnsafePlaceholder`` for a shell string whose
    placeholders cannot be proven to stay data (see ``shellvalues``).

    Combinations come in file order, the last variable varying fastest, one
    at a time (a million-combination matrix never holds them all).
    """
    names = list(matrix)
    plan = FillPlan(template, names)
    for seq, combination in enumerate(itertools.product(*(matrix[name] for name in names)), start=first_seq):
        yield plan.fields(combination, seq)


def slot_token(rendered: Sequence[str]) -> str:
    """The text standing for ``{%}`` outside shell strings: ``{%}``, else the
    first ``{%N}`` that none of the job's values contains (the worker
    replaces it with its slot: see ``taskrunner.execution.slotfill``).

    >>> slot_token(["a"]), slot_token(["{%}"]), slot_token(["{%} {%1}"])
    ('{%}', '{%1}', '{%2}')
    """
    token, taken, number = "{%}", "\n".join(rendered), 0
    while token in taken:
        number += 1
        token = "{%" + str(number) + "}"
    return token


#: The replacement forms (see ``matrix.replacement``), longest first.
_FORMS = ("/.", "//", "/", ".")


def _escaped(literal: str) -> str:
    return literal.replace("{", "{{").replace("}", "}}")


class _Slots:
    """The slots of one template's format strings and how each one's text is
    made from a combination's values."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.variables = [f"v{index}" for index in range(len(names))]  # {x}: the value as text
        self.by_key = dict(zip(names, self.variables))
        self.derived: list[tuple[str, int, str]] = []  # {x.} and the like: (slot, variable, form)
        self.quoted: dict[str, str] = {}  # a value as one shell word: its slot -> the slot of the value
        self.seq = self.token = False  # whether {#}, {%} appear

    def of(self, key: str) -> str:
        """The slot of placeholder ``key`` (``x``, ``x/.``, ``#``, ``%``)."""
        if key == "#":
            self.seq = True
            return "seq"
        if key == "%":
            self.token = True
            return "token"
        slot = self.by_key.get(key)
        if slot is None:  # a form of a variable (whose own name may end in "." or "/")
            form = next(form for form in _FORMS if key.endswith(form) and key[:-len(form)] in self.names)
            slot = self.by_key[key] = f"d{len(self.derived)}"
            self.derived.append((slot, self.names.index(key[:-len(form)]), form))
        return slot

    def quoted_of(self, key: str) -> str:
        """The slot of placeholder ``key``'s value as one shell word."""
        source = self.of(key)
        slot = "q" + source  # (a slot name is a format field name: letters and digits only)
        self.quoted[slot] = source
        return slot

    def table(self, rendered: Sequence[str], seq: int) -> dict[str, str]:
        """Every slot's text for one combination (``rendered``: its values as text)."""
        table = dict(zip(self.variables, rendered))
        if self.seq:
            table["seq"] = str(seq)
        if self.token:
            table["token"] = slot_token(rendered)
        for slot, variable, form in self.derived:
            table[slot] = replacement(rendered[variable], form)
        for slot, source in self.quoted.items():
            table[slot] = quote(table[source])
        return table


class FillPlan:
    """``template`` (validated job fields) compiled for a matrix of ``names``;
    ``fields`` gives one combination's job fields. Fields without a
    placeholder keep the template's value (the same object in every job),
    except ``args`` and ``kwargs``, which each job gets a copy of."""

    def __init__(self, template: Mapping[str, Any], names: Sequence[str]) -> None:
        self.template = dict(template)
        self._slots = _Slots(names)
        self.names = self._slots.names
        self._pattern = placeholder_pattern(names)
        name = template["name"]
        # In a matrix, a name without placeholders is told apart by its values: name[x=1,y=a].
        self._named_by_values = bool(names) and not self._pattern.search(name)
        self._name = self._format(name)
        self._fillers: list[tuple[str, _Filler]] = []
        self._references: list[tuple[str, str]] = []  # (variable, slot): values a shell string refers to
        for key, value in template.items():
            how = FIELD[key].placeholders if key in FIELD else "none"
            if how in ("none", "name") or not value:
                continue
            filler = self._filler(key, how, value)
            if filler is not None:
                self._fillers.append((key, filler))

    def fields(self, combination: Sequence[Any], seq: int) -> dict[str, Any]:
        """The job fields for one combination of values (in ``names`` order);
        ``seq`` is its ``{#}``."""
        rendered = list(map(render, combination))
        table = self._slots.table(rendered, seq)
        fields = dict(self.template)
        if self._name is not None:
            fields["name"] = self._name.format_map(table)
        elif self._named_by_values:
            fields["name"] = f"{fields['name']}[{','.join(map('='.join, zip(self.names, rendered)))}]"
        for key, fill in self._fillers:
            fields[key] = fill(table, combination)
        if self._references:
            fields["env"] = {**fields.get("env", {}), **{variable: table[slot] for variable, slot in self._references}}
        if self._slots.token:
            fields["slot_token"] = table["token"]
        return fields

    def _format(self, text: str) -> str | None:
        """``text`` as a format string over the slots; None if it has no placeholder."""
        parts: list[str] = []
        last = 0
        for found in self._pattern.finditer(text):
            parts += (_escaped(text[last:found.start()]), "{" + self._slots.of(found[1]) + "}")
            last = found.end()
        if not parts:
            return None
        parts.append(_escaped(text[last:]))
        return "".join(parts)

    def _filler(self, key: str, how: str, value: Any) -> _Filler | None:
        """How to fill a field filled the ``how`` way (see ``fields.Field.placeholders``);
        None if it stays as it is."""
        if how == "run" and isinstance(value, str):  # a shell string (see shellvalues)
            shell = ShellTemplate(value, self._pattern)
            self._references = [(variable, self._slots.of(name)) for variable, name in shell.references.items()]
            shell_format = shell.as_format(self._slots.quoted_of)
            if not shell.words:  # the same text in every job (values, if any, in variables)
                self.template[key] = shell_format.format_map({})
                return None
            return lambda table, _: shell_format.format_map(table)
        if how in ("run", "names"):  # argv items, paths, names (a Depfile stays one)
            items = [(type(item), self._format(item), item) for item in value]
            if all(text is None for _, text, _ in items):
                return None
            return lambda table, _: tuple(item if text is None else kind(text.format_map(table))
                                          for kind, text, item in items)
        if how == "env":
            entries = [(key, self._format(text), text) for key, text in value.items()]
            if all(text is None for _, text, _ in entries):
                return None
            return lambda table, _: {key: item if text is None else text.format_map(table)
                                     for key, text, item in entries}
        if how == "text":
            text = self._format(value)
            return None if text is None else (lambda table, _: text.format_map(table))
        return self._data(value) if value else None  # args, kwargs

    def _data(self, value: Any) -> _Filler:
        """Arguments, a copy per job: an exact ``"{var}"`` becomes the value
        itself, with its type."""
        if isinstance(value, str):
            exact = self._pattern.fullmatch(value)
            if exact and exact[1] in self.names:
                index = self.names.index(exact[1])
                return lambda _, combination: plain(combination[index])
            text = self._format(value)
            return (lambda _, __: value) if text is None else (lambda table, _: text.format_map(table))
        if isinstance(value, (list, tuple)):
            kind, items = type(value), [self._data(item) for item in value]
            return lambda table, combination: kind(fill(table, combination) for fill in items)
        if isinstance(value, dict):
            entries = [(key, self._data(item)) for key, item in value.items()]
            return lambda table, combination: {key: fill(table, combination) for key, fill in entries}
        return lambda _, __: value
