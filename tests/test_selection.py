"""Selection (--only/--tag) and dependency ordering: pure functions."""

from __future__ import annotations

from taskrunner.engine.selection import dependency_order, select_jobs, unmatched
from taskrunner.model import Job


def job(name: str, *deps: str, tags: tuple[str, ...] = ()) -> Job:
    return Job(name=name, run="true", depends_on=deps, tags=tags)


JOBS = [job("fetch"), job("build", "fetch"), job("test", "build", tags=("ci",)),
        job("docs", tags=("ci", "docs")), job("deploy", "test", "docs")]


def names(jobs: list[Job]) -> list[str]:
    return [j.name for j in jobs]


def test_no_filter_selects_everything() -> None:
    assert names(select_jobs(JOBS)) == names(JOBS)


def test_only_pulls_in_transitive_dependencies_in_file_order() -> None:
    assert names(select_jobs(JOBS, only=["dep*"])) == names(JOBS)
    assert names(select_jobs(JOBS, only=["test"])) == ["fetch", "build", "test"]
    assert names(select_jobs(JOBS, only=["docs", "fetch"])) == ["fetch", "docs"]


def test_tags_union_with_only() -> None:
    assert names(select_jobs(JOBS, tags=["docs"])) == ["docs"]
    assert names(select_jobs(JOBS, only=["fetch"], tags=["ci"])) == ["fetch", "build", "test", "docs"]


def test_unmatched_filters_are_reported() -> None:
    assert unmatched(JOBS, only=["nope*", "te?t"], tags=["ci", "gone"]) == ["nope*", "gone"]


def test_dependency_order_is_stable_and_valid() -> None:
    shuffled = [JOBS[4], JOBS[2], JOBS[0], JOBS[3], JOBS[1]]
    ordered = names(dependency_order(shuffled))
    assert ordered == ["fetch", "docs", "build", "test", "deploy"]
    for j in JOBS:
        assert all(ordered.index(d) < ordered.index(j.name) for d in j.depends_on)
