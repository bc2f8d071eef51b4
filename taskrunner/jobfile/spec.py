"""Job file (YAML) → validated ``Job`` values.

Parses with PyYAML's safe loader (the C one when available) into a node tree,
so that every problem can name its line, then validates the whole file and
reports every problem found at once — nothing runs on an invalid file.

    >>> from taskrunner.spec import load_job_file          # doctest: +SKIP
    >>> load_job_file("jobs.yaml").jobs[0].name             # doctest: +SKIP
    'compress'
"""

from __future__ import annotations

import dataclasses
import gc
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..engine.fileorder import unmade_inputs, with_file_dependencies
from ..engine.plan import dependency_problems
from ..errors import SpecError, SpecProblem
from ..fields import CHECKS, DEFAULTABLE, JOB_KEYS, InvalidValue, non_empty_string, positive_int, resources_value
from ..model import Job, expanded_job, field_checks, trusted_job
from ..sources import Source, SourceError
from ..suggest import did_you_mean
from . import matrix
from .envfile import read_env_file
from .inputs import resolve
from .shellvalues import UnsafePlaceholder
from .yamlnodes import (
    SEQ_TAG,
    STR_TAG,
    AliasBomb,
    Loader,
    expanded_size,
    flow_brace_hint,
    holds_nul,
    mapping_pairs,
    scalars_as_written,
    yaml11_warning,
)

__all__ = ["JobFile", "load_job_file", "load_jobs"]

_NUL_ESCAPE = re.compile(r"\\(0|x00|u0000|U00000000)")


@dataclass(frozen=True)
class JobFile:
    """A parsed job file: its jobs and its optional default worker count."""

    path: str
    jobs: tuple[Job, ...]
    workers: int | None = None
    #: The file's top-level ``resources`` (the run's capacity), if given.
    resources: dict[str, float] | None = None
    #: Lines for ``validate`` to show: things that are valid but may not mean what was meant.
    warnings: tuple[str, ...] = ()
    #: Each job's line in the file (for ``validate --check``).
    lines: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: A matrix job's name as written -> the names of its expansions (for ``list``).
    templates: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)


#: Default cap on the number of jobs a file may expand to (``--max-jobs``).
MAX_JOBS = 100_000
#: How messages name a job file read from standard input.
STDIN_NAME = "<stdin>"
_TOP_LEVEL = ("workers", "resources", "shell", "defaults", "jobs")


#: What other tools call some keys (make, go-task, GitHub Actions, docker-compose, pueue).
_OTHER_NAMES = {
    "command": "run", "cmd": "run", "script": "run", "shell": "run", "exec": "run",
    "deps": "depends_on", "needs": "depends_on", "depends": "depends_on", "after": "depends_on",
    "requires": "depends_on", "dependencies": "depends_on",
    "dir": "cwd", "workdir": "cwd", "working_dir": "cwd", "working-directory": "cwd", "cd": "cwd",
    "environment": "env", "function": "call", "func": "call", "callable": "call",
    "retry": "retries", "tag": "tags", "env_files": "env_file", "dotenv": "env_file",
}


def _did_you_mean(key: str, choices: list[str] | tuple[str, ...]) -> str:
    if _OTHER_NAMES.get(key) in choices:
        return f" (did you mean {_OTHER_NAMES[key]!r}?)"
    return did_you_mean(key, choices)


class _Reader:
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
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(SpecProblem(self.path, line, message))

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
                hint = _did_you_mean(key, allowed)
                if key in ("name", "run", "call"):
                    hint = f" (a default cannot set {key!r})"
                self.problem(key_node, f"{context}unknown key {key!r}{hint}")
            else:
                value = self.field(context, key, value_node, CHECKS[key], key_node)
                if value is not None:
                    values[key] = value
        return values


