"""Results made as they are read: the lines of a results file kept as decoded
(``ResultLines``) are the same results, briefs, counts and summary as the
``JobResult`` of each line, whatever the lines (property test); a bad line is
named by its number wherever it falls in the blocks the file is read in; a
resume that keeps every job reports the kept lines without making them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskrunner import Job, Runner, RunReport
from taskrunner.backends.inprocess import InProcessBackend
from taskrunner.display.summary import format_summary
from taskrunner.errors import ResultsFileError
from taskrunner.model import JobResult, Status
from taskrunner.results import journal
from taskrunner.results.journal import read_result_lines
from taskrunner.results.lazyresults import LazyResults

_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Few names (a job listed twice), tied durations, causes that repeat, and a
# lone surrogate (a line only the slow reader reads: a ``JobResult`` record).
_row = st.fixed_dictionaries({
    "name": st.sampled_from(["a", "b", "c", "d", "e\ud800"]),
    "status": st.sampled_from([status.value for status in Status]),
    "attempts": st.integers(0, 3),
    "duration": st.sampled_from([None, 0, 0.01, 0.5, 2.5, 2.5, 7]),
    "returncode": st.sampled_from([None, 0, 1, 2]),
    "stderr_tail": st.sampled_from([None, "boom 1", "boom 2", "\ud800"]),
    "value": st.sampled_from([None, 1, "x"]),
})


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))  # (ASCII: the surrogate escaped)


@_settings
@given(rows=st.lists(_row, max_size=25), slowest=st.integers(0, 4))
def test_lines_kept_as_decoded_are_the_results_of_the_lines(tmp_path: Path, rows: list[dict[str, Any]],
                                                            slowest: int) -> None:
    path = tmp_path / "r.jsonl"
    _write(path, rows)
    expected = [JobResult.from_dict(row) for row in rows]
    lines = read_result_lines(str(path))
    assert list(lines) == expected and len(lines) == len(expected) and lines == expected
    assert [lines[position] for position in range(len(rows))] == expected
    assert list(lines.briefs()) == [(result.status, result.attempts, result.duration) for result in expected]
    assert lines.status_counts() == Counter(result.status.value for result in expected)
    assert dict(lines.by_name()) == {result.name: result for result in expected}
    last_lines: dict[str, int] = {}  # each name's last line, in the order of those lines (a kept file's order)
    for number, row in enumerate(rows):
        last_lines.pop(row["name"], None)
        last_lines[row["name"]] = number
    assert list(lines.latest.items()) == list(last_lines.items())
    every_other = range(len(rows) - 1, -1, -2)
    some = lines.at(every_other)
    assert list(some) == [expected[number] for number in every_other]
    assert list(some.briefs()) == [(expected[n].status, expected[n].attempts, expected[n].duration) for n in every_other]
    assert some.status_counts() == Counter(expected[number].status.value for number in every_other)
    # Summarised without making the common results, it reads as the results do.
    lazy, built = RunReport(lines, wall_time=1.0), RunReport(tuple(expected), wall_time=1.0)
    assert lazy.counts == built.counts and lazy.ok == built.ok
    assert format_summary(lazy, slowest=slowest) == format_summary(built, slowest=slowest)


@_settings
@given(good=st.integers(0, 30), bad=st.data(), block=st.integers(1, 700), torn=st.booleans())
def test_a_bad_line_is_named_by_its_number_in_any_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good: int,
                                                        bad: st.DataObject, block: int, torn: bool) -> None:
    monkeypatch.setattr(journal, "_BLOCK", block)  # (a line may span blocks, or a block hold many lines)
    rows = [json.dumps({"name": f"j{number}", "status": "ok", "stderr_tail": "x" * number}) for number in range(good)]
    path = tmp_path / "r.jsonl"
    at = bad.draw(st.one_of(st.none(), st.integers(0, good)))
    if at is not None:
        rows.insert(at, '{"name": "bad", "status": "fine"}')
    path.write_text("".join(row + "\n" for row in rows) + ('{"name": "to' if torn else ""))
    warnings: list[str] = []
    if at is not None:
        with pytest.raises(ResultsFileError, match=rf"^{path}:{at + 1}: 'status' must be"):
            read_result_lines(str(path), on_warning=warnings.append)
        return
    lines = read_result_lines(str(path), on_warning=warnings.append)
    assert [result.name for result in lines] == [f"j{number}" for number in range(good)]
    assert warnings == ([f"{path}:{good + 1}: ignored a torn last line (a run was killed while writing it)"]
                        if torn else [])


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("no_leftovers")
def test_a_resume_that_keeps_every_job_reports_the_lines_as_read(tmp_path: Path) -> None:
    jobs = [Job(name=f"j{number}", run="exit 0") for number in range(5)]
    options: dict[str, Any] = {"results": str(tmp_path / "r.jsonl"), "log_dir": str(tmp_path / "logs"),
                               "progress": False}
    first = Runner(backend=InProcessBackend(), **options).run(jobs)
    backend = InProcessBackend()
    again = Runner(backend=backend, resume=True, **options).run(list(reversed(jobs)))
    assert not backend.ran and again.kept == 5 and again.ok
    # In the order of the jobs given, each made only when it is read.
    assert isinstance(again.results, LazyResults)
    assert list(again.results) == list(reversed(first.results))
    assert format_summary(again).splitlines()[0] == "5 jobs in 0.0s: 5 ok"
