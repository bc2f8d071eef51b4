"""Order from files, as make and snakemake have it: a job whose ``inputs``
name a file another job's ``outputs`` make depends on that job, as if its
``depends_on`` said so.

Paths are compared after joining each job's folder (``cwd``); a glob on
either side matches the other's path (``inputs: "obj/*.o"`` waits for every
job making an object file there). The cycle such an edge closes is reported
by ``dependency_problems`` with the file named (``edge_files``).

    >>> made = Job(name="make", run="x", outputs="x.txt", cwd="/w")
    >>> used = Job(name="use", run="x", inputs="x.txt", cwd="/w")
    >>> jobs, files = with_file_dependencies([used, made])
    >>> jobs[0].depends_on, files
    (('make',), {('use', 'make'): 'x.txt'})
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
import re
from collections.abc import Sequence

from ..fields import Depfile
from ..model import Job
from .filelook import FileLook, is_glob
from .freshness import job_folder

__all__ = ["unmade_inputs", "with_file_dependencies"]

def with_file_dependencies(jobs: Sequence[Job]) -> tuple[Sequence[Job], dict[tuple[str, str], str]]:
    """``jobs`` with the dependencies their files imply added (the others
    unchanged, in order), and for each added edge ``(job, dependency)`` the
    input that made it (as the job wrote it). Without such edges, ``jobs``
    itself (a copy would be 8 bytes a job for the whole run)."""
    if not any(job.outputs for job in jobs) or not any(job.inputs for job in jobs):
        return jobs, {}
    producers = _Producers(jobs)
    added: dict[tuple[str, str], str] = {}
    result = []
    for index, job in enumerate(jobs):
        folder = job_folder(job)
        new: list[str] = []
        for pattern in job.inputs:
            if isinstance(pattern, Depfile):
                continue  # (the job's own record of what it read)
            for producer in producers.of(os.path.normpath(os.path.join(folder, pattern)), is_glob(pattern)):
                name = jobs[producer].name
                if producer != index and name not in job.depends_on and name not in new:
                    new.append(name)
                    added[(job.name, name)] = pattern
        result.append(dataclasses.replace(job, depends_on=(*job.depends_on, *new)) if new else job)
    return result, added


class _Producers:
    """Which jobs make the files an input names (memoised by input: a header
    glob every job of a large build shares is matched once)."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self._exact: dict[str, list[int]] = {}
        self._globbed: list[tuple[str, int]] = []
        for index, job in enumerate(jobs):
            folder = job_folder(job)
            for pattern in job.outputs:
                path = os.path.normpath(os.path.join(folder, pattern))
                if is_glob(pattern):
                    self._globbed.append((path, index))
                else:
                    self._exact.setdefault(path, []).append(index)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance a load, dropped with it
    def of(self, path: str, is_glob: bool) -> tuple[int, ...]:
        found: list[int] = []
        if is_glob:
            match = re.compile(fnmatch.translate(path)).match
            found += [index for made, indices in self._exact.items() if match(made) for index in indices]
        else:
            found += self._exact.get(path, ())
        found += [index for made, index in self._globbed if fnmatch.fnmatchcase(path, made)
                  or (is_glob and fnmatch.fnmatchcase(made, path))]
        return tuple(dict.fromkeys(found))


def unmade_inputs(jobs: Sequence[Job]) -> list[tuple[int, str]]:
    """(job index, message) for each ``inputs`` pattern that matches nothing
    and that no job's ``outputs`` would make (a typo, not a later stage's file).

    >>> unmade_inputs([Job(name="b", run="x", inputs=("/nonexistent/a.txt",))])
    [(0, "job 'b': 'inputs' pattern '/nonexistent/a.txt' matches nothing, and no job's outputs make it")]
    """
    producers: _Producers | None = None  # (built once an input is missing: most files have none)
    look = FileLook()  # (a header glob every job shares is globbed once)
    problems = []
    for index, job in enumerate(jobs):
        folder = job_folder(job)
        for pattern in job.inputs:
            if isinstance(pattern, Depfile) or look.matches(pattern, folder):
                continue  # (a dependency file is the job's own: missing until it first runs)
            producers = producers or _Producers(jobs)
            if not producers.of(os.path.normpath(os.path.join(folder, pattern)), is_glob(pattern)):
                problems.append(
                    (index, f"job {job.name!r}: 'inputs' pattern {pattern!r} matches nothing, and no job's outputs make it")
                )
    return problems
