"""The house rules that keep the code readable: no import circles (lazy
imports inside functions count too)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "taskrunner"


def imports_of(path: Path) -> set[str]:
    """The taskrunner modules ``path`` imports, anywhere in it (relative or absolute)."""
    found: set[str] = set()
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            candidates = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in candidates if name.startswith("taskrunner.") and _exists(name))
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_circles() -> None:
    graph = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}
    graph["taskrunner"] = set()  # the lazy public facade imports on demand only
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append(trail[trail.index(target):] + [target])
            elif not state.get(target):
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
    assert not circles, circles


def test_the_readme_key_table_matches_the_field_table() -> None:
    from taskrunner.fields import DEFAULTABLE, JOB_KEYS

    readme = (PACKAGE.parent / "README.md").read_text()
    section = readme[readme.index("## The job file"):readme.index("### Matrix")]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    documented = [key.strip().strip("`") for line in table for key in line.split("|")[1].split(",")]
    assert sorted(documented) == sorted(JOB_KEYS)
    sentence = section[section.index("`defaults` may set"):].split(";")[0]
    assert sorted(re.findall(r"`(\w+)`", sentence)[1:]) == sorted(DEFAULTABLE)


def test_no_module_over_450_lines_and_no_class_over_250() -> None:
    too_big = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if len(text.splitlines()) > 450:
            too_big.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and (node.end_lineno or 0) - node.lineno + 1 > 250:
                too_big.append(f"{path.name}: class {node.name}")
    assert not too_big, too_big
