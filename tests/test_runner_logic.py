"""The runner's own logic, on the in-process backend: exact and fast (no
worker processes; commands still run for real)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from taskrunner import Job, Runner
from taskrunner.backends.inprocess import InProcessBackend
from taskrunner.display.progress import SilentReporter
from taskrunner.model import JobResult, Status

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_leftovers")]


def runner(tmp_path: Path, backend: InProcessBackend, **options: object) -> Runner:
    return Runner(backend=backend, results=str(tmp_path / "r.jsonl"), log_dir=str(tmp_path / "logs"),
                  progress=False, **options)  # type: ignore[arg-type]


def lines(tmp_path: Path) -> dict[str, dict[str, object]]:
    return {line["name"]: line for line in map(json.loads, (tmp_path / "r.jsonl").read_text().splitlines())}


def test_a_failure_is_retried_and_its_dependents_wait(tmp_path: Path) -> None:
    flaky = f"test -f {tmp_path}/m || {{ touch {tmp_path}/m; exit 1; }}"
    backend = InProcessBackend()
    report = runner(tmp_path, backend).run([
        Job(name="flaky", run=flaky, retries=1),
        Job(name="after", run="true", depends_on=["flaky"]),
    ])
    assert report.ok and report["flaky"].attempts == 2
    assert [a.job.name for a in backend.ran] == ["flaky", "flaky", "after"]
    assert len(report["flaky"].history) == 2


def test_a_failed_dependency_skips_its_dependents_and_not_the_rest(tmp_path: Path) -> None:
    backend = InProcessBackend()
    report = runner(tmp_path, backend).run([
        Job(name="bad", run="exit 3"),
        Job(name="child", run="true", depends_on=["bad"]),
        Job(name="grandchild", run="true", depends_on=["child"]),
        Job(name="other", run="true"),
    ])
    assert {r.name: r.status for r in report} == {
        "bad": Status.FAILED, "child": Status.SKIPPED, "grandchild": Status.SKIPPED, "other": Status.OK}
    assert [a.job.name for a in backend.ran] == ["bad", "other"]
    assert set(lines(tmp_path)) == {"bad", "child", "grandchild", "other"}


def test_fail_fast_cancels_what_did_not_start(tmp_path: Path) -> None:
    backend = InProcessBackend()
    report = runner(tmp_path, backend, fail_fast=True).run(
        [Job(name="bad", run="exit 1")] + [Job(name=f"j{i}", run="true") for i in range(3)])
    assert [a.job.name for a in backend.ran] == ["bad"]
    assert report.counts["cancelled"] == 3 and len(lines(tmp_path)) == 4


def test_resume_runs_only_what_changed_or_did_not_succeed(tmp_path: Path) -> None:
    jobs = [Job(name="a", run="true"), Job(name="b", run="exit 1"), Job(name="c", run="true")]
    runner(tmp_path, InProcessBackend()).run(jobs)
    backend = InProcessBackend()
    changed = [jobs[0], Job(name="b", run="true"), Job(name="c", run="echo changed")]
    report = runner(tmp_path, backend, resume=True).run(changed)
    assert sorted(a.job.name for a in backend.ran) == ["b", "c"]  # in critical-path order
    assert report.ok and report.kept == 1 and set(lines(tmp_path)) == {"a", "b", "c"}


def test_a_selection_keeps_the_other_lines_and_reports_each_result_once(tmp_path: Path) -> None:
    jobs = [Job(name=n, run="true") for n in "abc"]
    runner(tmp_path, InProcessBackend()).run(jobs)
    before = lines(tmp_path)
    seen: list[str] = []
    backend = InProcessBackend()
    report = runner(tmp_path, backend, on_result=lambda r: seen.append(r.name)).run(jobs, select={"b"})
    assert [a.job.name for a in backend.ran] == ["b"] and seen == ["b"] and [r.name for r in report] == ["b"]
    after = lines(tmp_path)
    assert after["a"] == before["a"] and after["c"] == before["c"] and after["b"] != before["b"]


def test_iter_results_yields_in_completion_order_and_run_returns_the_report(tmp_path: Path) -> None:
    jobs = [Job(name="first", run="true"), Job(name="second", run="true", depends_on=["first"])]
    names = [r.name for r in runner(tmp_path, InProcessBackend()).iter_results(jobs)]
    assert names == ["first", "second"]


def test_run_and_iter_results_share_one_iteration_whose_report_comes_at_the_end(tmp_path: Path) -> None:
    jobs = [Job(name="a", run="true"), Job(name="b", run="exit 2", depends_on=["a"])]
    execution = runner(tmp_path, InProcessBackend()).iter_results(jobs)
    assert execution.report is None
    seen = [result.name for result in execution]
    assert seen == ["a", "b"] and execution.report is not None
    assert [(r.name, r.status) for r in execution.report] == [("a", Status.OK), ("b", Status.FAILED)]
    report = runner(tmp_path, InProcessBackend()).run(jobs)
    assert [(r.name, r.status) for r in report] == [(r.name, r.status) for r in execution.report]


@pytest.mark.parametrize(
    "history",
    [
        ((1.5, 2.5, "w0-7", "ok"),),  # a first attempt's own: sent as a mark, rebuilt
        ((1.5, 2.5, "w0-7", "failed"),),  # not its own (another status): sent as it is
        ((0.5, 1.0, "w1-8", "timeout"), (1.5, 2.5, "w0-7", "ok")),
        (),
    ],
)
def test_a_result_crosses_a_pipe_unchanged(history: tuple[tuple[float, float, str, str], ...]) -> None:
    result = JobResult("a", Status.OK, 0, [1], None, 1, 1.5, 2.5, 1.0, "w0-7", history=history, job_hash="ab")
    copy = pickle.loads(pickle.dumps(result))
    assert copy == result
    if history and history[-1][3] == "ok" and len(history) == 1:
        # Rebuilt from the result's own fields: no second copy of them kept.
        assert copy.history[0][0] is copy.started and copy.history[0][2] is copy.worker


class WaitCountingBackend(InProcessBackend):
    """The in-process backend, noting how long the run loop asked it to wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def poll(self, timeout: float | None) -> list[tuple[int, JobResult]]:
        self.waits.append(timeout)
        return super().poll(timeout)


