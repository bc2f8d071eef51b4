"""YAML at the node level, for the job-file reader: a faster loader, merge
keys, and the guards a loader needs against hostile files.

- ``Loader``: the safe loader (C if available) with shortcuts for tags.
- ``mapping_pairs``: a mapping's key/value nodes with YAML merge keys
  (``<<: *defaults``) applied as YAML defines them: the mapping's own keys
  win over merged ones, an earlier merged mapping over a later one.
- ``expanded_size``: how many nodes a value becomes once its aliases are
  expanded. A few lines of anchors and aliases can stand for billions of
  values (a "billion laughs" file); the reader refuses a value whose
  expansion is far larger than the file's text, before anything builds,
  prints or serialises it.
- ``holds_nul``: a NUL character anywhere in a value (YAML's ``"\\0"``);
  no command line, environment or path can carry one.

Plain scalars are typed as YAML 1.2's core schema types them: booleans are
only ``true``/``false`` (any case of the first letter, or all capitals),
``0755`` is 755, ``NO``, ``on`` and ``2024-01-01`` are strings. A plain
scalar that YAML 1.1 (PyYAML's default) would read otherwise is remembered
(``Loader.yaml11_spelling``), so that ``validate`` can say so once.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

try:  # The C loader is several times faster on large files.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

__all__ = ["MERGE_TAG", "SEQ_TAG", "STR_TAG", "AliasBomb", "Loader", "expanded_size", "first_plain_scalar",
           "flow_brace_hint", "holds_nul", "mapping_pairs", "scalars_as_written", "yaml11_warning"]

STR_TAG = "tag:yaml.org,2002:str"
SEQ_TAG = "tag:yaml.org,2002:seq"
MERGE_TAG = "tag:yaml.org,2002:merge"
INT_TAG = "tag:yaml.org,2002:int"

#: YAML 1.2 core schema: tag, pattern, the first characters it can start with
#: ("" stands for the empty scalar, a null).
_CORE_SCHEMA = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (INT_TAG, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float", (r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                 r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+.0123456789")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", [*"~nN", ""]),
    (MERGE_TAG, r"^(?:<<)$", ["<"]),
]
#: How YAML 1.1 (PyYAML's stock safe loader) types plain scalars.
_YAML11 = yaml.SafeLoader.yaml_implicit_resolvers


class Loader(_BaseLoader):
    """The safe loader with YAML 1.2 core typing and shortcuts for resolving tags.

    Even the C loader asks this Python method for every node's tag, and the
    stock resolver runs regular expressions each time. Here a quoted scalar,
    or a plain one whose first character starts none of YAML's implicit
    types (numbers, booleans, null...), is a string at once; other scalars
    are resolved once per distinct value (keys and values repeat in a big
    file); lists and mappings get the default tags (no path resolvers are
    registered on the safe loader).
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._scalar_tags: dict[tuple[str, bool], str] = {}
        #: The first plain scalar YAML 1.1 would have read otherwise (``yes``, ``0755``...), if any.
        self.yaml11_spelling: str | None = None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        if kind is yaml.MappingNode:
            return self.DEFAULT_MAPPING_TAG
        if value and (not implicit[0] or (value[0] not in self.yaml_implicit_resolvers and value[0] not in _YAML11)):
            return STR_TAG
        key = (value, implicit[0])
        tag = self._scalar_tags.get(key)
        if tag is None:
            tag = self._scalar_tags[key] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if implicit[0] and self.yaml11_spelling is None and _read_otherwise_by_yaml11(value, tag):
                self.yaml11_spelling = value
        return tag

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """YAML 1.2 integers: decimal (leading zeros allowed), ``0o`` octal, ``0x`` hexadecimal."""
        text = str(node.value)
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text)


# Its own table (YAML 1.2's), not a copy of the one the safe loader has.
Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in _CORE_SCHEMA:
    Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
Loader.add_constructor(INT_TAG, Loader.construct_yaml_int)


def _read_otherwise_by_yaml11(value: str, tag: str) -> bool:
    old_tag = next((old for old, pattern in _YAML11.get(value[:1], []) if pattern.match(value)), STR_TAG)
    digits = value.lstrip("+-")
    # Both read 0755 as a number: 1.1 as octal (493), 1.2 as 755.
    return old_tag != tag or (tag == INT_TAG and digits[:1] == "0" and digits[1:2].isdigit())


class AliasBomb(Exception):
    """A value whose aliases expand past the allowed size, or into themselves."""


