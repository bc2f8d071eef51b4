"""What the person at the terminal sees: progress, failures as they happen, job
output, and the closing summary.

Reporters get ``start(total)``, ``running(count)`` whenever the number of
running jobs may have changed, one ``result()`` per final job result, and
``close()``. Per result the terminal reporter only bumps counters (the
postfix text is rebuilt at most every ``mininterval``); tqdm decides when to
redraw, so thousands of tiny jobs cost nothing extra. tqdm itself is imported
only when a bar is shown (its import costs ~40 ms). Lines printed while the
bar shows go through tqdm, so the bar never breaks or flickers.
"""

from __future__ import annotations

import heapq
import os
import re
import sys
import time
from collections import Counter
from typing import IO, TYPE_CHECKING, Any, Protocol

from ..model import FAILURES, SUCCESSES, JobResult, Status
from ..results.report import RunReport
from .showtext import shown

__all__ = ["GuardedReporter", "Reporter", "SilentReporter", "TerminalReporter", "bar_wanted", "format_summary",
           "short_reason"]

if TYPE_CHECKING:
    from tqdm import tqdm

_RED, _RESET = "\033[31m", "\033[0m"
# C0 and C1 control characters and DEL: a job name or an error could move the
# cursor, clear the screen or retitle the terminal if printed raw.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` with control characters shown as escapes, for a terminal.

    >>> printable("evil\x1b[2J\nname")
    'evil\\x1b[2J\\nname'
    """
    return _CONTROL.sub(lambda found: repr(found[0])[1:-1], text)
#: Seconds between redraws of the bar (and rebuilds of its postfix).
REDRAW_INTERVAL = 0.1
#: At most this many seconds between redraws while jobs run but none ends.
LIVE_INTERVAL = 0.5


class Reporter(Protocol):
    """Receives progress events from a run."""

    def start(self, total: int) -> None: ...

    def running(self, count: int) -> None: ...

    def result(self, result: JobResult) -> None: ...

    def close(self) -> None: ...


class SilentReporter:
    """Shows nothing (pipes, logs, embedding)."""

    def start(self, total: int) -> None:
        pass

    def running(self, count: int) -> None:
        pass

    def result(self, result: JobResult) -> None:
        pass

    def close(self) -> None:
        pass


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


def bar_wanted(progress: bool | None, stream: IO[str] | None = None) -> bool:
    """``--progress/--no-progress`` as given, else: is ``stream`` (stderr) a terminal?"""
    if progress is not None:
        return progress
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


def _use_color(stream: IO[str]) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


class GuardedReporter:
    """A reporter whose failure to print never reaches the run: records are
    sacred, output is best effort. The first ``OSError`` (a closed pipe, a
    full disk, a terminal gone) is kept in ``error`` and nothing more is
    printed; the run decides what it means (see ``RunLoop``)."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.error: OSError | None = None

    def _call(self, method: Any, *args: Any) -> None:
        if self.error is None:
            try:
                method(*args)
            except OSError as error:
                self.error = error

    def start(self, total: int) -> None:
        self._call(self.inner.start, total)

    def running(self, count: int) -> None:
        self._call(self.inner.running, count)

    def result(self, result: JobResult) -> None:
        self._call(self.inner.result, result)

    def close(self) -> None:
        try:  # even after an error: a bar's resources are freed
            self.inner.close()
        except OSError as error:
            self.error = self.error or error


