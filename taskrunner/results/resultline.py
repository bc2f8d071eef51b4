"""One line of a results file, checked field by field.

A results file may come from an older taskrunner, a killed run or a person
with an editor: every field is checked for its type before a ``JobResult``
is built, so a bad line is one clear message, never a traceback later in
``report``, ``--timeline`` or ``--resume``. Unknown keys are ignored (newer
files stay readable).

Two readers, one rule: a typed msgspec decoder (``_Line``) reads and checks
a line in about a microsecond, so a million lines cost no more than
``json.loads`` of each; a line it refuses is read again by the checks of
``_FIELDS``, which say in words what is wrong (and are the rule: a test feeds
both every field's bad values and random lines, and holds them equal).

    >>> parse_result_line('{"name": "a", "status": "ok", "returncode": 0}').ok
    True
    >>> parse_result_line('{"name": "a", "status": "ok", "started": "x"}')
    Traceback (most recent call last):
    ...
    ValueError: 'started' must be a time (seconds since 1970, up to the year 9999) or null
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeAlias, Union

import msgspec

from ..model import JobResult, Status, rebuilt_result

__all__ = ["Record", "parse_result_line", "read_record", "read_records", "result_of"]

_STATUSES = {status.value: status for status in Status}


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Bounds a number must keep to be stored and shown (a time: up to the year 9999).
_MAX_TIME = 253402300799.0
_INT64 = 1 << 63


def _time(value: Any) -> bool:
    return _number(value) and 0 <= value <= _MAX_TIME


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and low <= value < high


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _status(value: Any) -> bool:
    return isinstance(value, str) and value in _STATUSES


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _history(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(entry, list)
        and len(entry) == 4
        and _time(entry[0])
        and _time(entry[1])
        and _text(entry[2])
        and _status(entry[3])
        for entry in value
    )


#: field -> (check, what it must be). ``value`` is free (any JSON).
_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "status": (_status, f"one of {', '.join(_STATUSES)}"),
    "returncode": (_optional(_whole(-_INT64, _INT64)), "a whole number (64 bits) or null"),
    "error": (_optional(_text), "a string or null"),
    "attempts": (_whole(0, 1 << 32), "a whole number from 0 to 2**32 - 1"),
    "started": (_optional(_time), "a time (seconds since 1970, up to the year 9999) or null"),
    "finished": (_optional(_time), "a time (seconds since 1970, up to the year 9999) or null"),
    # (Wall-clock times: a clock stepped back makes a duration negative.)
    "duration": (_optional(lambda v: _number(v) and abs(v) <= _MAX_TIME), "a number of seconds or null"),
    "worker": (_optional(_text), "a string or null"),
    "stdout_log": (_optional(_text), "a string or null"),
    "stderr_log": (_optional(_text), "a string or null"),
    "stderr_tail": (_optional(_text), "a string or null"),
    "history": (_history, "a list of [started, finished, worker, status]"),
    "job_hash": (_optional(_text), "a string or null"),
    "max_rss": (_optional(_whole(0, _INT64)), "a whole number >= 0 (64 bits) or null"),
    "content_hash": (_optional(_text), "a string or null"),
    "worker_logs": (_optional(_text), "a string or null"),
}
_REQUIRED = ("name", "status")


# An int stays an int (a line read and written again keeps its bytes).
_Time = Annotated[int, msgspec.Meta(ge=0, le=int(_MAX_TIME))] | Annotated[float, msgspec.Meta(ge=0, le=_MAX_TIME)]
_Seconds = (Annotated[int, msgspec.Meta(ge=-int(_MAX_TIME), le=int(_MAX_TIME))]
            | Annotated[float, msgspec.Meta(ge=-_MAX_TIME, le=_MAX_TIME)])
_StatusValue = Literal["ok", "failed", "timeout", "crashed", "skipped", "cancelled", "uptodate"]


class _Line(msgspec.Struct, gc=False):
    """``_FIELDS`` as msgspec types, in ``JobResult``'s field order. Not
    tracked by the collector: decoded JSON holds no cycle."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    status: _StatusValue
    returncode: Annotated[int, msgspec.Meta(ge=-_INT64, le=_INT64 - 1)] | None = None
    value: Any = None
    error: str | None = None
    attempts: Annotated[int, msgspec.Meta(ge=0, lt=1 << 32)] = 0
    started: _Time | None = None
    finished: _Time | None = None
    duration: _Seconds | None = None
    worker: str | None = None
    stdout_log: str | None = None
    stderr_log: str | None = None
    stderr_tail: str | None = None
    history: tuple[tuple[_Time, _Time, str, _StatusValue], ...] = ()
    job_hash: str | None = None
    max_rss: Annotated[int, msgspec.Meta(ge=0, le=_INT64 - 1)] | None = None
    content_hash: str | None = None
    worker_logs: str | None = None


