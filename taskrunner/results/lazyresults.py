"""Results made as they are read.

A run's final results (``resultstore.ResultsView``) and the lines of a
results file (``ResultLines``) may number a million: they are kept compact
(rows of numbers, decoded lines) and each ``JobResult`` is made when it is
read. A summary asks only for each one's status, attempts and duration
(``briefs``), and makes the few it shows.

    >>> from taskrunner.model import Status
    >>> lines = ResultLines([JobResult("a", Status.OK, attempts=1), JobResult("b", Status.FAILED)])
    >>> [r.name for r in lines], list(lines.briefs())[1], lines.by_name()["b"].status.value
    (['a', 'b'], (<Status.FAILED: 'failed'>, 0, None), 'failed')
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import overload

from ..model import JobResult
from .resultline import Record, result_of

__all__ = ["Brief", "KeptByName", "LazyResults", "ResultLines"]

#: A result's status, attempts and duration: what a summary counts of every one.
#: (The status as a ``Status`` or as its text: a ``Status`` is a str equal to its text.)
Brief = tuple[str, int, "float | None"]

_status_of = attrgetter("status")
_name_of = attrgetter("name")
#: The ``Brief`` of a decoded line (or of a ``JobResult``), by C code: a million lines are counted.
_brief_of = attrgetter("status", "attempts", "duration")


class LazyResults(Sequence[JobResult]):
    """A read-only sequence of ``JobResult``: the results at ``indexes`` of a
    compact store, each made as it is read. Subclasses say how to make the
    one at an index (``_make``) and tell its ``Brief`` (``_brief``)."""

    def __init__(self, indexes: Sequence[int]) -> None:
        self._indexes = indexes

    def _make(self, index: int) -> JobResult:
        raise NotImplementedError

    def _brief(self, index: int) -> Brief:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._indexes)

    @overload
    def __getitem__(self, position: int) -> JobResult: ...

    @overload
    def __getitem__(self, position: slice) -> Sequence[JobResult]: ...

    def __getitem__(self, position: int | slice) -> JobResult | Sequence[JobResult]:
        if isinstance(position, slice):
            return tuple(self)[position]
        return self._make(self._indexes[position])

    def __iter__(self) -> Iterator[JobResult]:
        return map(self._make, self._indexes)

    def briefs(self) -> Iterator[Brief]:
        """Each result's ``Brief``, in order, without making the results."""
        return map(self._brief, self._indexes)

    def status_counts(self) -> Counter[str]:
        """How many results have each status value (without making them)."""
        return Counter(status for status, _, _ in self.briefs())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyResults):
            other = tuple(other)
        return isinstance(other, (tuple, list)) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} results)"


class ResultLines(LazyResults):
    """The checked lines of a results file (``records``, in file order), or
    those of them at ``indexes`` (their 0-based line numbers)."""

    def __init__(self, records: list[Record], indexes: Sequence[int] | None = None) -> None:
        super().__init__(range(len(records)) if indexes is None else indexes)
        self.records = records

    def _make(self, index: int) -> JobResult:
        return result_of(self.records[index])

    def _brief(self, index: int) -> Brief:
        return _brief_of(self.records[index])

    def _in_order(self) -> Iterable[Record]:
        records, indexes = self.records, self._indexes
        if indexes == range(len(records)):  # (the whole file: no lookups)
            return records
        return map(records.__getitem__, indexes)

    def briefs(self) -> Iterator[Brief]:
        return map(_brief_of, self._in_order())

    def status_counts(self) -> Counter[str]:
        return Counter(map(_status_of, self._in_order()))

    def at(self, indexes: Sequence[int]) -> ResultLines:
        """The lines numbered ``indexes`` (of the whole file, in that order)."""
        return ResultLines(self.records, indexes)

    @functools.cached_property
    def latest(self) -> dict[str, int]:
        """Each name's last line: name -> its number, in the order of those
        lines (worked out once; not to be changed)."""
        latest = dict(zip(map(_name_of, self._in_order()), self._indexes))
        if len(latest) < len(self):
            # A name listed twice (a hand-merged file): its last line wins, in its place.
            latest.clear()
            for number in self._indexes:
                name = self.records[number].name
                latest.pop(name, None)
                latest[name] = number
        return latest

    def by_name(self) -> KeptByName:
        """Each job's last line, by its name."""
        return KeptByName(self, self.latest)


class KeptByName(Mapping[str, JobResult]):
    """Lines of a results file by job name (``numbers``: name -> line number),
    each ``JobResult`` made as it is looked up."""

    def __init__(self, lines: ResultLines, numbers: dict[str, int]) -> None:
        self._lines = lines
        self.numbers = numbers

    def __getitem__(self, name: str) -> JobResult:
        return result_of(self._lines.records[self.numbers[name]])

    def __contains__(self, name: object) -> bool:
        return name in self.numbers

    def __iter__(self) -> Iterator[str]:
        return iter(self.numbers)

    def __len__(self) -> int:
        return len(self.numbers)

    def in_order(self, names: Sequence[str]) -> ResultLines:
        """The lines of ``names`` that are here, in the order of ``names``."""
        numbers = self.numbers
        try:
            wanted = list(map(numbers.__getitem__, names))  # (all of them, the common case: by C code)
        except KeyError:
            wanted = [numbers[name] for name in names if name in numbers]
        return self._lines.at(wanted)

    def without(self, names: Iterable[str]) -> KeptByName:
        """The same, less ``names``."""
        left = dict(self.numbers)
        for name in names:
            left.pop(name, None)
        return KeptByName(self._lines, left)
