"""The engine with real worker processes: concurrency, crashes, timeouts, results file."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

import taskrunner
from conftest import ignored_signals_mask
from taskrunner import Job, Status

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("no_leftovers")]


def run(tmp_path: Path, jobs: list[Job], **options: object) -> taskrunner.RunReport:
    options.setdefault("workers", 2)
    return taskrunner.run(
        jobs, results=str(tmp_path / "results.jsonl"), log_dir=str(tmp_path / "logs"), progress=False, **options
    )


def results_file(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]


def rendezvous(folder: Path, name: str, count: int) -> str:
    """A command that only succeeds if `count` such commands run at the same time."""
    return (
        f"touch {folder}/{name}; i=0; "
        f'while [ $(ls {folder} | wc -l) -lt {count} ]; do i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05; done'
    )


def test_jobs_run_concurrently_on_several_workers(tmp_path: Path) -> None:
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    jobs = [Job(name=f"j{i}", run=rendezvous(meeting, f"j{i}", 3)) for i in range(3)]
    report = run(tmp_path, jobs, workers=3)
    assert report.ok, [(r.name, r.error) for r in report]
    assert len({r.worker for r in report}) == 3


def test_results_file_has_one_line_per_job_with_contract_fields(tmp_path: Path) -> None:
    jobs = [
        Job(name="ok", run="true"),
        Job(name="bad", run="echo oops >&2; exit 4"),
        Job(name="sum", call="jobs:add", args=(2, 3)),
    ]
    report = run(tmp_path, jobs)
    lines = results_file(tmp_path)
    assert sorted(line["name"] for line in lines) == ["bad", "ok", "sum"]
    contract = {"name", "status", "returncode", "value", "error", "attempts", "started", "finished", "duration", "worker"}
    assert all(contract <= set(line) for line in lines)
    by_name = {line["name"]: line for line in lines}
    assert by_name["bad"]["status"] == "failed" and by_name["bad"]["returncode"] == 4
    assert by_name["bad"]["stderr_tail"] == "oops"
    assert by_name["sum"]["value"] == 5 and by_name["sum"]["returncode"] is None
    assert [r.name for r in report] == ["ok", "bad", "sum"]  # job order
    assert not report.ok and report.counts["failed"] == 1 and report.counts["ok"] == 2


@pytest.mark.parametrize("crash", ["jobs:exit_hard", "jobs:kill_self"])
def test_crashing_call_is_recorded_and_the_run_goes_on(tmp_path: Path, crash: str) -> None:
    jobs = [Job(name="crash", call=crash)] + [Job(name=f"after{i}", call="jobs:add", args=(i, 1)) for i in range(6)]
    report = run(tmp_path, jobs)
    assert report["crash"].status is Status.CRASHED
    assert "died" in (report["crash"].error or "")
    assert all(report[f"after{i}"].value == i + 1 for i in range(6))


def test_many_crashes_in_a_row_do_not_hang(tmp_path: Path) -> None:
    jobs = [Job(name=f"crash{i}", call="jobs:exit_hard") for i in range(25)] + [Job(name="last", run="true")]
    report = run(tmp_path, jobs)
    assert report.counts["crashed"] == 25 and report["last"].ok
    assert len(results_file(tmp_path)) == 26


def test_crash_counts_as_a_failure_for_retries(tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"
    code = f"import os; p='{marker}'; (os.path.exists(p)) or (open(p,'w').close(), os._exit(1))"
    report = run(tmp_path, [Job(name="flaky", call="builtins:exec", args=(code,), retries=1)])
    assert report["flaky"].ok and report["flaky"].attempts == 2


def test_call_timeout_kills_and_replaces_the_worker(tmp_path: Path) -> None:
    jobs = [Job(name="slow", call="jobs:spin", args=(60,), timeout=0.5)]
    jobs += [Job(name=f"next{i}", call="jobs:add", args=(i, i)) for i in range(4)]
    report = run(tmp_path, jobs)
    assert report["slow"].status is Status.TIMEOUT and "timed out after 0.5s" in (report["slow"].error or "")
    assert all(report[f"next{i}"].ok for i in range(4))


def test_command_timeout(tmp_path: Path) -> None:
    report = run(tmp_path, [Job(name="slow", run="sleep 30", timeout=0.3), Job(name="quick", run="true")])
    assert report["slow"].status is Status.TIMEOUT and report["quick"].ok


def test_global_timeout_and_retries_fill_jobs_without_their_own(tmp_path: Path) -> None:
    jobs = [Job(name="a", run="sleep 30"), Job(name="b", run="sleep 30", timeout=0.2)]
    report = run(tmp_path, jobs, timeout=0.4, retries=1)
    assert report["a"].status is Status.TIMEOUT and report["a"].attempts == 2
    assert report["b"].status is Status.TIMEOUT and report["b"].attempts == 2


def test_unpicklable_callable_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="job 'lock': its function or arguments .* not even by value"):
        run(tmp_path, [Job(name="ok", run="true"), Job(name="lock", call=print, args=(threading.Lock(),))])
    assert not (tmp_path / "results.jsonl").exists()


def test_dependencies_order_and_skip(tmp_path: Path) -> None:
    order = tmp_path / "order"
    jobs = [
        Job(name="c", run=f"echo c >> {order}", depends_on=["b"]),
        Job(name="b", run=f"sleep 0.2; echo b >> {order}", depends_on="a"),
        Job(name="a", run=f"echo a >> {order}"),
        Job(name="broken", run="exit 1"),
        Job(name="after-broken", run="true", depends_on=["broken"]),
        Job(name="after-after", run="true", depends_on=["after-broken", "a"]),
    ]
    report = run(tmp_path, jobs, workers=3)
    assert order.read_text().split() == ["a", "b", "c"]
    assert report["after-broken"].status is Status.SKIPPED and report["after-after"].status is Status.SKIPPED
    assert report.counts == {"ok": 3, "failed": 1, "timeout": 0, "crashed": 0, "skipped": 2, "cancelled": 0,
                             "uptodate": 0}
    assert len(results_file(tmp_path)) == 6


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([Job(name="a", run="x", depends_on="b"), Job(name="b", run="x", depends_on="a")], "dependency cycle a -> b -> a"),
        ([Job(name="a", run="x", depends_on="ghost")], "depends on unknown job 'ghost'"),
        ([Job(name="a", run="x"), Job(name="a", run="y")], "duplicate job name 'a'"),
    ],
)
def test_inconsistent_jobs_are_refused_before_anything_runs(tmp_path: Path, jobs: list[Job], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run(tmp_path, jobs)
    assert not (tmp_path / "results.jsonl").exists()


class _Unsendable:
    """An argument with a stable text (so a job holding it can be kept) that cannot be pickled."""

    def __repr__(self) -> str:
        return "_Unsendable()"

    def __reduce__(self) -> str:
        raise TypeError("not sendable")


def test_only_the_jobs_that_will_run_are_checked_for_sending(tmp_path: Path) -> None:
    """A job that cannot reach a worker is refused before anything runs; one
    that ``--resume`` keeps is never sent, so it is not pickled to check
    (a resume of 100,000 kept calls used to pickle-check every one)."""
    from taskrunner.jobhash import job_hash
    from taskrunner.model import JobResult
    from taskrunner.results.journal import result_line

    job = Job(name="a", call="jobs:echo", args=(_Unsendable(),))
    with pytest.raises(TypeError, match="cannot be sent to a worker"):
        run(tmp_path, [job])
    (tmp_path / "results.jsonl").write_text(result_line(JobResult("a", Status.OK, job_hash=job_hash(job))))
    report = run(tmp_path, [job], resume=True)
    assert report.ok and report.kept == 1
    with pytest.raises(TypeError, match="cannot be sent to a worker"):
        run(tmp_path, [job])  # (not kept: it would run)


def test_unpicklable_exception_and_big_value(tmp_path: Path) -> None:
    jobs = [
        Job(name="exc", call="jobs:raise_unpicklable"),
        Job(name="gen", call="jobs:generator"),
        Job(name="big", call="jobs:big_value", args=(50,)),
    ]
    report = run(tmp_path, jobs)
    assert report["exc"].status is Status.FAILED and "Unpicklable: first" in (report["exc"].error or "")
    assert report["gen"].ok and str(report["gen"].value).startswith("<generator")
    assert report["big"].ok and report["big"].value is None


def test_large_error_text_travels_through_a_spool_file(tmp_path: Path) -> None:
    report = run(tmp_path, [Job(name="long", call="jobs:fail", args=("y" * 100_000,))])
    assert report["long"].status is Status.FAILED and "y" * 100_000 in (report["long"].error or "")


def test_fail_fast_cancels_the_rest(tmp_path: Path) -> None:
    jobs = [Job(name="bad", run="exit 1"), Job(name="long", run="sleep 30")]
    jobs += [Job(name=f"later{i}", run="true") for i in range(10)]
    report = run(tmp_path, jobs, fail_fast=True)
    assert report["bad"].status is Status.FAILED
    assert report["long"].status is Status.CANCELLED
    assert report.counts["cancelled"] + report.counts["ok"] == 11
    assert len(results_file(tmp_path)) == 12


def test_log_files_cannot_escape_the_log_folder(tmp_path: Path) -> None:
    report = run(tmp_path, [Job(name="../../escape", run="echo hi; echo e >&2"), Job(name="a/b", run="echo there; echo e >&2")])
    assert report.ok
    logs = tmp_path / "logs"
    assert sorted(p.parent for p in logs.rglob("*")) == [logs] * 4
    assert not (tmp_path.parent / "escape.out").exists()


def test_missing_results_folder_is_created_and_unwritable_path_is_an_error(tmp_path: Path) -> None:
    report = taskrunner.run([Job(name="a", run="true")], results=str(tmp_path / "deep/er/r.jsonl"),
                            log_dir=str(tmp_path / "logs"), progress=False, workers=1)
    assert report.ok and (tmp_path / "deep/er/r.jsonl").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(taskrunner.TaskrunnerError, match="cannot write results file"):
        taskrunner.run([Job(name="a", run="true")], results=str(tmp_path / "file/r.jsonl"),
                       log_dir=str(tmp_path / "logs"), progress=False, workers=1)


def test_workers_never_see_sigint_noise(tmp_path: Path) -> None:
    # Workers run in their own process group, so a terminal's Ctrl-C reaches
    # only the coordinator; check their group differs from ours.
    report = run(tmp_path, [Job(name="pgid", call="os:getpgrp")], workers=1)
    assert report["pgid"].value != os.getpgrp()


def test_jobs_run_by_workers_do_not_inherit_ignored_signals(tmp_path: Path) -> None:
    # Workers ignore Ctrl-C, the fork server ignores INT/TERM/HUP; none of
    # that may leak into the commands (SigIgn bits: HUP=0, INT=1, TERM=14).
    # Only what this process itself ignores for INT/HUP (nohup, a background
    # job) is passed on, as a shell would.
    report = run(tmp_path, [Job(name="mask", run="grep SigIgn /proc/self/status")], workers=1)
    mask = ignored_signals_mask((tmp_path / "logs/mask.out").read_text())
    ours = ignored_signals_mask(Path("/proc/self/status").read_text())
    assert report.ok and mask == ours & ((1 << 0) | (1 << 1))
