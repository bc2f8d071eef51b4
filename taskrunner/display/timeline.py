"""A self-contained HTML timeline of a run: one lane per worker slot (``w1``,
``w2``, … as ``TASKRUNNER_SLOT`` counts them) and lanes of marks for the jobs
that did not run (up to date, skipped).

No script, no network: plain HTML, CSS and inline SVG. Up to
``DETAIL_LIMIT`` attempts, each is a bar, coloured by status, labelled where
its name fits (inside it, or after it when the lane is free), with name and
duration in the hover title. Above that, each lane is a density strip:
``BUCKETS`` slices of time, each coloured by the worst status that ran in
it and as opaque as the lane was busy, and the failures are listed by name;
so 50,000 jobs make a page of a few hundred kilobytes that a browser draws
at once (``report --trace`` writes every attempt, for zooming). An earlier
run whose results ``--resume`` kept is drawn apart, after this run, so it
does not stretch this run's time axis.

    >>> from taskrunner.model import JobResult, Status
    >>> page = render_timeline([JobResult("a", Status.OK, history=((0.0, 1.0, "w0", "ok"),))])
    >>> 'class="bar ok' in page and "a: ok, 1.00s" in page
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from ..model import JobResult
from .showtext import duration_text, plural
from .spans import SKIPPED_LANE, UPTODATE_LANE, Span, collect, lane_key, split_runs

__all__ = ["BUCKETS", "COLORS", "DETAIL_LIMIT", "render_timeline"]

COLORS = {
    "ok": "#2e9e44",
    "failed": "#d62728",
    "timeout": "#ff7f0e",
    "crashed": "#8c2d9c",
    "cancelled": "#7f7f7f",
    "skipped": "#c7c7c7",
    "uptodate": "#6baed6",
}
#: Which status colours a density slice where several ran: the worst.
_WORST_FIRST = ("crashed", "timeout", "failed", "cancelled", "ok", "uptodate", "skipped")
#: Attempts drawn one bar each; above this, lanes become density strips.
DETAIL_LIMIT = 3000
#: Slices of time in a density strip.
BUCKETS = 600
#: Failures named under a density view at most.
FAILURES_LISTED = 200
#: For placing labels: the width a track is assumed to have, and a character's.
_TRACK_PX, _CHAR_PX = 1000.0, 6.5


def render_timeline(results: Sequence[JobResult], title: str = "taskrunner timeline") -> str:
    """The timeline page for ``results`` (attempts without times are left out)."""
    runs = split_runs(collect(results))
    sections = [_section(runs[-1], f"{title}: {plural(len(results), 'job')}")] if runs else []
    for number, run in enumerate(reversed(runs[:-1]), start=1):
        before = runs[-1][0].started - max(span.finished for span in run)
        sections.append(_section(run, f"earlier run {number} (results kept by --resume), "
                                      f"ended {duration_text(before)} before the run above", earlier=True))
    legend = "".join(f'<span class="key"><span class="swatch {status}"></span>{status}</span>' for status in COLORS)
    colors = "".join(f".{status}{{background:{color}}}" for status, color in COLORS.items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font:13px system-ui,sans-serif;margin:16px;color:#222}}
h1{{font-size:16px}} h2{{font-size:14px;margin-top:28px;color:#555}}
.lane{{display:flex;align-items:center;height:30px;border-bottom:1px solid #eee}}
.label{{width:140px;flex:none;font-family:monospace;overflow:hidden;text-overflow:ellipsis}}
.track,.axis{{position:relative;flex:1;height:22px}}
.track svg{{position:absolute;left:0;top:2px;width:100%;height:18px}}
.bar,.mark{{position:absolute;top:2px;height:18px;border-radius:3px;overflow:hidden;color:#fff;font-size:11px;line-height:18px;white-space:nowrap}}
.mark{{width:3px;border-radius:0}}
.bar span{{padding-left:3px}}
.bar.after{{overflow:visible}} .bar.after span{{position:absolute;left:100%;color:#222}}
.axisrow{{display:flex;margin-top:4px}}
.axisrow .label{{width:140px}}
.tick{{position:absolute;top:0;border-left:1px solid #999;padding-left:2px;font-size:11px;color:#555;height:16px}}
.key{{margin-right:14px}}
.swatch{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle;border-radius:2px}}
.failures{{font-family:monospace;font-size:12px;columns:3;margin-top:8px}}
{colors}
</style></head>
<body>
<div class="legend">{legend}</div>
{"".join(sections) or "<h1>" + html.escape(title) + ": nothing ran</h1>"}
</body></html>
"""


def _section(spans: list[Span], heading: str, earlier: bool = False) -> str:
    """One run: its heading, its lanes (bars or density strips), its time axis."""
    start = min(span.started for span in spans)
    span_seconds = max(max(span.finished for span in spans) - start, 1e-6)
    attempts = [span for span in spans if not span.is_mark]
    lanes = sorted({span.lane for span in spans}, key=lane_key)
    workers = len([lane for lane in lanes if lane not in (UPTODATE_LANE, SKIPPED_LANE)])
    detail = len(spans) <= DETAIL_LIMIT
    by_lane: dict[str, list[Span]] = {lane: [] for lane in lanes}
    for span in spans:
        by_lane[span.lane].append(span)
    rows = []
    for lane in lanes:
        cells = (_bars(by_lane[lane], start, span_seconds) if detail
                 else _density(by_lane[lane], lane, start, span_seconds))
        rows.append(f'<div class="lane"><div class="label">{html.escape(lane)}</div>'
                    f'<div class="track">{cells}</div></div>')
    tag = "h2" if earlier else "h1"
    summary = (f"{heading}: {plural(len(attempts), 'attempt')}, {duration_text(span_seconds)}, "
               f"{plural(workers, 'worker')}" + ("" if detail else f" (density: {BUCKETS} slices of "
                                                  f"{duration_text(span_seconds / BUCKETS)})"))
    failures = "" if detail else _failure_list(attempts, start)
    return (f"<{tag}>{html.escape(summary)}</{tag}>\n" + "".join(rows)
            + f'<div class="axisrow"><div class="label">time</div><div class="axis">{_ticks(span_seconds)}</div></div>'
            + failures)


