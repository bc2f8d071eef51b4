"""A self-contained HTML timeline of a run: one lane per worker slot (``w1``,
``w2``, … as ``TASKRUNNER_SLOT`` counts them), one bar per attempt, and a lane
of marks for the jobs that were up to date.

No script, no network: plain HTML and CSS, bars positioned in percent of the
run's span, coloured by status, with name and duration in the hover title.

    >>> from taskrunner.model import JobResult, Status
    >>> page = render_timeline([JobResult("a", Status.OK, history=((0.0, 1.0, "w0", "ok"),))])
    >>> 'class="bar ok"' in page and "a: ok, 1.00s" in page
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from ..model import JobResult

__all__ = ["COLORS", "render_timeline"]

COLORS = {
    "ok": "#2e9e44",
    "failed": "#d62728",
    "timeout": "#ff7f0e",
    "crashed": "#8c2d9c",
    "cancelled": "#7f7f7f",
    "skipped": "#c7c7c7",
    "uptodate": "#6baed6",
}
#: The lane of jobs that did not run because they were up to date: a mark
#: where the run decided so.
UPTODATE_LANE = "up to date"


def _tick_step(span: float) -> float:
    """A round step giving about 5-10 ticks over ``span`` seconds."""
    raw = span / 8 if span > 0 else 1.0
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def render_timeline(results: Sequence[JobResult], title: str = "taskrunner timeline") -> str:
    """The timeline page for ``results`` (attempts without times are left out)."""
    bars = [
        (result.name, attempt_no, started, finished, worker, status)
        for result in results
        for attempt_no, (started, finished, worker, status) in enumerate(result.history, start=1)
    ]
    bars += [
        (result.name, 1, result.started, result.started, UPTODATE_LANE, "uptodate")
        for result in results
        if result.status.value == "uptodate" and result.started is not None and not result.history
    ]
    bars = [(name, no, started, finished, _lane_of(worker), status) for name, no, started, finished, worker, status in bars]
    lanes = sorted({bar[4] for bar in bars}, key=_lane_key)
    start = min((bar[2] for bar in bars), default=0.0)
    end = max((bar[3] for bar in bars), default=start + 1.0)
    span = max(end - start, 1e-6)

    def percent(t: float) -> float:
        return 100.0 * (t - start) / span

    rows = []
    for lane in lanes:
        cells = []
        for name, attempt_no, started, finished, worker, status in bars:
            if worker != lane:
                continue
            label = f"{name}: {status}, {finished - started:.2f}s" + (f" (attempt {attempt_no})" if attempt_no > 1 else "")
            cells.append(
                f'<div class="bar {html.escape(status)}" title="{html.escape(label)}" '
                f'style="left:{percent(started):.3f}%;width:{max(percent(finished) - percent(started), 0.15):.3f}%">'
                f"<span>{html.escape(name)}</span></div>"
            )
        rows.append(f'<div class="lane"><div class="label">{html.escape(lane)}</div><div class="track">{"".join(cells)}</div></div>')

    workers = len([lane for lane in lanes if lane != UPTODATE_LANE])  # (up-to-date marks ran nowhere)
    attempts = len([bar for bar in bars if bar[4] != UPTODATE_LANE])
    step = _tick_step(span)
    ticks = "".join(
        f'<div class="tick" style="left:{100.0 * (i * step) / span:.3f}%">{i * step:g}s</div>'
        for i in range(int(span / step) + 1)
    )
    legend = "".join(
        f'<span class="key"><span class="swatch {status}"></span>{status}</span>' for status in COLORS
    )
    colors = "".join(f".{status}{{background:{color}}}" for status, color in COLORS.items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font:13px system-ui,sans-serif;margin:16px;color:#222}}
h1{{font-size:16px}}
.lane{{display:flex;align-items:center;height:30px;border-bottom:1px solid #eee}}
.label{{width:140px;flex:none;font-family:monospace;overflow:hidden;text-overflow:ellipsis}}
.track,.axis{{position:relative;flex:1;height:22px}}
.bar{{position:absolute;top:2px;height:18px;border-radius:3px;overflow:hidden;color:#fff;font-size:11px;line-height:18px;white-space:nowrap}}
.bar span{{padding-left:3px}}
.axisrow{{display:flex;margin-top:4px}}
.axisrow .label{{width:140px}}
.tick{{position:absolute;top:0;border-left:1px solid #999;padding-left:2px;font-size:11px;color:#555;height:16px}}
.key{{margin-right:14px}}
.swatch{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle;border-radius:2px}}
{colors}
</style></head>
<body>
<h1>{html.escape(title)}: {len(results)} jobs, {attempts} attempts, {span:.2f}s, {workers} workers</h1>
<div class="legend">{legend}</div>
{"".join(rows)}
<div class="axisrow"><div class="label">time</div><div class="axis">{ticks}</div></div>
</body></html>
"""


def _lane_of(worker: str) -> str:
    """A local worker "w3-1234" is lane "w3" (its replacements share the lane)."""
    slot, _, pid = worker.partition("-")
    return slot if slot.startswith("w") and slot[1:].isdigit() and pid.isdigit() else worker


def _lane_key(worker: str) -> tuple[int, str]:
    # "w3": sort by slot number, so lanes stay in worker order.
    head = worker.lstrip("w")
    return (int(head), worker) if head.isdigit() else (1 << 30, worker)
