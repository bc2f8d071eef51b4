"""The closing summary of a run: one screen, however many jobs failed.

Failed jobs that failed the same way are one block: their last stderr lines
(and error) are compared after numbers, paths and the job's own name are
normalised away, so 14 jobs that could not write into a missing ``out/`` are
one cause with one stderr tail and a few example names. Skipped jobs are
named, grouped by the failure that caused them; retries used are named too.
``format_failures`` prints every failure in full (``report --failures``).

    >>> a = JobResult("zip-1", Status.FAILED, returncode=1, stderr_tail="cannot create out/1.gz")
    >>> b = JobResult("zip-22", Status.FAILED, returncode=1, stderr_tail="cannot create out/22.gz")
    >>> print(format_summary(RunReport((a, b), wall_time=1.0), slowest=0))
    2 jobs in 1.0s: 2 failed
    2 jobs failed the same way (exit 1), e.g. zip-1, zip-22:
        | cannot create out/1.gz
        full log: all 2: taskrunner report --failures RESULTS
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..model import FAILURES, JobResult, Status, skipped_after
from ..paths import shown_path
from ..results.lazyresults import Brief, LazyResults
from ..results.livefile import LiveState, live_path
from ..results.report import RunReport
from .showtext import duration_text, plural, printable, shown

__all__ = ["SCREEN_LINES", "failure_cause", "format_failures", "format_live", "format_summary", "short_reason"]

#: The summary fits in this many lines, however many jobs failed.
SCREEN_LINES = 30
#: Lines of a cause's stderr tail shown at most (fewer when many causes share the screen).
TAIL_SHOWN = 12
#: Names given as examples of a cause, of the skipped, of the retried.
EXAMPLES = 3
#: The last lines of stderr that decide whether two failures are the same.
COMPARED_LINES = 3

_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
#: A word with a slash in it (a path), or a file name with an extension.
_PATH = re.compile(r"[\w.~+-]*/[\w./~+-]*|\b[\w+-]+\.[A-Za-z][A-Za-z0-9]{0,5}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def short_reason(result: JobResult) -> str:
    """A few words on why a job is not ok: ``exit 3``, ``timeout``, ``ValueError: x``.

    >>> short_reason(JobResult("a", Status.FAILED, returncode=3))
    'exit 3'
    """
    if result.status is Status.FAILED and result.returncode is not None and result.returncode > 0:
        return f"exit {result.returncode}"
    if result.status is Status.FAILED and result.error:
        last = result.error.strip().splitlines()[-1]
        return last if len(last) <= 80 else last[:77] + "..."
    return result.status.value


def _normalised(text: str, name: str) -> str:
    if name:
        text = text.replace(name, "<name>")
    return _NUMBER.sub("#", _PATH.sub("<path>", _HEX.sub("#", text)))


def failure_cause(result: JobResult) -> tuple[str, ...]:
    """What makes two failures "the same": the status, the short reason and
    the last stderr lines, with numbers, paths and the job's name normalised.

    >>> one = JobResult("gz-7", Status.FAILED, returncode=1, stderr_tail="no such file: out/7.gz (gz-7)")
    >>> two = JobResult("gz-12", Status.FAILED, returncode=1, stderr_tail="no such file: out/12.gz (gz-12)")
    >>> failure_cause(one) == failure_cause(two), failure_cause(one)[-1]
    (True, 'no such file: <path> (<name>)')
    """
    tail = (result.stderr_tail or "").rstrip("\n").split("\n")[-COMPARED_LINES:]
    error = (result.error or "").strip().splitlines()[-1:]
    return (result.status.value, _normalised(short_reason(result), result.name),
            *(_normalised(line, result.name) for line in [*tail, *error] if line.strip()))


@dataclass
class _Cause:
    """Failed jobs that failed the same way, in the order they were recorded."""

    results: list[JobResult] = field(default_factory=list)

    def header(self) -> str:
        first = self.results[0]
        if len(self.results) == 1:
            reason = (first.error or "").strip().splitlines()[-1:] or [first.status.value]
            return f"{first.status.value.upper()} {shown(first.name)}: {printable(reason[0])}"
        verb = {"failed": "failed", "timeout": "timed out", "crashed": "crashed"}.get(first.status.value, "ended")
        return (f"{len(self.results)} jobs {verb} the same way ({printable(short_reason(first))}), "
                f"e.g. {_examples(r.name for r in self.results)}:")

    def lines(self, tail_lines: int, results_hint: str) -> list[str]:
        first = self.results[0]
        lines = [self.header()]
        tail = (first.stderr_tail or "").rstrip("\n").split("\n") if first.stderr_tail else []
        if len(tail) > tail_lines:
            tail = ["...", *tail[len(tail) - tail_lines + 1:]] if tail_lines > 1 else tail[-1:]
        lines += [_indent(line) for line in tail]
        if len(self.results) > 1:
            log = f"{shown_path(first.stderr_log)}; " if first.stderr_log else ""
            lines.append(f"    full log: {log}all {len(self.results)}: taskrunner report --failures {results_hint}")
        elif first.stderr_log:
            lines.append(f"    full log: {shown_path(first.stderr_log)}")
        return lines


def _examples(names: Iterable[str], count: int = EXAMPLES) -> str:
    shown_names: list[str] = []
    more = False
    for name in names:
        if len(shown_names) == count:
            more = True
            break
        shown_names.append(shown(name))
    return ", ".join(shown_names) + (", ..." if more else "")


def _indent(line: str) -> str:
    return "    | " + printable(line)


def _root_cause(result: JobResult, skipped: dict[str, JobResult]) -> str:
    """The job whose failure made ``result`` skipped (through skipped jobs)."""
    seen: set[str] = set()
    while True:
        cause = skipped_after(result)
        if cause is None:
            return result.error or "?"
        if cause not in skipped or cause in seen:
            return cause
        seen.add(cause)
        result = skipped[cause]


@dataclass
class _Tally:
    """One pass over a run's results (it may hold a million): what is shown."""

    results: Sequence[JobResult]
    slowest: int
    causes: dict[tuple[str, ...], _Cause] = field(default_factory=dict)
    skipped: dict[str, JobResult] = field(default_factory=dict)
    retried: list[JobResult] = field(default_factory=list)
    retried_count: int = 0
    timed: list[tuple[float, int]] = field(default_factory=list)  # (duration, -position) of the slowest, as a heap
    timed_count: int = 0

    def add_all(self) -> None:
        """Tally each result (in order). The common one (``ok``, one attempt)
        only counts among the slowest, and a compact store's is never made
        (a resume may show a million)."""
        results = self.results
        briefs: Iterable[Brief] = (
            results.briefs() if isinstance(results, LazyResults)
            else ((result.status, result.attempts, result.duration) for result in results)
        )
        slowest, timed = self.slowest, self.timed
        for position, (status, attempts, duration) in enumerate(briefs):
            if (status != "ok" or attempts > 1) and not self._add(results[position]):
                continue
            if duration is not None and slowest:
                # Among the slowest? (Positions come in order: a tie goes to the earlier job, already in.)
                self.timed_count += 1
                if len(timed) < slowest:
                    heapq.heappush(timed, (duration, -position))
                elif duration > timed[0][0]:
                    heapq.heapreplace(timed, (duration, -position))

    def _add(self, result: JobResult) -> bool:
        """Tally an uncommon ``result``; True if it counts among the slowest."""
        status = result.status
        if status in FAILURES:
            self.causes.setdefault(failure_cause(result), _Cause()).results.append(result)
        elif status is Status.SKIPPED:
            self.skipped[result.name] = result
        if result.attempts > 1 and status not in (Status.SKIPPED, Status.UPTODATE):
            self.retried_count += 1
            if len(self.retried) < EXAMPLES:
                self.retried.append(result)
        # Only jobs that ran to an end are "slowest" (not cancelled, skipped or up to date).
        return status is Status.OK or status in FAILURES

    def slowest_results(self) -> list[JobResult]:
        """The slowest results, slowest first."""
        return [self.results[-negative] for _, negative in sorted(self.timed, reverse=True)]

    def skipped_lines(self) -> list[str]:
        by_cause: dict[str, list[str]] = {}
        for name, result in self.skipped.items():
            by_cause.setdefault(_root_cause(result, self.skipped), []).append(name)
        lines = []
        for cause, names in list(by_cause.items())[:EXAMPLES]:
            lines.append(f"{len(names)} skipped because {shown(cause)} did not succeed: {_examples(names)}")
        if len(by_cause) > EXAMPLES:
            rest = sum(len(names) for names in list(by_cause.values())[EXAMPLES:])
            lines.append(f"{rest} more skipped because of {len(by_cause) - EXAMPLES} other failures")
        return lines

    def retried_line(self) -> list[str]:
        if not self.retried_count:
            return []
        named = ", ".join(f"{shown(r.name)} ({r.attempts} attempts, {r.status.value})"
                          for r in self.retried)
        more = f", and {self.retried_count - EXAMPLES} more" if self.retried_count > EXAMPLES else ""
        return [f"retried: {named}{more}"]