_LINE_DECODER = msgspec.json.Decoder(_Line)
_line_values = msgspec.structs.astuple


#: A checked line as it was read: decoded (``_Line``), or, for the rare line
#: only the checks of ``_FIELDS`` can read, its ``JobResult``. Both have the
#: result's fields; ``result_of`` makes the ``JobResult``.
Record: TypeAlias = Union[_Line, JobResult]  # noqa: UP007 - a runtime alias (Python 3.10 has no "type")


def parse_result_line(line: str | bytes) -> JobResult:
    """The ``JobResult`` of one results-file line (without its newline).

    Raises ``ValueError`` saying what is wrong, in a few words
    (``UnicodeDecodeError`` for bytes that are not UTF-8).
    """
    return result_of(read_record(line))


def read_record(line: str | bytes) -> Record:
    """``parse_result_line`` without making the ``JobResult`` (a reader of a
    million lines makes those it is asked for)."""
    try:
        return _LINE_DECODER.decode(line)
    except _REFUSALS:
        return _refused(line)


def _refused(line: str | bytes) -> JobResult:
    """A line the typed decoder refused: the checks say what is wrong (or
    accept what msgspec cannot read, a lone surrogate)."""
    return _checked(line.decode("utf-8") if isinstance(line, bytes) else line)


#: What the typed decoder raises for a line it does not read.
_REFUSALS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)


def read_records(lines: Sequence[bytes], into: list[Record]) -> None:
    """``read_record`` of each of ``lines``, appended to ``into`` in order;
    on a bad line, ``ValueError`` with the lines before it appended. The
    common line is decoded without a Python call of its own (a million
    lines: a third less time)."""
    start = 0
    while start < len(lines):
        before = len(into)
        try:
            into.extend(map(_LINE_DECODER.decode, itertools.islice(lines, start, None)))
            return
        except _REFUSALS:
            # (``extend`` keeps what it appended before the line it failed on.)
            refused = start + len(into) - before
            into.append(_refused(lines[refused]))
            start = refused + 1


def result_of(record: Record) -> JobResult:
    """The ``JobResult`` of a record of ``read_record``."""
    return record if isinstance(record, JobResult) else rebuilt_result(_line_values(record))


def _checked(line: str) -> JobResult:
    """``parse_result_line`` by the checks of ``_FIELDS``, with their messages."""
    if not line.strip():
        raise ValueError("empty line")
    try:
        data = _DECODER.decode(line)
    except (ValueError, RecursionError) as error:
        # RecursionError: thousands of nested brackets.
        raise ValueError(f"not JSON ({str(error)[:80]})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object (expected a taskrunner result)")  # noqa: TRY004 - one type for every bad line
    for name in _REQUIRED:
        if name not in data:
            raise ValueError(f"missing field {name!r}")
    for name, value in data.items():
        rule = _FIELDS.get(name)
        if rule is not None and not rule[0](value):
            raise ValueError(f"{name!r} must be {rule[1]}")
    return JobResult.from_dict(data)
