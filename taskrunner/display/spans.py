"""A run's attempts laid out in time, for the pictures (``timeline``, ``trace``).

Each attempt that ran is a ``Span`` on its worker's lane (``w1``, ``w2``, …;
a replaced worker keeps its slot's lane). Jobs that did not run are marks:
an up-to-date job where the run decided so, a skipped job where the failure
that caused it ended. A results file kept across ``--resume`` holds the
lines of earlier runs too: ``split_runs`` cuts the spans at idle gaps, so an
earlier run is drawn apart and does not stretch this run's time axis.

    >>> from taskrunner.model import JobResult, Status
    >>> spans = collect([JobResult("a", Status.OK, history=((10.0, 11.0, "w1-7", "ok"),))])
    >>> [(s.name, s.lane, s.status, s.finished - s.started) for s in spans]
    [('a', 'w1', 'ok', 1.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..model import JobResult, Status, skipped_after

__all__ = ["SKIPPED_LANE", "UPTODATE_LANE", "Span", "collect", "lane_key", "split_runs"]

#: Lanes of the jobs that did not run: a mark where the run decided so.
UPTODATE_LANE = "up to date"
SKIPPED_LANE = "skipped"
#: An idle gap at least this long (and this share of the whole) separates runs.
RUN_GAP_SECONDS = 2.0
RUN_GAP_SHARE = 0.05


@dataclass(frozen=True)
class Span:
    """One attempt (or one mark, where ``started == finished``) on a lane."""

    name: str
    attempt: int
    started: float
    finished: float
    lane: str
    status: str
    worker: str
    note: str = ""

    @property
    def is_mark(self) -> bool:
        return self.lane in (UPTODATE_LANE, SKIPPED_LANE)


def collect(results: Iterable[JobResult]) -> list[Span]:
    """Every attempt that ran, then the marks of the jobs that did not run."""
    spans: list[Span] = []
    finished_at: dict[str, float] = {}
    skipped: list[JobResult] = []
    for result in results:
        for number, (started, finished, worker, status) in enumerate(result.history, start=1):
            spans.append(Span(result.name, number, started, finished, lane_of(worker), status, worker))
        if result.finished is not None:
            finished_at[result.name] = result.finished
        if result.status is Status.UPTODATE and result.started is not None and not result.history:
            spans.append(Span(result.name, 1, result.started, result.started, UPTODATE_LANE, "uptodate", ""))
        elif result.status is Status.SKIPPED:
            skipped.append(result)
    for result in skipped:  # where the failure that caused it ended (once every time is known)
        at = _cause_time(result, finished_at)
        if at is not None:
            spans.append(Span(result.name, 0, at, at, SKIPPED_LANE, "skipped", "", result.error or ""))
    return spans


def _cause_time(result: JobResult, finished_at: dict[str, float]) -> float | None:
    cause = skipped_after(result)
    return None if cause is None else finished_at.get(cause)


def split_runs(spans: Sequence[Span]) -> list[list[Span]]:
    """The spans cut into runs at idle gaps (no attempt running for at least
    ``RUN_GAP_SECONDS`` and ``RUN_GAP_SHARE`` of the whole), earliest first."""
    if not spans:
        return []
    ordered = sorted(spans, key=lambda span: span.started)
    whole = max(span.finished for span in ordered) - ordered[0].started
    gap = max(RUN_GAP_SECONDS, RUN_GAP_SHARE * whole)
    runs: list[list[Span]] = [[]]
    busy_until = ordered[0].started
    for span in ordered:
        if span.started - busy_until >= gap:
            runs.append([])
        runs[-1].append(span)
        busy_until = max(busy_until, span.finished)
    return runs


def lane_of(worker: str) -> str:
    """A local worker "w3-1234" is lane "w3" (its replacements share the lane)."""
    slot, _, pid = worker.partition("-")
    return slot if slot.startswith("w") and slot[1:].isdigit() and pid.isdigit() else worker


def lane_key(lane: str) -> tuple[int, int, str]:
    """Workers in slot order, then other lanes by name, then the marks' lanes."""
    head = lane[1:] if lane.startswith("w") else ""
    if head.isdigit():
        return (0, int(head), lane)
    return (2, 0, lane) if lane in (UPTODATE_LANE, SKIPPED_LANE) else (1, 0, lane)
