"""The two readers of a results line agree: the fast typed decoder (msgspec)
accepts exactly the lines the field checks accept, and builds the same
``JobResult`` (issue 29: results read back at parser speed). A line the fast
reader refuses gets the field checks' message."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from taskrunner.model import JobResult, Status
from taskrunner.results import resultline
from taskrunner.results.resultline import _FIELDS, _LINE_DECODER, _checked, _Line, parse_result_line

#: Values a field might hold in a line a person or an older version wrote.
SAMPLES: list[Any] = [
    None, True, False, 0, 1, -1, 7, 2**31, 2**32, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30,
    0.0, 1.5, -2.5, 1.8e9, 253402300799.0, 253402300800.0, 1e300, "", "x", "ok", "failed", "uptodate", "OK",
    "z\udce9", [], [1], [[1.0, 2.0, "w1", "ok"]], [[1, 2, "w1", "failed"]], [[1.0, 2.0, "w1"]],
    [[1.0, -2.0, "w1", "ok"]], [[1.0, 2.0, 3, "ok"]], [[1.0, 2.0, "w1", "bad"]], {}, {"a": [1, {"b": None}]},
]


def fast(line: str) -> JobResult | None:
    """What the fast reader alone makes of ``line`` (None: it refuses it)."""
    try:
        decoded = _LINE_DECODER.decode(line.encode("utf-8", "surrogatepass"))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return resultline.rebuilt_result(msgspec.structs.astuple(decoded))


def checked(line: str) -> JobResult | str:
    try:
        return _checked(line)
    except ValueError as error:
        return str(error)


def test_the_fast_reader_has_the_fields_and_statuses_of_the_rule() -> None:
    assert _Line.__struct_fields__ == tuple(JobResult.__dataclass_fields__)
    assert set(_Line.__struct_fields__) == set(_FIELDS) | {"value"}
    assert set(get_args(resultline._StatusValue)) == {status.value for status in Status}


@pytest.mark.parametrize("field", sorted(_FIELDS))
@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_every_field_value_is_judged_alike_by_both_readers(field: str, value: Any) -> None:
    line = json.dumps({"name": "a", "status": "ok", field: value})
    by_rule, by_fast = checked(line), fast(line)
    if isinstance(by_rule, str):
        assert by_fast is None, (line, by_rule)
        with pytest.raises(ValueError, match="^" + re.escape(by_rule) + "$"):
            parse_result_line(line)
    else:
        assert by_fast is None or by_fast == by_rule, line  # None: a lone surrogate msgspec cannot read
        assert parse_result_line(line) == by_rule


LINES = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "", "job-1", 3]), "status": st.sampled_from(["ok", "failed", "nope", None])},
    optional={field: st.sampled_from(SAMPLES) for field in [*_FIELDS, "value", "unknown"] if field not in ("name", "status")},
)


@settings(max_examples=400, deadline=None)
@given(LINES)
@example({"name": "a", "status": "ok", "unknown": "z\udce9"})
def test_random_lines_are_judged_alike_by_both_readers(data: dict[str, Any]) -> None:
    line = json.dumps(data)
    by_rule, by_fast = checked(line), fast(line)
    # (A lone surrogate, escaped in the line, is read by the field checks only.)
    assert (by_fast is None) == isinstance(by_rule, str) or "\\udce9" in line, (line, by_rule)
    if by_fast is not None:
        assert by_fast == by_rule and by_fast.to_dict() == by_rule.to_dict()  # type: ignore[union-attr]


@pytest.mark.parametrize("line", ["", "  ", "[]", "3", '"x"', "{", '{"name": "a"}', '{"name": "a", "status": "ok"} x',
                                  '{"name": "a", "status": "ok", "value": NaN}', '{"name": "a", "status": "ok", "value": 1e999}',
                                  "[" * 5000 + "]" * 5000])
def test_lines_that_are_not_results_get_the_rules_message(line: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_result_line(line)
    assert str(raised.value) == checked(line)