class TerminalReporter:
    """A bar (optional) with live counts, a line per failure, and job output on request.

    ``show_output`` prints each job's stdout (to ``output``) and stderr (to
    ``stream``) when it finishes, whole and never interleaved with another
    job's; ``prefix`` starts each of those lines with the job name.
    """

    def __init__(
        self,
        *,
        bar: bool,
        stream: IO[str] | None = None,
        output: IO[str] | None = None,
        show_output: bool = False,
        prefix: bool = False,
    ) -> None:
        self._stream = stream or sys.stderr
        self._output = output or sys.stdout
        self._want_bar = bar
        self._bar: tqdm[Any] | None = None
        self._show_output = show_output or prefix
        self._prefix = prefix
        self._color = _use_color(self._stream)
        encoding = getattr(self._stream, "encoding", None) or "ascii"
        self._mark = "✗" if "✗".encode(encoding, errors="ignore") else "x"
        self._counts: Counter[Status] = Counter()
        self._running = 0
        self._postfix_at = 0.0
        self._drawn_at = 0.0

    def start(self, total: int) -> None:
        if self._want_bar:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, file=self._stream, unit="job", mininterval=REDRAW_INTERVAL, leave=False,
                dynamic_ncols=True,
            )
            self._refresh_postfix()

    def running(self, count: int) -> None:
        if count != self._running:
            self._running = count
            self._refresh_postfix()
        # tqdm redraws only when a job finishes: while none does (one long
        # job), redraw here so elapsed time, rate and running= stay live.
        # The runner calls this at least every 0.2 s.
        if self._bar is not None and time.monotonic() - self._drawn_at >= LIVE_INTERVAL:
            self._drawn_at = time.monotonic()
            self._bar.refresh()

    def result(self, result: JobResult) -> None:
        self._counts[result.status] += 1
        if self._show_output:
            self._print_output(result)
        if result.status in FAILURES:
            line = f"{self._mark} {shown(result.name)} ({printable(short_reason(result))})"
            self._write(f"{_RED}{line}{_RESET}" if self._color else line, self._stream)
        if self._bar is not None:
            if time.monotonic() - self._postfix_at >= REDRAW_INTERVAL:
                self._refresh_postfix()
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _refresh_postfix(self) -> None:
        if self._bar is not None:
            self._postfix_at = time.monotonic()
            not_ok = sum(n for status, n in self._counts.items() if status not in SUCCESSES)
            ok = sum(n for status, n in self._counts.items() if status in SUCCESSES)
            self._bar.set_postfix_str(
                f"ok={ok} failed={not_ok} running={self._running}", refresh=False
            )

    def _write(self, text: str, stream: IO[str]) -> None:
        self._write_bytes(text.encode(getattr(stream, "encoding", None) or "utf-8", "backslashreplace"), stream)

    def _write_bytes(self, data: bytes, stream: IO[str]) -> None:
        """``data`` and a newline, as bytes where the stream has a buffer (a
        job's output passes through as it was written, as parallel passes it)."""
        if self._bar is not None:
            with type(self._bar).external_write_mode(file=self._stream):
                _put(data + b"\n", stream)
        else:
            _put(data + b"\n", stream)

    def _print_output(self, result: JobResult) -> None:
        for path, stream in ((result.stdout_log, self._output), (result.stderr_log, self._stream)):
            if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
                continue
            with open(path, "rb") as log:
                if self._prefix:
                    name = shown(result.name).encode("utf-8", "surrogateescape")
                    data = b"".join(name + b": " + line for line in log)
                else:
                    data = log.read()
            self._write_bytes(data.rstrip(b"\n"), stream)


def _put(data: bytes, stream: IO[str]) -> None:
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:  # a text-only stream (a test's StringIO)
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


def _indent(text: str, prefix: str = "    | ") -> str:
    return "\n".join(prefix + printable(line) for line in text.split("\n"))


def format_summary(
    report: RunReport,
    *,
    resume_command: str | None = None,
    resumed: bool = False,
    max_problems_shown: int = 10,
    slowest: int = 3,
) -> str:
    """Lines for stderr: counts and wall time; notes on the results file and,
    for a ``resumed`` run, what was kept and what ran; each problem with its
    stderr tail and log; the slowest jobs; the results path and, if needed,
    how to resume."""
    counts = ", ".join(f"{n} {status}" for status, n in report.counts.items() if n)
    lines = [f"{len(report)} jobs in {report.wall_time:.1f}s: {counts or 'nothing ran'}"]
    if report.interrupted_by:
        lines[0] += f" (interrupted by {report.interrupted_by})"
    lines += report.notes
    if report.output_lost:
        lines.append(report.output_lost)
    if resumed or report.kept:
        lines.append(f"resumed: kept {report.kept} results, ran {len(report) - report.kept} jobs")
    # One pass, keeping only what is shown: a report may hold a million results.
    problems: list[JobResult] = []
    timed: list[tuple[float, int, JobResult]] = []  # the slowest, as a heap
    timed_count = 0
    for position, result in enumerate(report):
        if result.status in FAILURES:
            problems.append(result)
        if result.duration is not None and slowest and result.status is not Status.UPTODATE:  # (it did not run)
            timed_count += 1
            entry = (result.duration, -position, result)
            if len(timed) < slowest:
                heapq.heappush(timed, entry)
            elif entry > timed[0]:
                heapq.heapreplace(timed, entry)
    for result in problems[:max_problems_shown]:
        reason = (result.error or "").strip().splitlines()[-1:] or [result.status.value]
        lines.append(f"{result.status.value.upper()} {shown(result.name)}: {printable(reason[0])}")
        if result.stderr_tail:
            lines.append(_indent(result.stderr_tail))
        if result.stderr_log:
            lines.append(f"    full log: {result.stderr_log}")
    if len(problems) > max_problems_shown:
        lines.append(f"... and {len(problems) - max_problems_shown} more not ok (see the results file)")
    if timed_count > 1:
        slow = [result for _, _, result in sorted(timed, reverse=True)]
        lines.append("slowest: " + ", ".join(f"{shown(r.name)} {r.duration:.1f}s" for r in slow))
    if report.results_path:
        lines.append(f"results: {report.results_path}")
    if report.log_dir:
        lines.append(f"logs:    {report.log_dir}")
    if resume_command and not report.ok:
        lines.append(f"resume:  {resume_command}")
    return "\n".join(lines)