def format_summary(
    report: RunReport,
    *,
    resume_command: str | None = None,
    resumed: bool = False,
    slowest: int = 3,
    screen_lines: int = SCREEN_LINES,
) -> str:
    """Lines for stderr, at most about ``screen_lines``: counts and wall time;
    notes on the results file and, for a ``resumed`` run, what was kept and
    what ran; one block per cause of failure; the skipped and the retried;
    the slowest jobs; the results path and, if needed, how to resume."""
    counts = ", ".join(f"{n} {status}" for status, n in report.counts.items() if n)
    head = [f"{plural(len(report), 'job')} in {report.wall_time:.1f}s: {counts or 'nothing ran'}"]
    if report.interrupted_by:
        head[0] += f" (interrupted by {report.interrupted_by})"
    head += report.notes
    if report.output_lost:
        head.append(report.output_lost)
    if resumed or report.kept:
        head.append(f"resumed: kept {plural(report.kept, 'result')}, ran {plural(len(report) - report.kept, 'job')}")
    tally = _Tally(report.results, slowest)
    tally.add_all()
    tail = tally.skipped_lines() + tally.retried_line()
    # (Durations that round to 0.0s say nothing.)
    if tally.timed_count > 1 and max(tally.timed)[0] >= 0.05:
        tail.append("slowest: " + ", ".join(f"{shown(r.name)} {r.duration:.1f}s" for r in tally.slowest_results()))
    results_hint = shown_path(report.results_path) if report.results_path else "RESULTS"
    if report.results_path:
        tail.append(f"results: {results_hint}")
    if report.log_dir:
        tail.append(f"logs:    {shown_path(report.log_dir)}")
    if resume_command and not report.ok:
        tail.append(f"resume:  {resume_command}")
    return "\n".join(head + _cause_lines(tally, screen_lines - len(head) - len(tail), results_hint) + tail)