def load_job_file(path: str | os.PathLike[str], *, max_jobs: int = MAX_JOBS) -> JobFile:
    """Read, validate and return a job file; raise ``SpecError`` with every problem.

    ``max_jobs`` caps how many jobs the file may expand to (matrices).
    ``"-"`` reads standard input (named ``<stdin>`` in messages).
    """
    path = os.fspath(path)
    from_stdin = path == "-"
    try:
        if from_stdin:
            path = STDIN_NAME
            text = sys.stdin.buffer.read().decode("utf-8")
        else:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
    except OSError as error:
        raise SpecError(SpecProblem(path, None, f"cannot read job file: {error.strerror}")) from None
    except UnicodeDecodeError:
        raise SpecError(SpecProblem(path, None, "job file is not valid UTF-8")) from None

    loader = None
    # The loader makes a few objects per YAML node; the cyclic garbage
    # collector, triggered again and again by them, took most of the time of
    # a large file (4.3 of 5 s for 50,000 jobs). Nothing here makes cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        loader = Loader(text)
        root = loader.get_single_node()
        if root is None:
            raise SpecError(SpecProblem(path, None, "job file is empty; it needs a 'jobs' list"))
        reader = _Reader(path, loader, max_jobs, text, from_stdin)
        # Relative paths resolve against the job file's folder; for standard
        # input, against the current one.
        base_dir = os.getcwd() if from_stdin else os.path.dirname(os.path.abspath(path))
        job_file = _read_root(reader, root, base_dir)
        if job_file is not None and loader.yaml11_spelling is not None:
            job_file = dataclasses.replace(job_file, warnings=(yaml11_warning(path, root, loader.yaml11_spelling),))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(part) for part in (error.context, error.problem) if part)
        hint = flow_brace_hint(error, text)
        raise SpecError(SpecProblem(path, line, f"invalid YAML: {' '.join(problem.split())}{hint}")) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise SpecError(SpecProblem(path, line, f"invalid YAML: {' '.join(error.reason.split())} (character {error.character!r})")) from None
    except yaml.YAMLError as error:
        raise SpecError(SpecProblem(path, None, f"invalid YAML: {' '.join(str(error).split())}")) from None
    except RecursionError:
        raise SpecError(SpecProblem(path, None, "invalid YAML: nested too deeply")) from None
    finally:
        if loader is not None:
            loader.dispose()
        if collecting:
            gc.enable()
    if reader.problems:
        raise SpecError(reader.problems)
    assert job_file is not None
    return job_file


def load_jobs(path: str | os.PathLike[str], *, max_jobs: int = MAX_JOBS) -> list[Job]:
    """The jobs of a job file, validated and expanded; raise ``SpecError`` if it is invalid.

    >>> jobs = load_jobs("jobs.example.yaml")   # doctest: +SKIP
    """
    return list(load_job_file(path, max_jobs=max_jobs).jobs)