def test_a_run_in_which_everything_is_up_to_date_ends_without_waiting(tmp_path: Path) -> None:
    """Issue 29, item 6: no poll (up to 0.2 s) after the last up-to-date job."""
    (tmp_path / "src").write_text("x")
    jobs = [Job(name=f"copy-{n}", run=f"cp src out{n}", cwd=str(tmp_path), inputs="src", outputs=f"out{n}")
            for n in range(3)]
    assert runner(tmp_path, InProcessBackend()).run(jobs).ok
    backend = WaitCountingBackend()
    report = runner(tmp_path, backend).run(jobs)
    assert report.counts["uptodate"] == 3 and backend.ran == []
    assert all(wait == 0.0 for wait in backend.waits), backend.waits  # (0: a look, not a wait)


class SlowToLetGoBackend(InProcessBackend):
    """Its "workers" still hold every attempt they ran (as a real worker does
    between sending an outcome and clearing its slot)."""

    def running(self) -> list[tuple[int, str, float | None]]:
        return [(attempt.attempt_id, "w1-1", 0.0) for attempt in self.ran]


class CountingReporter(SilentReporter):
    def __init__(self) -> None:
        self.counts: list[int] = []

    def running(self, count: int) -> None:
        self.counts.append(count)


def test_an_attempt_whose_outcome_came_is_not_counted_running(tmp_path: Path) -> None:
    """The progress line at a failure said running=3 of a run with two left:
    the failed job's worker had sent its outcome and not yet let go of it."""
    reporter = CountingReporter()
    report = runner(tmp_path, SlowToLetGoBackend(), reporter=reporter).run(
        [Job(name=f"j{n}", run="true") for n in range(3)])
    assert report.ok and reporter.counts and set(reporter.counts) == {0}, reporter.counts