def _bars(spans: list[Span], start: float, seconds: float) -> str:
    """A lane's attempts, one bar each, and its marks; a name is shown where it fits."""
    ordered = sorted(spans, key=lambda span: span.started)
    cells = []
    for index, span in enumerate(ordered):
        left = 100.0 * (span.started - start) / seconds
        title = html.escape(_describe(span))
        if span.is_mark:
            cells.append(f'<div class="mark {span.status}" title="{title}" style="left:{left:.3f}%"></div>')
            continue
        width = max(100.0 * (span.finished - span.started) / seconds, 0.15)
        room = (100.0 * (ordered[index + 1].started - start) / seconds if index + 1 < len(ordered) else 100.0) - left
        label_px = len(span.name) * _CHAR_PX + 6
        fits = "" if width * _TRACK_PX / 100 >= label_px else (" after" if room * _TRACK_PX / 100 >= label_px
                                                                 + width * _TRACK_PX / 100 else None)
        label = f"<span>{html.escape(span.name)}</span>" if fits is not None else ""
        cells.append(f'<div class="bar {span.status}{fits or ""}" title="{title}" '
                     f'style="left:{left:.3f}%;width:{width:.3f}%">{label}</div>')
    return "".join(cells)


def _density(spans: list[Span], lane: str, start: float, seconds: float) -> str:
    """A lane as an SVG strip of ``BUCKETS`` slices: colour of the worst status,
    opacity of the share of the slice the lane was busy (marks: one per slice that has any)."""
    width = seconds / BUCKETS
    busy = [0.0] * BUCKETS
    counts: list[dict[str, int]] = [{} for _ in range(BUCKETS)]
    for span in spans:
        first = min(int((span.started - start) / width), BUCKETS - 1)
        last = min(int((span.finished - start) / width), BUCKETS - 1)
        counts[first][span.status] = counts[first].get(span.status, 0) + 1
        for bucket in range(first, last + 1):
            lo, hi = start + bucket * width, start + (bucket + 1) * width
            busy[bucket] += max(0.0, min(hi, span.finished) - max(lo, span.started))
            if bucket != first and span.status not in counts[bucket]:
                counts[bucket][span.status] = 0  # ran here, started earlier
    rects = []
    run_from, run_key = 0, None
    for bucket in range(BUCKETS + 1):
        key = _slice_key(counts[bucket], busy[bucket] / width, lane) if bucket < BUCKETS else None
        if key != run_key:
            if run_key is not None:
                status, opacity = run_key
                started = sum(sum(c.values()) for c in counts[run_from:bucket])
                title = (f"{lane}: {(run_from * width):.2f}-{(bucket * width):.2f}s, "
                         f"{plural(started, 'start')}, mostly {status}")
                rects.append(f'<rect x="{run_from}" width="{bucket - run_from}" height="1" fill="{COLORS[status]}" '
                             f'fill-opacity="{opacity}"><title>{html.escape(title)}</title></rect>')
            run_from, run_key = bucket, key
    return (f'<svg viewBox="0 0 {BUCKETS} 1" preserveAspectRatio="none">'
            + "".join(rects) + "</svg>")


def _slice_key(counts: dict[str, int], busy_share: float, lane: str) -> tuple[str, float] | None:
    """(the worst status in a slice, its opacity in tenths), or None for an empty slice."""
    if not counts:
        return None
    status = next(status for status in _WORST_FIRST if status in counts)
    if lane in (UPTODATE_LANE, SKIPPED_LANE) or status in ("crashed", "timeout", "failed"):
        return status, 1.0  # a failure stands out however short it was
    return status, max(1, min(10, math.ceil(busy_share * 10))) / 10


def _failure_list(attempts: list[Span], start: float) -> str:
    failed = [span for span in attempts if span.status in ("failed", "timeout", "crashed")]
    if not failed:
        return ""
    items = "".join(f"<div>{(span.started - start):.2f}s {html.escape(span.status)} {html.escape(span.name)}</div>"
                    for span in failed[:FAILURES_LISTED])
    more = f"<div>... and {len(failed) - FAILURES_LISTED} more</div>" if len(failed) > FAILURES_LISTED else ""
    return f'<h2>{html.escape(plural(len(failed), "attempt"))} not ok</h2><div class="failures">{items}{more}</div>'


def _describe(span: Span) -> str:
    if span.lane == SKIPPED_LANE:
        return f"{span.name}: skipped ({span.note})"
    if span.lane == UPTODATE_LANE:
        return f"{span.name}: up to date"
    return (f"{span.name}: {span.status}, {span.finished - span.started:.2f}s"
            + (f" (attempt {span.attempt})" if span.attempt > 1 else ""))


def _ticks(span: float) -> str:
    step = _tick_step(span)
    return "".join(f'<div class="tick" style="left:{100.0 * (i * step) / span:.3f}%">{i * step:g}s</div>'
                   for i in range(int(span / step) + 1))


def _tick_step(span: float) -> float:
    """A round step giving about 5-10 ticks over ``span`` seconds."""
    raw = span / 8 if span > 0 else 1.0
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude
