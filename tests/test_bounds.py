"""Numbers are bounded where they enter and globs end (issue 24, items 6-7):
one line and exit 2 for what cannot work, and what is accepted never
overflows later."""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import CliRunner, write
from taskrunner import Job, Runner

HUGE = "9" * 400


def one_line_exit_2(done: object) -> str:
    err: str = done.stderr  # type: ignore[attr-defined]
    assert done.returncode == 2, err  # type: ignore[attr-defined]
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_a_thirty_day_timeout_runs_and_one_past_ten_years_is_refused(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'sleep 0.2'}\n")
    done = cli.run("run", str(jobs), "--timeout", "30d")
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(text) for text in (cli.workdir / ".taskrunner/jobs.results.jsonl").read_text().splitlines()]
    assert line["status"] == "ok"
    assert "'3651d' is more than 10 years" in cli.run("run", str(jobs), "--timeout", "3651d").stderr
    with pytest.raises(ValueError, match="at most 10 years"):
        Runner(1, timeout=1e20)


@pytest.mark.parametrize("field", [f"timeout: {HUGE}", f"memory_limit: {HUGE}", f"retry_delay: {HUGE}",
                                   f"resources: {{cpu: {HUGE}}}", f"matrix: {{n: {{range: [0, 1{HUGE}]}}}}"])
def test_absurd_numbers_in_a_job_file_are_one_line(cli: CliRunner, field: str) -> None:
    jobs = write(cli.workdir / "jobs.yaml", f"jobs:\n  - name: a\n    run: 'true'\n    {field}\n")
    for command in ("validate", "run"):
        err = one_line_exit_2(cli.run(command, str(jobs)))
        assert err.startswith("jobs.yaml:") or str(jobs) in err


def test_a_results_line_with_an_absurd_time_is_one_line(cli: CliRunner) -> None:
    line = {"name": "a", "status": "ok", "started": int(HUGE), "finished": 1.0, "attempts": 1, "history": []}
    (cli.workdir / "r.jsonl").write_text(json.dumps(line) + "\n")
    err = one_line_exit_2(cli.run("report", "r.jsonl"))
    assert err.startswith("r.jsonl:1: 'started' must be a time"), err


def test_memfree_above_the_machine_is_refused_at_once(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    started = time.monotonic()
    err = one_line_exit_2(cli.run("run", str(jobs), "--memfree", "10P", timeout=30))
    assert "is more than this machine's memory" in err and time.monotonic() - started < 20


def test_a_recursive_glob_never_follows_links_to_folders(cli: CliRunner) -> None:
    folder = cli.workdir / "d" / "sub"
    folder.mkdir(parents=True)
    (cli.workdir / "d" / "a.log").touch()
    (folder / "b.log").touch()
    os.symlink("..", cli.workdir / "d" / "up1")
    os.symlink("..", cli.workdir / "d" / "up2")
    os.symlink("sub", cli.workdir / "d" / "same")
    jobs = write(cli.workdir / "jobs.yaml", 'jobs:\n  - name: l-{f}\n    run: "true"\n    matrix: {f: {glob: "d/**/*.log"}}\n')
    done = cli.run("list", str(jobs), timeout=30)
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["l-d/a.log", "l-d/sub/b.log"]
    bounded = cli.run("validate", str(jobs), "--max-jobs", "1", timeout=30)
    assert bounded.returncode == 2 and "gives more than the limit of 1 values" in bounded.stderr


def test_a_job_file_number_too_big_for_a_float_is_refused_through_the_api_too() -> None:
    with pytest.raises((TypeError, ValueError)):
        Job(name="a", run="true", timeout=int(HUGE))