def _cause_lines(tally: _Tally, budget: int, results_hint: str) -> list[str]:
    """The blocks of the causes of failure, in about ``budget`` lines (at least a line each)."""
    causes = list(tally.causes.values())
    if not causes:
        return []
    # Each cause shown takes its header, a tail line or more, and a log line.
    budget = max(budget, 4)
    shown_causes = causes[: max(1, (budget - 1) // 4)]
    per_cause = budget // len(shown_causes) - (1 if len(shown_causes) < len(causes) else 0)
    tail_lines = max(1, min(TAIL_SHOWN, per_cause - 2))
    lines = [line for cause in shown_causes for line in cause.lines(tail_lines, results_hint)]
    if len(shown_causes) < len(causes):
        rest = causes[len(shown_causes):]
        jobs = sum(len(cause.results) for cause in rest)
        lines.append(f"... and {plural(jobs, 'more failure')} of {len(rest)} other kinds: "
                     f"taskrunner report --failures {results_hint}")
    return lines


def format_failures(report: RunReport) -> str:
    """Every job that is not ok, in full: reason, stderr tail and log (``report --failures``)."""
    blocks = []
    for result in report:
        if result.status in FAILURES or result.status is Status.SKIPPED:
            block = _Cause([result]).lines(1 << 30, "")
            if result.stdout_log and result.status is not Status.SKIPPED:
                block.append(f"    output:   {shown_path(result.stdout_log)}")
            blocks.append("\n".join(block))
    return "\n".join(blocks)


def format_live(state: LiveState, results: str, now: float) -> str:
    """What a live run is doing (``report`` while it runs): the jobs running
    now, longest first, with how long each has run; or that it is gone."""
    where = state.host or "?"
    if state.stale:
        return (f"not running: the run (pid {state.pid} on {where}) that left {shown_path(live_path(results))} "
                "ended without finishing; resume it to finish")
    since = duration_text(max(0.0, now - state.run_started))
    lines = [f"running now: {plural(len(state.running), 'job')} ({state.done} of {state.total} done; "
             + f"run pid {state.pid} on {where}, for {since})"]
    for job in sorted(state.running, key=lambda job: job.started)[: SCREEN_LINES - 5]:
        lines.append(f"  {duration_text(max(0.0, now - job.started)):>7}  {shown(job.worker)}  {shown(job.name)}")
    if len(state.running) > SCREEN_LINES - 5:
        lines.append(f"  ... and {len(state.running) - (SCREEN_LINES - 5)} more")
    return "\n".join(lines)
