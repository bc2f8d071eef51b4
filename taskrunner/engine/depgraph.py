"""Dependencies between jobs by index: the problems (unknown names, cycles),
the graph (how many dependencies each job waits for, who waits for each),
and each job's critical path.

Kept compact for the run's whole length: a million jobs without
dependencies share one empty list of dependents.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator, Mapping, MutableSequence, Sequence
from typing import overload

from ..model import Job
from ..suggest import did_you_mean

__all__ = ["critical_paths", "dependency_graph", "dependency_problems"]


def dependency_problems(
    jobs: Sequence[Job], known: Iterable[str] = (), edge_files: Mapping[tuple[str, str], str] | None = None
) -> list[tuple[int, str]]:
    """(job index, message) for each unknown dependency and each cycle.

    ``known`` are names that count as existing (jobs finished in an earlier
    run, for ``--resume``). ``edge_files``: for a dependency that files imply
    (``fileorder``), the input that made it, named when it closes a cycle.

    >>> dependency_problems([Job(name="a", run="x", depends_on=["b"]), Job(name="b", run="x", depends_on=["a"])])
    [(0, "job 'a': dependency cycle a -> b -> a")]
    """
    if not any(job.depends_on for job in jobs):
        return []  # (a million-job run without dependencies builds no tables)
    index_of = {job.name: i for i, job in enumerate(jobs)}
    known = set(known)
    problems = []
    for i, job in enumerate(jobs):
        for name in job.depends_on:
            if name not in index_of and name not in known:
                hint = did_you_mean(name, itertools.chain(index_of, known))
                problems.append((i, f"job {job.name!r}: depends on unknown job {name!r}{hint}"))
    # Depth-first search with colours; report each cycle once, from its first job.
    state = [0] * len(jobs)  # 0 new, 1 on the current path, 2 done
    # Each job's dependencies resolved once (a node is revisited per edge: a
    # link job of 3,000 objects made this quadratic).
    deps_of: dict[int, list[int]] = {}
    for root in range(len(jobs)):
        if state[root]:
            continue
        path: list[int] = []
        stack: list[tuple[int, int]] = [(root, 0)]
        while stack:
            node, edge = stack.pop()
            if edge == 0:
                state[node] = 1
                path.append(node)
            deps = deps_of.get(node)
            if deps is None:
                deps = deps_of[node] = [index_of[d] for d in jobs[node].depends_on if d in index_of]
            if edge < len(deps):
                stack.append((node, edge + 1))
                nxt = deps[edge]
                if state[nxt] == 1:
                    cycle = path[path.index(nxt):] + [nxt]
                    names = " -> ".join(jobs[c].name for c in cycle)
                    closing = _by_file(jobs, cycle, edge_files or {})
                    problems.append((nxt, f"job {jobs[nxt].name!r}: dependency cycle {names}{closing}"))
                elif state[nxt] == 0:
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return problems


def _by_file(jobs: Sequence[Job], cycle: list[int], edge_files: Mapping[tuple[str, str], str]) -> str:
    """Which file closes a cycle that files imply (empty if none does)."""
    for job, dependency in itertools.pairwise(cycle):
        read = edge_files.get((jobs[job].name, jobs[dependency].name))
        if read is not None:
            return f" (job {jobs[job].name!r} reads {read!r}, which job {jobs[dependency].name!r} makes)"
    return ""


def dependency_graph(
    jobs: Sequence[Job], satisfied: Iterable[str] = ()
) -> tuple[MutableSequence[int], Sequence[Sequence[int]]]:
    """(blockers, dependents) by job index: how many dependencies each job still
    waits for, and which jobs wait for each. Names in ``satisfied`` (or not
    among ``jobs``) are not waited for.

    >>> blockers, dependents = dependency_graph([Job(name="a", run="x"), Job(name="b", run="x", depends_on="a")])
    >>> list(blockers), list(dependents)
    ([0, 1], [[1], []])
    """
    # Kept for the whole run: 4 bytes a job, and, without dependencies, no
    # list of dependents at all (8 bytes a job). Most jobs have no
    # dependents: they share one empty list (a list each is 56 bytes a job).
    blockers = array("I", bytes(4 * len(jobs)))
    nobody: list[int] = []
    if not any(job.depends_on for job in jobs):
        return blockers, _Nobody(len(jobs), nobody)
    index_of = {job.name: i for i, job in enumerate(jobs)}
    satisfied = set(satisfied)
    dependents: list[list[int]] = [[] for _ in jobs]
    for i, job in enumerate(jobs):
        for name in set(job.depends_on) - satisfied:
            if name in index_of:
                dependents[index_of[name]].append(i)
                blockers[i] += 1
    return blockers, [found or nobody for found in dependents]


class _Nobody(Sequence[Sequence[int]]):
    """The dependents of ``count`` jobs of which none depends on another: the one empty list."""

    def __init__(self, count: int, nobody: Sequence[int]) -> None:
        self._count, self._nobody = count, nobody

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Sequence[int]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Sequence[int]]: ...
    def __getitem__(self, index: int | slice) -> Sequence[int] | Sequence[Sequence[int]]:
        if isinstance(index, slice):
            return [self._nobody] * len(range(self._count)[index])
        range(self._count)[index]  # (an IndexError past the end)
        return self._nobody

    def __iter__(self) -> Iterator[Sequence[int]]:
        return itertools.repeat(self._nobody, self._count)


def critical_paths(
    jobs: Sequence[Job], blockers: Sequence[int], dependents: Sequence[Sequence[int]], durations: Mapping[str, float]
) -> list[float]:
    """For each job, its own weight plus the heaviest chain of jobs waiting on it.

    >>> jobs = [Job(name="a", run="x"), Job(name="b", run="x", depends_on="a"), Job(name="c", run="x")]
    >>> critical_paths(jobs, *dependency_graph(jobs), durations={"b": 5.0})
    [10.0, 5.0, 5.0]
    """
    known = [durations[job.name] for job in jobs if job.name in durations]
    default = sum(known) / len(known) if known else 1.0
    weight = [durations.get(job.name, default) for job in jobs] if known else [default] * len(jobs)
    if not any(dependents):
        return weight  # no chains: each job weighs itself
    # Kahn's order (dependencies first), then walk it backwards.
    waiting = list(blockers)
    order = [i for i in range(len(jobs)) if not waiting[i]]
    for index in order:  # the list grows as jobs become ready
        for dependent in dependents[index]:
            waiting[dependent] -= 1
            if not waiting[dependent]:
                order.append(dependent)
    critical = list(weight)
    for index in reversed(order):
        if dependents[index]:
            critical[index] += max(critical[d] for d in dependents[index])
    return critical
