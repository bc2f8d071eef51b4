"""A run as Chrome trace events (``report --trace FILE.json``).

One complete event (``"ph": "X"``) per attempt, on the thread (lane) of its
worker slot; the jobs that did not run are instant events on lanes of their
own. Perfetto (ui.perfetto.dev), ``chrome://tracing`` and speedscope open
the file, and zoom from the whole run down to one job. Times are
microseconds from the first attempt's start; the events are written one per
line, as they are made, so a million attempts never become one string.

    >>> import io
    >>> from taskrunner.model import JobResult, Status
    >>> out = io.StringIO()
    >>> write_trace([JobResult("a", Status.OK, history=((10.0, 10.5, "w1-7", "ok"),))], out)
    >>> events = json.loads(out.getvalue())["traceEvents"]
    >>> [(e["ph"], e["name"], e.get("dur")) for e in events if e["ph"] != "M"]
    [('X', 'a', 500000.0)]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..model import JobResult
from .spans import collect, lane_key

__all__ = ["write_trace"]

_PROCESS = 1


def write_trace(results: Iterable[JobResult], out: IO[str], title: str = "taskrunner") -> None:
    """Write ``results`` to ``out`` as a Chrome trace (JSON object format)."""
    spans = collect(results)
    lanes = {lane: number for number, lane in enumerate(sorted({s.lane for s in spans}, key=lane_key), start=1)}
    origin = min((span.started for span in spans), default=0.0)
    out.write('{"displayTimeUnit": "ms", "traceEvents": [\n')
    first = True
    for event in _events(spans, lanes, origin, title):
        out.write(("" if first else ",\n") + json.dumps(event, separators=(",", ":")))
        first = False
    out.write("\n]}\n")


def _events(spans: list[Any], lanes: dict[str, int], origin: float, title: str) -> Iterator[dict[str, Any]]:
    yield {"ph": "M", "name": "process_name", "pid": _PROCESS, "tid": 0, "args": {"name": title}}
    for lane, number in lanes.items():
        yield {"ph": "M", "name": "thread_name", "pid": _PROCESS, "tid": number, "args": {"name": lane}}
        yield {"ph": "M", "name": "thread_sort_index", "pid": _PROCESS, "tid": number, "args": {"sort_index": number}}
    for span in spans:
        event: dict[str, Any] = {
            "name": span.name, "cat": span.status, "pid": _PROCESS, "tid": lanes[span.lane],
            "ts": round((span.started - origin) * 1e6, 1),
            "args": {"status": span.status, **({"attempt": span.attempt} if span.attempt > 1 else {}),
                     **({"worker": span.worker} if span.worker else {}), **({"why": span.note} if span.note else {})},
        }
        if span.is_mark:
            event.update(ph="i", s="t")
        else:
            event.update(ph="X", dur=round((span.finished - span.started) * 1e6, 1))
        yield event
