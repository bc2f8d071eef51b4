"""The house rules that keep the code readable: no import circles (lazy
imports inside functions count too), and the wings of the package import
downwards only (the README's map)."""

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


def circles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle a depth-first walk of ``graph`` meets."""
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
    return circles


def test_no_import_circles() -> None:
    graph = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}
    graph["taskrunner"] = set()  # the lazy public facade imports on demand only
    circles = circles_in(graph)
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


#: The wings, highest first: each may import only those after it (and the ground).
WINGS = ["cli", "executor", "jobfile", "engine", "display", "backends", "execution", "results"]


def node_of(module: str) -> str:
    """A module's node in the wing graph: its wing, or itself for the ground."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "taskrunner"


def wing_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = node_of(module_name(path))
        if source in ("taskrunner", "__main__"):  # the lazy public facade; python -m taskrunner
            continue
        graph.setdefault(source, set()).update(
            node_of(target) for target in imports_of(path) if node_of(target) != source)
    return graph


def test_the_top_holds_the_ground_and_at_least_five_wings() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= 12, top
    wings = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert wings == sorted(WINGS), wings
    for wing in wings:
        assert (PACKAGE / wing / "__init__.py").read_text().startswith('"""'), wing


def test_wings_import_downwards_only() -> None:
    rank = {wing: place for place, wing in enumerate(WINGS)}
    upward = sorted((source, target) for source, targets in wing_graph().items() for target in targets
                    if target in rank and (source not in rank or rank[target] <= rank[source]))
    assert not upward, upward


def test_no_circle_between_wings_and_ground_modules() -> None:
    circles = circles_in(wing_graph())
    assert not circles, circles
