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
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ..engine.depgraph import dependency_problems
from ..engine.fileorder import unmade_inputs, with_file_dependencies
from ..errors import SpecError, SpecProblem
from ..fields import CHECKS, DEFAULTABLE, JOB_KEYS, non_empty_string, positive_int, resources_value
from ..job import Job, expanded_job, field_checks, job_template, trusted_job
from ..owner import many_objects
from ..sources import Source, SourceError
from . import matrix
from .envfile import read_env_file
from .inputs import resolve
from .joblines import Expansions, JobLines
from .matrixfill import expand
from .nodereader import NodeReader, did_you_mean_key
from .shellvalues import UnsafePlaceholder
from .yamlnodes import flow_brace_hint, scalars_as_written, yaml11_warning
from .yamlstream import ReadWhole, StreamLoader, compose_top, compose_whole, streamed_items

__all__ = ["JobFile", "load_job_file", "load_jobs"]

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
    #: Each job's line in the file, by job index (for ``validate --check``; one
    #: entry per job as written: a name-to-line table would cost some 40 bytes a job, for the whole run).
    lines: Sequence[int] = ()
    #: A matrix job's name as written -> the names of its expansions (for ``list``).
    templates: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)


#: Default cap on the number of jobs a file may expand to (``--max-jobs``).
MAX_JOBS = 100_000
#: How messages name a job file read from standard input.
STDIN_NAME = "<stdin>"
_TOP_LEVEL = ("workers", "resources", "shell", "defaults", "jobs")


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

    # The loader makes a few objects per YAML node; the cyclic garbage
    # collector, triggered again and again by them, took most of the time of
    # a large file (4.3 of 5 s for 50,000 jobs). Nothing here makes cycles.
    try:
        with many_objects():
            try:
                reader, job_file = _read(path, text, max_jobs, from_stdin, streamed=True)
            except ReadWhole:  # a top-level key after the jobs, which were read without it
                reader, job_file = _read(path, text, max_jobs, from_stdin, streamed=False)
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
    if reader.problems:
        raise SpecError(reader.problems)
    assert job_file is not None
    return job_file


def _read(path: str, text: str, max_jobs: int, from_stdin: bool, streamed: bool) -> tuple[NodeReader, JobFile | None]:
    """Read the file's text: ``streamed``, one job's nodes at a time (see
    ``yamlstream``), else the whole node tree at once."""
    loader = StreamLoader(text)
    try:
        root, items = compose_top(loader) if streamed else (compose_whole(loader), iter(()))
        if root is None:
            raise SpecError(SpecProblem(path, None, "job file is empty; it needs a 'jobs' list"))
        reader = NodeReader(path, loader, max_jobs, text, from_stdin)
        # Relative paths resolve against the job file's folder; for standard
        # input, against the current one.
        base_dir = os.getcwd() if from_stdin else os.path.dirname(os.path.abspath(path))
        job_file = _read_root(reader, root, items, base_dir)
        if job_file is not None and loader.yaml11_spelling is not None:
            warning = yaml11_warning(path, root, loader.yaml11_spelling, loader.yaml11_line)
            job_file = dataclasses.replace(job_file, warnings=(warning,))
        return reader, job_file
    finally:
        loader.dispose()


def load_jobs(path: str | os.PathLike[str], *, max_jobs: int = MAX_JOBS) -> list[Job]:
    """The jobs of a job file, validated and expanded; raise ``SpecError`` if it is invalid.

    >>> jobs = load_jobs("jobs.example.yaml")   # doctest: +SKIP
    """
    return list(load_job_file(path, max_jobs=max_jobs).jobs)


def _read_root(reader: NodeReader, root: yaml.Node, items: Iterator[yaml.Node], base_dir: str) -> JobFile | None:
    """The job file in ``root``; the jobs' nodes are in ``items`` where they are streamed."""
    if not isinstance(root, yaml.MappingNode):
        reader.problem(root, "the top level must be a mapping with a 'jobs' list")
        return None
    top = reader.mapping(root, "")
    for key, (key_node, _) in top.items():
        if key not in _TOP_LEVEL and not key.startswith("x-"):  # x-: room for YAML anchors
            reader.problem(key_node, f"unknown top-level key {key!r}{did_you_mean_key(key, _TOP_LEVEL)}")

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
    if not isinstance(jobs_node, yaml.SequenceNode) or not (jobs_node.value or streamed_items(jobs_node)):
        reader.problem(jobs_node, "'jobs' must be a non-empty list of jobs")
        return None

    jobs: list[Job] = []
    expanded_at: dict[str, list[tuple[int, int]]] = {}  # a matrix job's name as written -> its jobs
    first_line: dict[str, int] = {}  # (while reading: duplicate names; then dropped)
    lines = JobLines()
    for index, job_node in enumerate(jobs_node.value or items, start=1):
        read = _read_job(reader, job_node, index, defaults, base_dir)
        reader.forget_nodes()  # (so that a streamed job's nodes are freed)
        if read is None:
            continue
        template_name, expanded = read
        before = len(jobs)
        for job in expanded:
            if job.name in first_line:
                reader.problem(
                    job_node, f"job {job.name!r}: duplicate name (first defined on line {first_line[job.name]})"
                )
            else:
                first_line[job.name] = job_node.start_mark.line + 1
                jobs.append(job)
        lines.add(first=before, count=len(jobs) - before, line=job_node.start_mark.line + 1)
        if template_name is not None:  # (two templates may share a name: depends_on means both)
            expanded_at.setdefault(template_name, []).append((before, len(jobs) - before))
    linked: Sequence[Job] = jobs
    templates = {name: Expansions(jobs, ranges) for name, ranges in expanded_at.items()}
    if not reader.problems:  # with invalid jobs dropped, names would look unknown
        linked, by_file = with_file_dependencies([_resolve_templates(job, templates, first_line) for job in jobs])
        for index, message in dependency_problems(linked, edge_files=by_file):
            reader.problem_at(first_line[linked[index].name], message)
        for index, message in unmade_inputs(linked):
            reader.problem_at(first_line[linked[index].name], message)
    final = tuple(linked)  # (the same names in the same order: the expansions are read from it)
    templates = {name: Expansions(final, ranges) for name, ranges in expanded_at.items()}
    return JobFile(reader.path, final, workers, resources, lines=lines, templates=templates)


def _resolve_templates(job: Job, templates: Mapping[str, Sequence[str]], names: dict[str, int]) -> Job:
    """``depends_on: [gen-{n}]`` naming a matrix job as written means all its expansions."""
    if not job.depends_on or not any(dep in templates and dep not in names for dep in job.depends_on):
        return job
    resolved: list[str] = []
    for dep in job.depends_on:
        resolved += list(templates[dep]) if dep in templates and dep not in names else [dep]
    return dataclasses.replace(job, depends_on=tuple(dict.fromkeys(resolved)))


def _read_job(
    reader: NodeReader, node: yaml.Node, index: int, defaults: dict[str, Any], base_dir: str
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
    whole = job_template(base_dir=base_dir, **template)
    return [expanded_job(checks, fields) for fields in expand(whole, values, first_seq)]


def _env_from_files(
    reader: NodeReader, node: yaml.Node, context: str, paths: tuple[str, ...], base_dir: str
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