def _read_root(reader: _Reader, root: yaml.Node, base_dir: str) -> JobFile | None:
    if not isinstance(root, yaml.MappingNode):
        reader.problem(root, "the top level must be a mapping with a 'jobs' list")
        return None
    top = reader.mapping(root, "")
    for key, (key_node, _) in top.items():
        if key not in _TOP_LEVEL and not key.startswith("x-"):  # x-: room for YAML anchors
            reader.problem(key_node, f"unknown top-level key {key!r}{_did_you_mean(key, _TOP_LEVEL)}")

    workers = None
    if "workers" in top:
        workers = reader.field("", "workers", top["workers"][1], positive_int)
    pairs = reader.field("", "resources", top["resources"][1], resources_value) if "resources" in top else None
    resources = dict(pairs) if pairs else None

    defaults: dict[str, Any] = {}  # (the file's shell: as if in defaults, which may set another)
    if "shell" in top:
        defaults = {"shell": reader.field("", "shell", top["shell"][1], CHECKS["shell"])}
    if "defaults" in top:
        node = top["defaults"][1]
        if isinstance(node, yaml.MappingNode):
            defaults.update(reader.fields(reader.mapping(node, "defaults: "), DEFAULTABLE, "defaults: "))
        else:
            reader.problem(node, "'defaults' must be a mapping")

    if "jobs" not in top:
        reader.problem(root, "missing required key 'jobs' (a list of jobs)")
        return None
    jobs_node = top["jobs"][1]
    if not isinstance(jobs_node, yaml.SequenceNode) or not jobs_node.value:
        reader.problem(jobs_node, "'jobs' must be a non-empty list of jobs")
        return None

    jobs: list[Job] = []
    nodes: list[yaml.Node] = []
    templates: dict[str, list[str]] = {}  # a matrix job's name as written -> its expansions
    first_line: dict[str, int] = {}
    for index, job_node in enumerate(jobs_node.value, start=1):
        read = _read_job(reader, job_node, index, defaults, base_dir)
        if read is None:
            continue
        template_name, expanded = read
        if template_name is not None:  # (two templates may share a name: depends_on means both)
            templates.setdefault(template_name, []).extend(job.name for job in expanded)
        for job in expanded:
            if job.name in first_line:
                reader.problem(
                    job_node, f"job {job.name!r}: duplicate name (first defined on line {first_line[job.name]})"
                )
            else:
                first_line[job.name] = job_node.start_mark.line + 1
                jobs.append(job)
                nodes.append(job_node)
    if not reader.problems:  # with invalid jobs dropped, names would look unknown
        jobs, by_file = with_file_dependencies([_resolve_templates(job, templates, first_line) for job in jobs])
        for index, message in dependency_problems(jobs, edge_files=by_file):
            reader.problem(nodes[index], message)
        for index, message in unmade_inputs(jobs):
            reader.problem(nodes[index], message)
    return JobFile(reader.path, tuple(jobs), workers, resources, lines=first_line, templates=templates)


def _resolve_templates(job: Job, templates: dict[str, list[str]], names: dict[str, int]) -> Job:
    """``depends_on: [gen-{n}]`` naming a matrix job as written means all its expansions."""
    if not any(dep in templates and dep not in names for dep in job.depends_on):
        return job
    resolved: list[str] = []
    for dep in job.depends_on:
        resolved += templates[dep] if dep in templates and dep not in names else [dep]
    return dataclasses.replace(job, depends_on=tuple(dict.fromkeys(resolved)))


