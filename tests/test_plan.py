"""The planner is pure: every transition checked without processes or clocks."""

from __future__ import annotations

from taskrunner.engine.depgraph import dependency_problems
from taskrunner.engine.plan import Plan
from taskrunner.model import Job, JobResult, Status


def job(name: str, **fields: object) -> Job:
    return Job(name=name, run="true", **fields)  # type: ignore[arg-type]


def outcome(name: str, status: Status, attempts: int = 1) -> JobResult:
    return JobResult(name=name, status=status, attempts=attempts)


def test_first_attempts_come_in_job_order_up_to_the_limit() -> None:
    plan = Plan([job("a"), job("b"), job("c")])
    assert plan.take_due(now=0, limit=2) == [(0, 1), (1, 1)]
    assert plan.running == {0, 1}
    assert plan.take_due(now=0, limit=2) == [(2, 1)]
    assert plan.take_due(now=0, limit=2) == []


def test_success_is_final_and_finishes_the_plan() -> None:
    plan = Plan([job("a")])
    plan.take_due(0, 1)
    (final,) = plan.record(0, outcome("a", Status.OK), now=1)
    assert final.status is Status.OK and final.attempts == 1
    assert plan.finished and plan.results() == [final]


def test_retry_backs_off_exponentially_then_gives_up() -> None:
    plan = Plan([job("a", retries=2, retry_delay=1.0)])
    assert plan.take_due(0, 1) == [(0, 1)]
    assert plan.record(0, outcome("a", Status.FAILED, 1), now=10) == []
    assert plan.next_due() == 11.0
    assert plan.take_due(10.5, 1) == []
    assert plan.take_due(11.0, 1) == [(0, 2)]
    assert plan.record(0, outcome("a", Status.TIMEOUT, 2), now=20) == []
    assert plan.next_due() == 22.0  # 1 s, then 2 s
    assert plan.take_due(22.0, 1) == [(0, 3)]
    (final,) = plan.record(0, outcome("a", Status.CRASHED, 3), now=30)
    assert final.status is Status.CRASHED and final.attempts == 3


def test_retry_then_success() -> None:
    plan = Plan([job("a", retries=1)])
    plan.take_due(0, 1)
    assert plan.record(0, outcome("a", Status.FAILED), now=0) == []
    assert plan.take_due(0, 1) == [(0, 2)]
    (final,) = plan.record(0, outcome("a", Status.OK, 2), now=0)
    assert final.ok and final.attempts == 2


def test_cancelled_and_ok_are_never_retried() -> None:
    plan = Plan([job("a", retries=5), job("b", retries=5)])
    plan.take_due(0, 2)
    assert plan.record(0, outcome("a", Status.CANCELLED), now=0) != []
    assert plan.record(1, outcome("b", Status.OK), now=0) != []
    assert plan.finished


def test_max_failures_stops_dispatch_and_cancels_the_rest() -> None:
    plan = Plan([job("a"), job("b"), job("c"), job("d")], max_failures=1)
    assert plan.take_due(0, 2) == [(0, 1), (1, 1)]
    plan.record(0, outcome("a", Status.FAILED), now=1)
    assert plan.stopped and plan.take_due(1, 10) == [] and plan.next_due() is None
    cancelled = plan.cancel_waiting()
    assert [r.name for r in cancelled] == ["c", "d"]
    assert all(r.status is Status.CANCELLED and r.attempts == 0 for r in cancelled)
    assert not plan.finished  # b still runs
    plan.record(1, outcome("b", Status.CANCELLED), now=2)
    assert plan.finished


def test_failures_that_will_be_retried_do_not_count_towards_max_failures() -> None:
    plan = Plan([job("a", retries=1), job("b")], max_failures=1)
    plan.take_due(0, 2)
    assert plan.record(0, outcome("a", Status.FAILED), now=0) == []
    assert not plan.stopped


def test_stop_prevents_pending_retries() -> None:
    plan = Plan([job("a", retries=3)])
    plan.take_due(0, 1)
    plan.stop()
    (final,) = plan.record(0, outcome("a", Status.FAILED), now=0)
    assert final.status is Status.FAILED


def test_job_waiting_for_retry_keeps_its_attempt_count_when_cancelled() -> None:
    plan = Plan([job("a", retries=3, retry_delay=100)])
    plan.take_due(0, 1)
    plan.record(0, outcome("a", Status.FAILED), now=0)
    plan.stop()
    (cancelled,) = plan.cancel_waiting()
    assert cancelled.attempts == 1 and plan.finished


def test_final_result_takes_the_job_name() -> None:
    plan = Plan([job("real-name")])
    plan.take_due(0, 1)
    (final,) = plan.record(0, JobResult(name="?", status=Status.FAILED, attempts=1), now=0)
    assert final.name == "real-name"


