"""The compact store of a run's final results: whatever goes in comes back
equal (property test), the common result is kept as a row, and a real run's
report is a view that reads the same as the results file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CliRunner
from taskrunner.display.summary import format_summary
from taskrunner.model import Job, JobResult, Status
from taskrunner.results.report import RunReport
from taskrunner.results.resultstore import ResultStore, ResultsView

pytestmark = pytest.mark.timeout(120)

JOBS = [Job(name=f"j{n}", call="os:getpid") for n in range(3)]


def common(name: str = "j0", status: Status = Status.OK, **changes: object) -> JobResult:
    """A result as a worker sends one: one attempt, its own history, a hash."""
    result = JobResult(name, status, None, 4242, None, 1, 100.25, 100.5, 0.25, "w0-77",
                       history=((100.25, 100.5, "w0-77", status.value),), job_hash="0123456789abcdef", max_rss=8 << 20)
    return result.evolve(**changes) if changes else result


def test_a_common_result_is_kept_as_a_row_and_comes_back_equal() -> None:
    store = ResultStore(JOBS)
    for index, status in enumerate((Status.OK, Status.FAILED)):
        store.put(index, common(f"j{index}", status))
    assert store.compact_count == 2
    assert store.get(0) == common() and store.get(1) == common("j1", Status.FAILED)
    assert store.get(2) is None and not store.has(2) and store.status(1) is Status.FAILED
    assert store.status_counts() == {"ok": 1, "failed": 1}
    killed = common("j2", Status.CRASHED, returncode=-9, max_rss=None)
    store.put(2, killed)
    assert store.compact_count == 3 and store.get(2) == killed


@pytest.mark.parametrize(
    "changes",
    [
        {"error": "exited with status 1"},
        {"stdout_log": "/logs/j0.out"},
        {"stderr_tail": "oops"},
        {"history": ((1.0, 2.0, "w1-5", "failed"), (100.25, 100.5, "w0-77", "ok"))},  # a retried job
        {"job_hash": "not hex at all!!"},
        {"job_hash": None},
        {"returncode": 1 << 70},
        {"returncode": 1 << 40},  # (a row keeps 32 bits)
        {"returncode": -(1 << 31)},  # (a row's None)
        {"returncode": True},
        {"max_rss": 1000},  # (a row keeps whole KiB, 32 bits of them)
        {"max_rss": 1 << 60},
        {"max_rss": ((1 << 32) - 1) << 10},  # (a row's None)
        {"duration": 0.3},  # not finished - started
        {"started": None},
        {"name": "renamed"},
    ],
)
def test_any_other_result_is_kept_whole(changes: dict[str, object]) -> None:
    store = ResultStore(JOBS)
    result = common(**changes)
    store.put(0, result)
    assert store.compact_count == 0 and store.get(0) is result


def test_a_result_put_again_replaces_the_first() -> None:
    store = ResultStore(JOBS)
    store.put(0, common(error="first"))
    store.put(0, common())
    assert store.get(0) == common() and store.compact_count == 1


_text = st.one_of(st.none(), st.text(max_size=8))
_time = st.one_of(st.none(), st.floats(allow_nan=False, width=64))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from(list(Status)), returncode=st.one_of(st.none(), st.integers(), st.booleans()),
    value=st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)),
    error=_text, attempts=st.integers(min_value=0, max_value=1 << 40), started=_time, finished=_time,
    worker=_text, logs=st.tuples(_text, _text, _text), job_hash=st.one_of(_text, st.just("00ff00ff00ff00ff")),
    max_rss=st.one_of(st.none(), st.integers(), st.integers().map(lambda kib: kib << 10)), own_history=st.booleans(),
    exact_duration=st.booleans(),
)
def test_whatever_goes_in_comes_back_equal(
    status: Status, returncode: int | None, value: object, error: str | None, attempts: int, started: float | None,
    finished: float | None, worker: str | None, logs: tuple[str | None, str | None, str | None],
    job_hash: str | None, max_rss: int | None, own_history: bool, exact_duration: bool,
) -> None:
    duration = finished - started if exact_duration and started is not None and finished is not None else 0.5
    history = ((started, finished, worker, status.value),) if own_history else ()
    result = JobResult("j1", status, returncode, value, error, attempts, started, finished, duration, worker, *logs,
                       history=history, job_hash=job_hash, max_rss=max_rss)  # type: ignore[arg-type]
    store = ResultStore(JOBS)
    store.put(1, result)
    assert store.get(1) == result and store.status(1) is status


def test_a_view_reads_like_the_tuple_of_its_results() -> None:
    store = ResultStore(JOBS)
    store.put(0, common())
    store.put(2, common("j2", Status.TIMEOUT, error="timed out"))
    view = ResultsView(store)
    expected = (common(), common("j2", Status.TIMEOUT, error="timed out"))
    assert len(view) == 2 and tuple(view) == expected and view == expected
    assert view[1] == expected[1] and view[-1] == expected[1] and view[:1] == expected[:1]
    report = RunReport(view)
    assert report.counts == RunReport(expected).counts and report["j2"].status is Status.TIMEOUT
    assert not report.ok and "TIMEOUT j2: timed out" in format_summary(report)


def test_a_runs_report_is_compact_and_matches_the_results_file(cli: CliRunner) -> None:
    # The results of trivial calls must stay rows: the worker stamps each
    # first attempt's history and hash. If that changed, a million-job run
    # would quietly need 500 bytes more a job.
    script = '''
import json, taskrunner
from taskrunner.results.resultstore import ResultsView

if __name__ == "__main__":
    jobs = [taskrunner.Job(name=f"n{n}", call="os:getpid") for n in range(300)]
    jobs.append(taskrunner.Job(name="bad", run="exit 3"))
    report = taskrunner.run(jobs, workers=2, results="out.jsonl", progress=False)
    assert isinstance(report.results, ResultsView), type(report.results)
    store = report.results._store
    print(json.dumps({"rows": store.compact_count, "report": [r.to_dict() for r in report], "ok": report.ok,
                      "counts": report.counts}))
'''
    done = subprocess.run([sys.executable, "-c", script], cwd=cli.workdir, capture_output=True, text=True,
                          timeout=100, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["rows"] == 300  # the failed command has an error: kept whole
    assert out["ok"] is False and out["counts"]["ok"] == 300 and out["counts"]["failed"] == 1
    lines = [json.loads(line) for line in (cli.workdir / "out.jsonl").read_text().splitlines()]
    assert sorted(out["report"], key=lambda r: r["name"]) == sorted(lines, key=lambda r: r["name"])


def test_repeated_values_are_kept_once_and_keep_their_type() -> None:
    jobs = [Job(name=f"j{n}", call="os:getpid") for n in range(5)]
    store = ResultStore(jobs)
    values = [int("70001"), int("70001"), 1.0, True, 1]  # two equal ints, separate objects
    for index, value in enumerate(values):
        store.put(index, common(f"j{index}", value=value))
    got = [store.get(index).value for index in range(5)]  # type: ignore[union-attr]
    assert got[0] is got[1] and got == values
    assert [type(value) for value in got] == [int, int, float, bool, int]