def _read_job(
    reader: _Reader, node: yaml.Node, index: int, defaults: dict[str, Any], base_dir: str
) -> tuple[str | None, list[Job]] | None:
    """(the name as written if it is a matrix job, the expanded jobs), or None if invalid."""
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, f"job #{index}: must be a mapping with 'name' and 'run' or 'call'")
        return None
    problems_before = len(reader.problems)
    entries = reader.mapping(node, f"job #{index}: ")
    name = None
    if "name" in entries:
        _, name_node = entries.pop("name")
        name = reader.field(f"job #{index}: ", "name", name_node, non_empty_string)
    else:
        reader.problem(node, f"job #{index}: missing required key 'name'")
    context = f"job {name!r}: " if name else f"job #{index}: "
    values = reader.fields(entries, JOB_KEYS, context)
    if name:
        values["name"] = name

    has_run, has_call = "run" in entries, "call" in entries
    if has_run and has_call:
        reader.problem(node, f"{context}has both 'run' and 'call'; give exactly one")
    elif not has_run and not has_call:
        reader.problem(node, f"{context}needs 'run' (a command) or 'call' (module:function)")
    elif has_run and ("args" in entries or "kwargs" in entries):
        key = "args" if "args" in entries else "kwargs"
        reader.problem(entries[key][0], f"{context}{key!r} goes with 'call', not 'run'")
    if len(reader.problems) > problems_before:
        return None

    merged = dict(defaults)
    merged.update(values)
    if "env" in defaults and "env" in values:
        merged["env"] = {**defaults["env"], **values["env"]}
    env_files = merged.pop("env_file", None)
    if env_files:
        where = entries["env_file"][1] if "env_file" in entries else node
        file_env = _env_from_files(reader, where, context, env_files, base_dir)
        if file_env is None:
            return None
        merged["env"] = {**file_env, **merged.get("env", {})}  # env wins over the file
    matrix_values = merged.pop("matrix", None)
    if matrix_values is None:
        reader.job_count += 1
        if reader.job_count > reader.max_jobs:
            if reader.job_count == reader.max_jobs + 1:  # say it once
                reader.problem(node, f"{context}the file has more than the limit of {reader.max_jobs:,} jobs "
                                     "(raise it with --max-jobs)")
            return None
        if reader.may_use_run_placeholders and matrix.uses_run_placeholders(merged):  # {#} or {%}
            try:
                return None, _expanded(base_dir, merged, {}, reader.job_count)
            except UnsafePlaceholder as error:
                reader.problem(entries["run"][1], f"{context}{error}")
                return None
        return None, [trusted_job(base_dir=base_dir, **merged)]
    matrix_node = entries["matrix"][1]
    _keep_as_written(reader.loader, matrix_node, matrix_values)
    resolved: dict[str, list[Any]] = {}
    for variable, given in matrix_values.items():
        if not isinstance(given, Source):
            resolved[variable] = given
            continue
        if given.argument == "-" and reader.from_stdin:
            reader.problem(matrix_node, f"{context}matrix: variable {variable!r}: standard input is the job file")
            return None
        try:
            resolved[variable] = resolve(given, base_dir, reader.max_jobs)
        except SourceError as error:
            reader.problem(matrix_node, f"{context}matrix: variable {variable!r}: {error}")
            return None
    total = reader.job_count + matrix.count(resolved)
    if total > reader.max_jobs:
        reader.problem(
            matrix_node,
            f"{context}'matrix' expands the file to {total:,} jobs, more than the limit of "
            f"{reader.max_jobs:,} (raise it with --max-jobs)",
        )
        return None
    first_seq = reader.job_count + 1
    reader.job_count = total
    try:
        expanded = _expanded(base_dir, merged, resolved, first_seq)
    except UnsafePlaceholder as error:
        reader.problem(entries["run"][1], f"{context}{error}")
        return None
    except (ValueError, TypeError) as error:  # e.g. a value that makes an empty name
        reader.problem(matrix_node, f"{context}matrix: {error}")
        return None
    return merged["name"], expanded


def _keep_as_written(loader: Any, node: yaml.Node, variables: dict[str, Any]) -> None:
    """Each typed value of ``variables`` whose text as written differs from
    how it would be rendered (``3.10``, ``0755``) becomes a ``Written``."""
    for name, index, text in scalars_as_written(loader, node):
        values = variables.get(name)
        if isinstance(values, list) and index < len(values) and type(values[index]) is not str \
                and matrix.render(values[index]) != text:
            values[index] = matrix.Written(values[index], text)


def _expanded(base_dir: str, template: dict[str, Any], values: dict[str, list[Any]], first_seq: int) -> list[Job]:
    """The template's jobs, one per combination of ``values``; ValueError/TypeError
    for a combination that makes an invalid job (e.g. an empty name)."""
    checks = field_checks(matrix.changed_fields(template, list(values)))
    return [expanded_job(checks, base_dir=base_dir, **e.fields) for e in matrix.expand(template, values, first_seq)]


def _env_from_files(
    reader: _Reader, node: yaml.Node, context: str, paths: tuple[str, ...], base_dir: str
) -> dict[str, str] | None:
    """The variables of the ``env_file`` files, later files winning; None (a
    problem recorded) if one cannot be read."""
    env: dict[str, str] = {}
    for relative in paths:
        path = os.path.join(base_dir, relative)
        if path not in reader.env_files:
            try:
                reader.env_files[path] = read_env_file(path)
            except ValueError as error:
                reader.problem(node, f"{context}'env_file' {error}")
                return None
        env.update(reader.env_files[path])
    return env