def test_a_due_retry_goes_before_jobs_not_yet_started() -> None:
    plan = Plan([job("a", retries=1), job("b"), job("c")])
    assert plan.take_due(0, 1) == [(0, 1)]
    plan.record(0, outcome("a", Status.FAILED), now=5)
    assert plan.take_due(5, 2) == [(0, 2), (1, 1)]


def test_next_due_is_now_while_fresh_jobs_wait() -> None:
    plan = Plan([job("a"), job("b")])
    plan.take_due(0, 1)
    assert plan.next_due() == float("-inf")
    plan.take_due(0, 1)
    assert plan.next_due() is None


def dep(name: str, *deps: str, **fields: object) -> Job:
    return job(name, depends_on=list(deps), **fields)


def test_dependents_start_only_after_their_dependencies_succeed() -> None:
    plan = Plan([dep("a"), dep("b", "a"), dep("c", "a", "b"), dep("d")])
    assert plan.take_due(0, 10) == [(0, 1), (3, 1)]  # only the ready ones
    plan.record(0, outcome("a", Status.OK), now=1)
    assert plan.take_due(1, 10) == [(1, 1)]
    plan.record(1, outcome("b", Status.OK), now=2)
    assert plan.take_due(2, 10) == [(2, 1)]


def test_failure_skips_dependents_transitively_and_the_rest_goes_on() -> None:
    plan = Plan([dep("a"), dep("b", "a"), dep("c", "b"), dep("d"), dep("e", "d")])
    plan.take_due(0, 10)
    finals = plan.record(0, outcome("a", Status.TIMEOUT), now=1)
    assert [(r.name, r.status) for r in finals] == [("a", Status.TIMEOUT), ("b", Status.SKIPPED), ("c", Status.SKIPPED)]
    assert finals[2].error == "dependency 'b' did not succeed" and finals[2].attempts == 0
    plan.record(3, outcome("d", Status.OK), now=1)
    assert plan.take_due(1, 10) == [(4, 1)]


def test_retries_happen_before_dependents_are_skipped() -> None:
    plan = Plan([dep("a", retries=1), dep("b", "a")])
    plan.take_due(0, 10)
    assert plan.record(0, outcome("a", Status.FAILED), now=0) == []
    assert plan.take_due(0, 10) == [(0, 2)]
    plan.record(0, outcome("a", Status.OK, 2), now=0)
    assert plan.take_due(0, 10) == [(1, 1)]


def test_satisfied_dependencies_come_from_an_earlier_run() -> None:
    plan = Plan([dep("b", "a")], satisfied={"a"})
    assert plan.take_due(0, 10) == [(0, 1)]


def test_jobs_waiting_on_dependencies_are_cancelled_on_stop() -> None:
    plan = Plan([dep("a"), dep("b", "a")])
    plan.take_due(0, 10)
    plan.stop()
    assert [r.name for r in plan.cancel_waiting()] == ["b"]


def test_dependency_problems_unknown_and_cycles() -> None:
    jobs = [dep("a", "c"), dep("b", "a"), dep("c", "b"), dep("d", "nope"), dep("e", "e")]
    assert dependency_problems(jobs) == [
        (3, "job 'd': depends on unknown job 'nope'"),
        (0, "job 'a': dependency cycle a -> c -> b -> a"),
        (4, "job 'e': dependency cycle e -> e"),
    ]
    assert dependency_problems([dep("x", "done-before")], known={"done-before"}) == []


def test_long_chain_has_no_recursion_limit() -> None:
    jobs = [dep("j0")] + [dep(f"j{i}", f"j{i-1}") for i in range(1, 5000)]
    assert dependency_problems(jobs) == []


def test_a_job_passed_over_for_resources_goes_before_later_ones() -> None:
    # Every job ready at once, in file order: the plan walks them with a
    # cursor; one passed over (it did not fit) must still come before the
    # jobs after it once it fits.
    from taskrunner.resources import ResourcePool

    jobs = [job("small"), job("wide", resources={"cpu": 2}), *(job(f"later-{n}") for n in range(3))]
    plan = Plan(jobs, resources=ResourcePool({"cpu": 2}))
    assert plan.take_due(now=0, limit=1) == [(0, 1)]  # small holds one cpu: wide does not fit
    assert [index for index, _ in plan.take_due(now=0, limit=1)] == [2]  # later-0 fills the gap
    plan.record(0, outcome("small", Status.OK), now=0)
    plan.record(2, outcome("later-0", Status.OK), now=0)
    assert [index for index, _ in plan.take_due(now=0, limit=1)] == [1]  # wide, before later-1


def test_plan_results_and_the_compact_store_agree() -> None:
    plan = Plan([job("a"), job("b")])
    plan.take_due(now=0, limit=2)
    plan.record(1, outcome("b", Status.FAILED), now=0)
    first, second = plan.results()
    assert first is None and second is not None and (second.name, second.status) == ("b", Status.FAILED)
    assert plan.final.get(1) == second and plan.final.status(1) is Status.FAILED and not plan.finished
