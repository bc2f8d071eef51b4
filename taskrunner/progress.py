"""What the person at the terminal sees: a progress bar and a closing summary.

Reporters get ``start(total)``, one ``result()`` per final job result, and
``close()``. Per result the tqdm reporter only bumps a counter; tqdm itself
decides when to redraw (``mininterval``), so thousands of tiny jobs cost
nothing extra.
"""

from __future__ import annotations

import sys
from typing import IO, Protocol

from tqdm import tqdm

from .model import JobResult, RunReport, Status

__all__ = ["Reporter", "SilentReporter", "TqdmReporter", "format_summary"]


class Reporter(Protocol):
    """Receives progress events from a run."""

    def start(self, total: int) -> None: ...

    def result(self, result: JobResult) -> None: ...

    def close(self) -> None: ...


class SilentReporter:
    """Shows nothing (pipes, logs, embedding)."""

    def start(self, total: int) -> None:
        pass

    def result(self, result: JobResult) -> None:
        pass

    def close(self) -> None:
        pass


class TqdmReporter:
    """A tqdm bar on ``file`` (stderr by default) that vanishes when done."""

    def __init__(self, file: IO[str] | None = None) -> None:
        self._file = file or sys.stderr
        self._bar: tqdm | None = None
        self._not_ok = 0

    def start(self, total: int) -> None:
        self._bar = tqdm(total=total, file=self._file, unit="job", mininterval=0.1, leave=False, dynamic_ncols=True)

    def result(self, result: JobResult) -> None:
        assert self._bar is not None
        if result.status is not Status.OK:
            self._not_ok += 1
            self._bar.set_postfix_str(f"not ok: {self._not_ok}", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _indent(text: str, prefix: str = "    | ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def format_summary(report: RunReport, max_failures_shown: int = 10) -> str:
    """A few lines for stderr: counts, each problem with its stderr tail, paths."""
    counts = ", ".join(f"{n} {status}" for status, n in report.counts.items() if n)
    lines = [f"{len(report)} jobs in {report.wall_time:.1f}s: {counts or 'nothing ran'}"]
    if report.interrupted_by:
        lines[0] += f" (interrupted by {report.interrupted_by})"
    problems = [r for r in report if r.status in (Status.FAILED, Status.TIMEOUT, Status.CRASHED)]
    for result in problems[:max_failures_shown]:
        reason = (result.error or "").strip().splitlines()[-1:] or [""]
        lines.append(f"{result.status.value.upper()} {result.name}: {reason[0]}")
        if result.stderr_tail:
            lines.append(_indent(result.stderr_tail))
        if result.stderr_log:
            lines.append(f"    full log: {result.stderr_log}")
    if len(problems) > max_failures_shown:
        lines.append(f"... and {len(problems) - max_failures_shown} more not ok (see the results file)")
    if report.results_path:
        lines.append(f"results: {report.results_path}")
    if report.log_dir:
        lines.append(f"logs:    {report.log_dir}")
    return "\n".join(lines)
