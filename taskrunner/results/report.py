"""What a run produced: ``RunReport``, one final result per job and how the run went."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter

from ..model import SUCCESSES, JobResult, Status

__all__ = ["RunReport"]

_status = attrgetter("status")


@dataclass(frozen=True)
class RunReport:
    """What a run produced: one ``JobResult`` per job, in job order.

    ``kept`` counts the results taken from an earlier run instead of running
    the job again (``--resume``); ``notes`` are one-line remarks about the
    results file (a torn last line ignored, lines of other jobs kept).

    >>> report = RunReport((JobResult("a", Status.OK),), wall_time=0.1)
    >>> report.ok, report["a"].status.value, report.counts["ok"]
    (True, 'ok', 1)
    """

    #: In job order: a tuple, or (from a run) a read-only sequence that
    #: makes each ``JobResult`` as it is read (see ``taskrunner.resultstore``).
    results: Sequence[JobResult]
    wall_time: float = 0.0
    interrupted_by: str | None = None
    results_path: str | None = None
    log_dir: str | None = None
    kept: int = 0
    notes: tuple[str, ...] = ()
    #: Why printing stopped during the run, if it did (the records are whole).
    output_lost: str | None = None

    def __iter__(self) -> Iterator[JobResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, name: str) -> JobResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def ok(self) -> bool:
        """True when every job finished ``ok`` and the run was not interrupted."""
        if self.interrupted_by is not None:
            return False
        counts = self._counted
        return all(counts[status.value] == 0 for status in Status if status not in SUCCESSES)

    @property
    def counts(self) -> dict[str, int]:
        """Number of jobs per status value (every status present, zeros included)."""
        return dict(self._counted)  # (a dict of the caller's own)

    @functools.cached_property
    def _counted(self) -> dict[str, int]:
        # Counted once: a report is frozen, and may hold a million results.
        # A run's compact results count their statuses without making each result.
        tally = getattr(self.results, "status_counts", None)
        if tally is not None:
            counter = tally()
            return {status.value: counter.get(status.value, 0) for status in Status}
        by_status = Counter(map(_status, self.results))
        return {status.value: by_status.get(status, 0) for status in Status}

    def to_json(self) -> str:
        """The report as one JSON document (counts, wall time, every result)."""
        return json.dumps(
            {
                "ok": self.ok,
                "counts": self.counts,
                "wall_time": self.wall_time,
                "interrupted_by": self.interrupted_by,
                "results_path": self.results_path,
                "log_dir": self.log_dir,
                "kept": self.kept,
                "notes": list(self.notes),
                "output_lost": self.output_lost,
                "results": [r.to_dict() for r in self.results],
            }
        )
