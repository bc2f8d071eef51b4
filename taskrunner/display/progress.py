"""What the person at the terminal sees: progress, failures as they happen, job
output, and the closing summary.

Reporters get ``start(total)``, ``running(count)`` whenever the number of
running jobs may have changed, one ``result()`` per final job result, and
``close()``. Per result the terminal reporter only bumps counters (the
postfix text is rebuilt at most every ``mininterval``); tqdm decides when to
redraw, so thousands of tiny jobs cost nothing extra. tqdm itself is imported
only when a bar is shown (its import costs ~40 ms). Lines printed while the
bar shows go through tqdm, so the bar never breaks or flickers. Progress
asked for on something that is not a terminal (a CI log) is plain lines
instead, at most one every ``PLAIN_INTERVAL`` seconds and one at each failure.
The closing summary is ``summary.py``'s.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Protocol

from ..model import FAILURES, SUCCESSES, JobResult, Status
from .showtext import duration_text, printable, shown
from .summary import short_reason

__all__ = ["GuardedReporter", "Reporter", "SilentReporter", "TerminalReporter", "bar_wanted", "use_color"]

if TYPE_CHECKING:
    from tqdm import tqdm

_RED, _RESET = "\033[31m", "\033[0m"
#: Seconds between redraws of the bar (and rebuilds of its postfix).
REDRAW_INTERVAL = 0.1
#: At most this many seconds between redraws while jobs run but none ends.
LIVE_INTERVAL = 0.5
#: Progress forced onto something that is not a terminal (a CI log): a plain
#: line at most this often (and at every failure); ``TASKRUNNER_PROGRESS_EVERY``
#: (seconds) sets another.
PLAIN_INTERVAL = 10.0


def plain_interval(environ: Mapping[str, str] = os.environ) -> float:
    """``TASKRUNNER_PROGRESS_EVERY`` if it is a number of seconds >= 0.1, else ``PLAIN_INTERVAL``.

    >>> plain_interval({"TASKRUNNER_PROGRESS_EVERY": "60"}), plain_interval({"TASKRUNNER_PROGRESS_EVERY": "x"})
    (60.0, 10.0)
    """
    try:
        seconds = float(environ.get("TASKRUNNER_PROGRESS_EVERY", ""))
    except ValueError:
        return PLAIN_INTERVAL
    return seconds if 0.1 <= seconds <= 86400 else PLAIN_INTERVAL


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


def _is_terminal(stream: IO[str]) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def bar_wanted(progress: bool | None, stream: IO[str] | None = None) -> bool:
    """``--progress/--no-progress`` as given, else: is ``stream`` (stderr) a terminal?"""
    if progress is not None:
        return progress
    return _is_terminal(stream or sys.stderr)


def use_color(stream: IO[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Colour on a terminal; never when ``NO_COLOR`` is set to something
    (no-color.org: an empty value does not count); always when ``FORCE_COLOR``
    is (a CI log that renders escapes).

    >>> use_color(sys.stderr, {"NO_COLOR": "1", "FORCE_COLOR": "1"}), use_color(__import__("io").StringIO(), {"FORCE_COLOR": "1"})
    (False, True)
    """
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return _is_terminal(stream)


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
        self._color = use_color(self._stream)
        encoding = getattr(self._stream, "encoding", None) or "ascii"
        self._mark = "✗" if "✗".encode(encoding, errors="ignore") else "x"
        self._counts: Counter[Status] = Counter()
        self._running = 0
        self._postfix_at = 0.0
        self._drawn_at = 0.0
        self._plain, self._plain_every = False, PLAIN_INTERVAL
        self._total, self._started_at, self._plain_at = 0, 0.0, 0.0

    def start(self, total: int) -> None:
        self._total, self._started_at = total, time.monotonic()
        self._plain_at = self._started_at
        if self._want_bar and not _is_terminal(self._stream):
            self._plain, self._plain_every = True, plain_interval()  # a CI log: lines, no \r, no escapes
        elif self._want_bar:
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
        elif self._plain and time.monotonic() - self._plain_at >= self._plain_every:
            self._plain_line()

    def result(self, result: JobResult) -> None:
        self._counts[result.status] += 1
        if self._show_output:
            self._print_output(result)
        if result.status in FAILURES:
            line = f"{self._mark} {shown(result.name)} ({printable(short_reason(result))})"
            self._write(f"{_RED}{line}{_RESET}" if self._color else line, self._stream)
            if self._plain:
                self._plain_line()
        if self._bar is not None:
            if time.monotonic() - self._postfix_at >= REDRAW_INTERVAL:
                self._refresh_postfix()
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _plain_line(self) -> None:
        """``37/120 done, ok=35 failed=2 running=4, ETA 1m20s``."""
        now = time.monotonic()
        self._plain_at = now
        ok = sum(n for status, n in self._counts.items() if status in SUCCESSES)
        done = sum(self._counts.values())
        line = f"{done}/{self._total} done, ok={ok} failed={done - ok} running={self._running}"
        if 0 < done < self._total and now - self._started_at >= 1.0:
            line += f", ETA {duration_text((now - self._started_at) / done * (self._total - done))}"
        self._write(line, self._stream)

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
