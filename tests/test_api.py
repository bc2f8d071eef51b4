"""The Python API, driven from real scripts run as subprocesses (as users do)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import taskrunner
from conftest import REPO_DIR, CliRunner, write

pytestmark = pytest.mark.timeout(120)


def run_script(cli: CliRunner, source: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    script = write(cli.workdir / "script.py", source)
    env = {**cli.env, "PYTHONPATH": f"{Path(__file__).parent}:{REPO_DIR}"}
    return subprocess.run([sys.executable, str(script)], cwd=cli.workdir, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def test_public_surface() -> None:
    assert sorted(taskrunner.__all__) == [
        "Executor", "Job", "JobFailed", "JobResult", "ResultsFileBusy", "ResultsFileError", "ResultsWriteError",
        "RunReport", "Runner", "SpecError", "SpecProblem", "Status", "TaskrunnerError", "WorkerCrashed",
        "WorkerError", "__version__", "load_jobs", "run",
    ]
    for name in taskrunner.__all__:
        obj = getattr(taskrunner, name)
        assert obj.__doc__, f"{name} has no docstring"
    with pytest.raises(AttributeError):
        taskrunner.nothing_here  # noqa: B018


def test_script_with_main_function_dependencies_and_report(cli: CliRunner) -> None:
    done = run_script(cli, '''
import json, taskrunner

def square(x):
    return x * x

if __name__ == "__main__":
    jobs = [taskrunner.Job(name=f"sq-{n}", call=square, args=(n,), timeout=60) for n in range(5)]
    jobs.append(taskrunner.Job(name="index", run="echo indexed", depends_on=[j.name for j in jobs]))
    seen = []
    report = taskrunner.run(jobs, workers=2, results="out.jsonl", on_result=lambda r: seen.append(r.name))
    print(json.dumps({
        "ok": report.ok, "values": [r.value for r in report][:5], "index": report["index"].status.value,
        "last_seen": seen[-1], "seen": len(seen), "counts": report.counts,
        "json_ok": json.loads(report.to_json())["ok"],
    }))
''')
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out == {
        "ok": True, "values": [0, 1, 4, 9, 16], "index": "ok", "last_seen": "index", "seen": 6,
        "counts": {"ok": 6, "failed": 0, "timeout": 0, "crashed": 0, "skipped": 0, "cancelled": 0,
                   "uptodate": 0},
        "json_ok": True,
    }
    assert len((cli.workdir / "out.jsonl").read_text().splitlines()) == 6


def test_lambdas_and_the_scripts_own_functions_run_by_value(cli: CliRunner) -> None:
    done = run_script(cli, '''
import threading, taskrunner
def square(x):
    return x * x
report = taskrunner.run([taskrunner.Job(name="l", call=lambda: 1), taskrunner.Job(name="s", call=square, args=(3,))],
                        workers=1, results="out.jsonl", progress=False)
print(report["l"].value, report["s"].value)
try:
    taskrunner.run([taskrunner.Job(name="lock", call=square, args=(threading.Lock(),))], workers=1, results="out.jsonl")
except TypeError as error:
    print(error)
''')
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == "1 9"
    assert "cannot be sent to a worker process" in second and "not even by value" in second


def test_break_out_of_iter_results_cancels_and_leaves_nothing(cli: CliRunner) -> None:
    done = run_script(cli, '''
import json, taskrunner
if __name__ == "__main__":
    jobs = [taskrunner.Job(name="quick", run="true")]
    jobs += [taskrunner.Job(name=f"slow{i}", run="sleep 60") for i in range(3)]
    runner = taskrunner.Runner(workers=4, results="out.jsonl", progress=False)
    for result in runner.iter_results(jobs):
        print(result.name, result.status.value)
        break
    print(json.dumps(sorted(json.loads(l)["status"] for l in open("out.jsonl"))))
''')
    assert done.returncode == 0, done.stderr
    first, statuses = done.stdout.splitlines()
    assert first == "quick ok"
    assert json.loads(statuses) == ["cancelled", "cancelled", "cancelled", "ok"]


def test_exception_in_the_loop_and_context_manager_clean_up(cli: CliRunner) -> None:
    done = run_script(cli, '''
import taskrunner
if __name__ == "__main__":
    jobs = [taskrunner.Job(name="quick", run="true"), taskrunner.Job(name="slow", run="sleep 60")]
    try:
        with taskrunner.Runner(workers=2, results="out.jsonl", progress=False) as runner:
            for result in runner.iter_results(jobs):
                raise RuntimeError("stop here")
    except RuntimeError as error:
        print("caught", error)
''')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "caught stop here"
    statuses = {line["name"]: line["status"] for line in map(json.loads, (cli.workdir / "out.jsonl").read_text().splitlines())}
    assert statuses == {"quick": "ok", "slow": "cancelled"}


def test_load_jobs_raises_spec_error_naming_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path / "jobs.yaml", "jobs:\n  - {name: a, rnu: x}\n")
    with pytest.raises(taskrunner.SpecError) as caught:
        taskrunner.load_jobs(path)
    assert caught.value.line == 2 and "unknown key 'rnu'" in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"run": "x", "call": "m:f"}, ValueError, "give exactly one of run= or call="),
        ({}, ValueError, "give exactly one of run= or call="),
        ({"run": "x", "timeout": 0}, ValueError, "timeout must be a number of seconds > 0"),
        ({"run": "x", "timeout": "5 min"}, ValueError, "timeout must be a number of seconds > 0"),
        ({"run": "x", "retries": 1.5}, ValueError, "retries must be a whole number >= 0"),
        ({"run": "x", "retry_delay": -1}, ValueError, "retry_delay must be a number of seconds >= 0"),
        ({"run": "x", "args": (1,)}, ValueError, "args=/kwargs= go with call=, not run="),
        ({"call": 42}, TypeError, "call= must be 'module:function' or a function"),
        ({"run": "x", "depends_on": [1]}, TypeError, "depends_on= must be a name or a list of names"),
    ],
)
def test_job_validates_when_made(fields: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(f"job 'j': {message}")):
        taskrunner.Job(name="j", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"workers": 0}, "workers must be >= 1"), ({"max_failures": 0}, "max_failures must be >= 1"),
     ({"timeout": -1}, "timeout must be > 0"), ({"retries": -1}, "retries must be >= 0")],
)
def test_runner_options_are_validated(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        taskrunner.Runner(**options)  # type: ignore[arg-type]


def test_job_durations_are_written_as_in_the_job_file() -> None:
    """One duration grammar (issue 26): numbers, strings such as "250ms", timedeltas."""
    from datetime import timedelta

    Job = taskrunner.Job
    assert Job(name="a", run="true", timeout="5s").timeout == 5.0
    assert Job(name="a", run="true", timeout="1h30m").timeout == 5400.0
    assert Job(name="a", run="true", retry_delay="250ms").retry_delay == 0.25
    assert Job(name="a", run="true", timeout=timedelta(minutes=1)).timeout == 60.0