def mapping_pairs(loader: Any, node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node, bool]]:
    """``(key node, value node, merged)`` for each entry of ``node``, merge
    keys applied; ``merged`` marks entries that came from a ``<<`` key (a
    later entry with the same key overrides them)."""
    if not any(key.tag == MERGE_TAG for key, _ in node.value):
        return [(key, value, False) for key, value in node.value]
    own = sum(1 for key, _ in node.value if key.tag != MERGE_TAG)
    loader.flatten_mapping(node)  # merged entries first, then the node's own
    first_own = len(node.value) - own
    return [(key, value, index < first_own) for index, (key, value) in enumerate(node.value)]


def expanded_size(node: yaml.Node, limit: int, memo: dict[int, int] | None = None) -> int:
    """The number of nodes ``node`` stands for with every alias expanded.

    Raises ``AliasBomb`` past ``limit`` or for a value that contains itself.
    Shared nodes are sized once (``memo``), so this is linear in the file.
    """
    memo = {} if memo is None else memo
    known = memo.get(id(node))
    if known is not None:
        if known < 0:
            raise AliasBomb("a YAML alias refers to a value that contains it")
        return known
    if isinstance(node, yaml.ScalarNode):
        return 1
    memo[id(node)] = -1  # in progress: meeting it again is a cycle
    children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
    size = 1
    for child in children:
        size += expanded_size(child, limit, memo)
        if size > limit:
            raise AliasBomb(f"YAML aliases expand it to more than {limit:,} values")
    memo[id(node)] = size
    return size


def holds_nul(value: Any) -> bool:
    """True if a string anywhere in ``value`` (nested lists and mappings
    included, keys too) contains a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, (list, tuple)):
        return any(holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    return False


def first_plain_scalar(root: yaml.Node, value: str) -> yaml.ScalarNode | None:
    """The first plain (unquoted) scalar node reading ``value``, in file order."""
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if not node.style and node.value == value:  # plain: None, or "" from the C loader
                return node
        elif isinstance(node, yaml.SequenceNode):
            stack += reversed(node.value)
        else:
            stack += reversed([child for pair in node.value for child in pair])
    return None


def yaml11_warning(path: str, root: yaml.Node, spelling: str, line: int | None = None) -> str:
    """The one warning about a plain scalar (``spelling``) that YAML 1.1 reads
    otherwise; ``line`` (0-based) where it was first seen, if known, else it
    is looked for under ``root``."""
    if line is None:
        node = first_plain_scalar(root, spelling)
        line = node.start_mark.line if node is not None else None
    where = f"{path}:{line + 1}" if line is not None else path

    def meaning(value: Any) -> str:
        return f'the string "{value}"' if isinstance(value, str) else yaml.safe_dump(value).split("\n")[0]

    now, before = yaml.load(spelling, Loader), yaml.safe_load(spelling)  # Loader is a safe loader
    return (f"{where}: warning: {spelling} is {meaning(now)} here (YAML 1.2), not {meaning(before)} as in "
            f"YAML 1.1; quote it to be plain about it (the first such value; there may be more)")


def scalars_as_written(loader: Any, node: yaml.Node) -> list[tuple[str, int, str]]:
    """``(key, index, text)`` of each scalar item of each list in the mapping
    ``node``, as written in the file."""
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(key.value, index, item.value) for key, value, _ in mapping_pairs(loader, node)
            if isinstance(value, yaml.SequenceNode) for index, item in enumerate(value.value)
            if isinstance(item, yaml.ScalarNode)]


#: A word with a placeholder in it, as written in a flow list: ``recompress-{f}``.
_BRACED_WORD = re.compile(r"[^\s,\[\]{}'\"]*\{[^\s,\[\]{}'\"]*\}[^\s,\[\]{}'\"]*")


def flow_brace_hint(error: yaml.MarkedYAMLError, text: str) -> str:
    """For a parse error in a flow list or mapping next to a ``{``: how to
    quote the value (YAML reads ``{`` there as the start of a mapping).

    >>> try:
    ...     yaml.safe_load("deps: [stats, recompress-{f}]")
    ... except yaml.MarkedYAMLError as error:
    ...     print(flow_brace_hint(error, "deps: [stats, recompress-{f}]"))
    ; quote a value with { in a [...] or {...} list, e.g. "recompress-{f}"
    """
    if "flow" not in f"{error.context} {error.problem}":
        return ""
    marks = [mark for mark in (error.context_mark, error.problem_mark) if mark is not None]
    lines = text.splitlines()
    for mark in marks:
        if mark.line < len(lines):
            found = _BRACED_WORD.search(lines[mark.line])
            if found:
                return f'; quote a value with {{ in a [...] or {{...}} list, e.g. "{found[0]}"'
    return ""
