"""Choosing a subset of jobs (``--only``, ``--tag``) and ordering them for display.

    >>> from taskrunner.model import Job
    >>> jobs = [Job(name="gen", run="x"), Job(name="img", run="x", depends_on="gen", tags=["images"]),
    ...         Job(name="doc", run="x")]
    >>> [j.name for j in select_jobs(jobs, only=["im*"])], [j.name for j in select_jobs(jobs, tags=["images"])]
    (['gen', 'img'], ['gen', 'img'])
    >>> [j.name for j in dependency_order(list(reversed(jobs)))]
    ['doc', 'gen', 'img']
"""

from __future__ import annotations

import fnmatch
import heapq
from collections import deque
from collections.abc import Sequence

from ..model import Job
from .depgraph import dependency_graph

__all__ = ["default_selection", "dependency_order", "select_jobs", "unmatched"]


def select_jobs(jobs: Sequence[Job], only: Sequence[str] = (), tags: Sequence[str] = ()) -> list[Job]:
    """Jobs whose name matches a glob in ``only`` or that carry a tag in ``tags``,
    plus everything they depend on, in file order. No filters: every job but
    those marked ``default: false`` (a ``clean``), unless one that runs needs them."""
    if not only and not tags:
        if all(job.default for job in jobs):
            return list(jobs)
        wanted = {job.name for job in jobs if job.default}
    else:
        wanted = {
            job.name
            for job in jobs
            if any(fnmatch.fnmatchcase(job.name, pattern) for pattern in only) or set(job.tags) & set(tags)
        }
    by_name = {job.name: job for job in jobs}
    pending = deque(wanted)
    while pending:
        for dependency in by_name[pending.popleft()].depends_on:
            if dependency in by_name and dependency not in wanted:
                wanted.add(dependency)
                pending.append(dependency)
    return [job for job in jobs if job.name in wanted]


def default_selection(jobs: Sequence[Job]) -> set[str] | None:
    """The names a run without ``--only``/``--tag`` runs: None (all of them)
    unless some job is ``default: false``."""
    return None if all(job.default for job in jobs) else {job.name for job in select_jobs(jobs)}


def unmatched(jobs: Sequence[Job], only: Sequence[str] = (), tags: Sequence[str] = ()) -> list[str]:
    """The ``--only`` globs and ``--tag`` tags that select no job (likely typos)."""
    missing = [p for p in only if not any(fnmatch.fnmatchcase(job.name, p) for job in jobs)]
    missing += [t for t in tags if not any(t in job.tags for job in jobs)]
    return missing


def dependency_order(jobs: Sequence[Job]) -> list[Job]:
    """Jobs so that each comes after its dependencies; otherwise file order.

    The dependencies must be acyclic (as a loaded job file's are).
    """
    if not any(job.depends_on for job in jobs):
        return list(jobs)  # file order (no heap of a million indexes)
    blockers, dependents = dependency_graph(jobs)
    ready = [i for i, count in enumerate(blockers) if count == 0]
    ordered: list[int] = []
    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        ordered.append(i)
        for dependent in dependents[i]:
            blockers[dependent] -= 1
            if blockers[dependent] == 0:
                heapq.heappush(ready, dependent)
    return [jobs[i] for i in ordered]
