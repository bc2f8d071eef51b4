"""Where each job of a job file came from, kept per job as written: its
line (a matrix's expansions share their template's), and a matrix job's
expansions as a range of job indexes. A million-job matrix keeps one entry,
not a million (a run keeps them all along).

    >>> lines = JobLines()
    >>> lines.add(first=0, count=3, line=2)
    >>> lines.add(first=3, count=1, line=5)
    >>> list(lines), lines[2], lines[-1]
    ([2, 2, 2, 5], 2, 5)
    >>> from taskrunner.model import Job
    >>> list(Expansions([Job(name=n, run="true") for n in "abcd"], [(0, 2), (3, 1)]))
    ['a', 'b', 'd']
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import overload

from ..model import Job

__all__ = ["Expansions", "JobLines"]


class JobLines(Sequence[int]):
    """The line of each job (by index), added a job as written at a time, in job order."""

    def __init__(self) -> None:
        self._firsts: list[int] = []  # the first job index of each job as written
        self._lines: list[int] = []
        self._count = 0

    def add(self, first: int, count: int, line: int) -> None:
        """Jobs ``first`` to ``first + count - 1`` are on ``line`` (``first``: the count so far)."""
        if count:
            self._firsts.append(first)
            self._lines.append(line)
            self._count = first + count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...
    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(self._count)[index]]
        index = range(self._count)[index]  # (negative indexes; an IndexError past the end)
        return self._lines[bisect_right(self._firsts, index) - 1]


class Expansions(Sequence[str]):
    """The names of a matrix job's expansions: ``ranges`` of ``jobs``, each
    (first index, count) (two matrix jobs may share a name as written)."""

    def __init__(self, jobs: Sequence[Job], ranges: Sequence[tuple[int, int]]) -> None:
        self._jobs, self._ranges = jobs, ranges

    def __len__(self) -> int:
        return sum(count for _, count in self._ranges)

    def __iter__(self) -> Iterator[str]:
        for first, count in self._ranges:
            for index in range(first, first + count):
                yield self._jobs[index].name

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return list(self)[index]
        index = range(len(self))[index]  # (negative indexes; an IndexError past the end)
        for first, count in self._ranges:
            if index < count:
                return self._jobs[first + index].name
            index -= count
        raise AssertionError("unreachable: the index was checked")
