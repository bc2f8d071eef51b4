"""Reading a job file's YAML nodes: values built fast, problems collected
(with their lines) instead of stopping at the first, alias bombs and NUL
characters refused. The job-file reader (``spec``) walks the tree with it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from ..errors import SpecProblem
from ..fields import CHECKS, InvalidValue
from ..suggest import did_you_mean
from .yamlnodes import SEQ_TAG, STR_TAG, AliasBomb, expanded_size, holds_nul, mapping_pairs

__all__ = ["NodeReader", "did_you_mean_key"]

_NUL_ESCAPE = re.compile(r"\\(0|x00|u0000|U00000000)")


#: What other tools call some keys (make, go-task, GitHub Actions, docker-compose, pueue).
_OTHER_NAMES = {
    "command": "run", "cmd": "run", "script": "run", "shell": "run", "exec": "run",
    "deps": "depends_on", "needs": "depends_on", "depends": "depends_on", "after": "depends_on",
    "requires": "depends_on", "dependencies": "depends_on",
    "dir": "cwd", "workdir": "cwd", "working_dir": "cwd", "working-directory": "cwd", "cd": "cwd",
    "environment": "env", "function": "call", "func": "call", "callable": "call",
    "retry": "retries", "tag": "tags", "env_files": "env_file", "dotenv": "env_file",
}


def did_you_mean_key(key: str, choices: list[str] | tuple[str, ...]) -> str:
    if _OTHER_NAMES.get(key) in choices:
        return f" (did you mean {_OTHER_NAMES[key]!r}?)"
    return did_you_mean(key, choices)


class NodeReader:
    """Walks the YAML node tree, collecting problems instead of stopping."""

    def __init__(self, path: str, loader: Any, max_jobs: int, text: str = "", from_stdin: bool = False) -> None:
        self.path = path
        self.from_stdin = from_stdin
        self.env_files: dict[str, dict[str, str]] = {}  # read once, however many jobs name one
        self.loader = loader
        self.max_jobs = max_jobs
        self.job_count = 0
        self.problems: list[SpecProblem] = []
        # Without aliases a value cannot stand for more nodes than the file
        # has characters; allow generous reuse of anchors, not a bomb.
        self.expansion_left = 10 * len(text) + 10_000
        self.sizes: dict[int, int] = {}
        # NUL can only come from a double-quoted escape: look for one only then.
        self.may_hold_nul = bool(_NUL_ESCAPE.search(text))
        # Likewise {#} and {%} outside a matrix: looked for in jobs only if the file has one.
        self.may_use_run_placeholders = "{#}" in text or "{%}" in text

    def problem(self, node: yaml.Node | None, message: str) -> None:
        self.problem_at(node.start_mark.line + 1 if node is not None else None, message)

    def problem_at(self, line: int | None, message: str) -> None:
        self.problems.append(SpecProblem(self.path, line, message))

    def forget_nodes(self) -> None:
        """A job has been read: drop what was remembered of its nodes (the
        sizes are keyed by ``id``, which a later node may reuse once this
        one is gone), so that its tree can be freed."""
        self.sizes.clear()
        self.loader.constructed_objects.clear()

    def value(self, node: yaml.Node) -> Any:
        # Strings, and lists of strings (tags, depends_on, argv), are most of a
        # file: build them here, as the constructor would, at a fraction of its cost.
        if node.tag == STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value
        if node.tag == SEQ_TAG and isinstance(node, yaml.SequenceNode):
            items = node.value
            if all(item.tag == STR_TAG and isinstance(item, yaml.ScalarNode) for item in items):
                return [item.value for item in items]
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, context: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key → (key node, value node), reporting non-string and duplicate keys."""
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged_keys: set[str] = set()
        for key_node, value_node, merged in mapping_pairs(self.loader, node):
            key = self.value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.problem(key_node, f"{context}keys must be strings")
            elif key in entries and key not in merged_keys:
                self.problem(key_node, f"{context}duplicate key {key!r}")
            else:
                # A key from a ``<<`` merge is overridden by a later one.
                entries[key] = (key_node, value_node)
                (merged_keys.add if merged else merged_keys.discard)(key)
        return entries

    def field(
        self, context: str, key: str, node: yaml.Node, check: Callable[[Any], Any], key_node: yaml.Node | None = None
    ) -> Any:
        """Validate one value; on failure record a problem and return None.
        (An alias bomb is reported at ``key_node``: where the alias is used,
        not where its anchor stands.)"""
        try:
            if not isinstance(node, yaml.ScalarNode):
                self.expansion_left -= expanded_size(node, self.expansion_left, self.sizes)
            value = self.value(node)
            if self.may_hold_nul and holds_nul(value):
                raise InvalidValue("contains a NUL character, which no command, environment or path can carry")
            return check(value)
        except InvalidValue as invalid:
            self.problem(node, f"{context}{key!r} {invalid}")
        except AliasBomb as bomb:
            self.problem(key_node or node, f"{context}{key!r} is refused: {bomb}")
        return None

    def fields(
        self, entries: dict[str, tuple[yaml.Node, yaml.Node]], allowed: tuple[str, ...], context: str
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, (key_node, value_node) in entries.items():
            if key not in allowed:
                hint = did_you_mean_key(key, allowed)
                if key in ("name", "run", "call"):
                    hint = f" (a default cannot set {key!r})"
                self.problem(key_node, f"{context}unknown key {key!r}{hint}")
            else:
                value = self.field(context, key, value_node, CHECKS[key], key_node)
                if value is not None:
                    values[key] = value
        return values
