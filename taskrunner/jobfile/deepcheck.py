"""``validate --check``: will the jobs' programs and functions be found?

A ``call`` target is imported in a child interpreter (so nothing a module
does on import touches this process), with the job's working directory and
the job file's folder first on ``sys.path``, as a worker would have them. A
program run directly (an argv list, or the first word of a shell string) is
looked up on the ``PATH`` the job gets. Each problem is one line naming the
file, the line and the job, with a did-you-mean where a close name exists.

    >>> from taskrunner.model import Job
    >>> program_problem(Job(name="z", run="zstdd -q x"), {"PATH": "/nonexistent"})
    "program 'zstdd' not found on PATH"
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence

from ..errors import SpecProblem
from ..execution.direct import SHELL_WORDS
from ..model import Job

__all__ = ["check_jobs_deeply", "program_problem"]

#: How long importing every call target may take.
IMPORT_TIMEOUT = 120.0


def check_jobs_deeply(path: str, jobs: Sequence[Job], lines: Sequence[int]) -> list[SpecProblem]:
    """The problems of ``jobs`` (of the job file at ``path``; ``lines``: each
    job's line there) that only looking on this machine finds: call targets
    that do not import, programs not found."""
    problems: list[SpecProblem] = []
    calls = [index for index, job in enumerate(jobs) if isinstance(job.call, str)]
    for index, why in zip(calls, _import_problems([jobs[index] for index in calls])):
        if why:
            problems.append(SpecProblem(path, lines[index], f"job {jobs[index].name!r}: {why}"))
    seen: dict[tuple[str, str, str | None], str | None] = {}
    for index, job in enumerate(jobs):
        if job.run is None:
            continue
        env = {**os.environ, **job.env}
        key = (str(job.run), env.get("PATH", ""), job.cwd)
        if key not in seen:
            seen[key] = program_problem(job, env)
        if seen[key]:
            problems.append(SpecProblem(path, lines[index], f"job {job.name!r}: {seen[key]}"))
    return problems


def program_problem(job: Job, env: Mapping[str, str]) -> str | None:
    """Why the program ``job`` runs would not be found (None: found, or a
    shell construct this cannot judge)."""
    program = _program(job)
    if program is None:
        return None
    search = env.get("PATH", os.defpath)
    if "/" in program:
        folder = os.path.join(job.base_dir or os.getcwd(), job.cwd or "")
        full = os.path.join(folder, program)
        return None if os.access(full, os.X_OK) and not os.path.isdir(full) else f"program {program!r} not found"
    if shutil.which(program, path=search):
        return None
    close = difflib.get_close_matches(program, sorted(_programs_on(search)), n=1)
    return f"program {program!r} not found on PATH" + (f" (did you mean {close[0]!r}?)" if close else "")


def _program(job: Job) -> str | None:
    if isinstance(job.run, tuple):
        return job.run[0]
    try:
        words = shlex.split(job.run or "", comments=True)
    except ValueError:
        return None  # quoting the shell will judge
    if not words:
        return None
    first = words[0]
    # An assignment, a keyword or built-in, anything expanded: the shell decides.
    if "=" in first or first in SHELL_WORDS or any(c in first for c in "$`{}()<>|;&*?[]~"):
        return None
    return first


def _programs_on(search: str) -> Iterable[str]:
    for folder in search.split(os.pathsep):
        try:
            yield from os.listdir(folder or ".")
        except OSError:
            continue


def _import_problems(calls: Sequence[Job]) -> list[str | None]:
    """For each call job, why its target does not import (None: it does)."""
    if not calls:
        return []
    request = [{"call": job.call, "folders": [os.path.join(job.base_dir or os.getcwd(), job.cwd or ""),
                                              job.base_dir or os.getcwd()]} for job in calls]
    try:
        done = subprocess.run([sys.executable, "-m", "taskrunner.jobfile.importcheck"], input=json.dumps(request),
                              capture_output=True, text=True, timeout=IMPORT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return [f"importing the call targets took over {IMPORT_TIMEOUT:g}s"] * len(calls)
    try:
        answers: list[str | None] = json.loads(done.stdout)
    except ValueError:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"cannot check the call targets: {tail}"] * len(calls)
    return answers
