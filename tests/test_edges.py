"""The edges of the engine, driven through real scripts and the real command:
exit never hangs, Ctrl-C reaches the caller, a call cannot spoil its worker,
nothing starts after a stop, statuses tell the truth."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_DIR, CliRunner, write

pytestmark = pytest.mark.timeout(120)

TEN = "[taskrunner.Job(name=f'j{i}', run='sleep 0.3') for i in range(10)]"


def start_script(cli: CliRunner, source: str) -> subprocess.Popen[str]:
    script = write(cli.workdir / "script.py", source)
    env = {**cli.env, "PYTHONPATH": f"{Path(__file__).parent}:{REPO_DIR}"}
    return subprocess.Popen([sys.executable, str(script)], cwd=cli.workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)


def finish(proc: subprocess.Popen[str], within: float) -> tuple[str, str]:
    started = time.monotonic()
    try:
        out, err = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the script did not exit within {within} s")
    assert time.monotonic() - started <= within
    return out, err


def statuses(path: Path) -> dict[str, str]:
    return {line["name"]: line["status"] for line in map(json.loads, path.read_text().splitlines())}


@pytest.mark.parametrize("ending", ["falls off the end", "sys.exit(0)", "del and gc"])
def test_an_abandoned_iter_results_never_hangs_the_exit(cli: CliRunner, ending: str) -> None:
    end = {"falls off the end": "", "sys.exit(0)": "sys.exit(0)",
           "del and gc": "del results\n    import gc; gc.collect()\n    print('after gc')"}[ending]
    proc = start_script(cli, f"""
import sys, taskrunner
if __name__ == "__main__":
    results = taskrunner.Runner(workers=2, results="r.jsonl", progress=False).iter_results({TEN})
    print(next(results).name)
    {end}
""")
    _out, err = finish(proc, within=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    found = statuses(cli.workdir / "r.jsonl")
    assert len(found) == 10 and "cancelled" in found.values()


@pytest.mark.parametrize("api", ["run", "iter_results"])
def test_ctrl_c_in_a_script_records_everything_then_raises_keyboard_interrupt(cli: CliRunner, api: str) -> None:
    call = ("taskrunner.run(jobs, workers=2, results='r.jsonl', progress=False)" if api == "run" else
            "[r for r in taskrunner.Runner(workers=2, results='r.jsonl', progress=False).iter_results(jobs)]")
    proc = start_script(cli, f"""
import taskrunner
if __name__ == "__main__":
    jobs = [taskrunner.Job(name=f'j{{i}}', run='sleep 5') for i in range(4)]
    try:
        {call}
    except KeyboardInterrupt:
        print("KeyboardInterrupt after", len(open("r.jsonl").read().splitlines()), "lines")
        raise SystemExit(42)
    print("returned normally")
""")
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = finish(proc, within=15)
    assert proc.returncode == 42, (out, err)
    assert "KeyboardInterrupt after 4 lines" in out
    assert set(statuses(cli.workdir / "r.jsonl").values()) == {"cancelled"}


def test_a_call_that_removes_its_folder_does_not_spoil_the_worker(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: tmp, call: 'jobs:leave_removed_folder'}\n" + "".join(
        f"  - {{name: c{i}, call: 'jobs:process_state', depends_on: [tmp]}}\n" for i in range(20)))
    done = cli.run("run", str(jobs), "-w", "1")
    assert done.returncode == 0, done.stderr
    lines = {line["name"]: line for line in map(json.loads, (cli.workdir / ".taskrunner/jobs.results.jsonl")
                                                .read_text().splitlines())}
    assert all(lines[f"c{i}"]["status"] == "ok" for i in range(20))
    states = {json.dumps(lines[f"c{i}"]["value"], sort_keys=True) for i in range(20)}
    assert len(states) == 1, states  # every call started from the same state
    state = json.loads(states.pop())
    assert state["cwd"] == str(cli.workdir) and state["umask"] == 0o022
    assert state["sigterm"] != "job's own" and "LEFT_BY_JOB" not in state["env"]


def test_nothing_starts_after_ctrl_c_not_even_a_held_chunk(cli: CliRunner) -> None:
    stamps = cli.workdir / "starts"
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: t{i}, call: 'jobs:stamp_and_sleep', args: [{str(stamps)!r}, 0.05]}}\n" for i in range(400)))
    proc = cli.start("-v", "run", str(jobs), "-w", "2", start_new_session=True)
    deadline = time.monotonic() + 30
    while (not stamps.exists() or len(stamps.read_text().splitlines()) < 40) and time.monotonic() < deadline:
        time.sleep(0.01)
    sent = time.time()
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    # Measured from when the coordinator got the signal (its -v log says), not
    # from when we sent it: on a busy machine the coordinator may only run
    # a while later, and a job starting before then is not late.
    found = re.search(r"SIGINT received at (\d+\.\d+)", stderr)
    assert found, stderr
    received = float(found.group(1))
    assert sent <= received < sent + 5
    starts = [float(line) for line in stamps.read_text().split()]
    late = [round(start - received, 4) for start in starts if start > received + 0.02]
    assert not late, f"{len(late)} attempts started after the coordinator got SIGINT: {late[:10]}"
    results = statuses(cli.workdir / ".taskrunner/jobs.results.jsonl")
    assert len(results) == 400 and sum(s == "ok" for s in results.values()) <= len(starts)
    assert set(results.values()) == {"ok", "cancelled"}


def test_fail_fast_starts_nothing_after_the_failure_is_seen(cli: CliRunner) -> None:
    stamps = cli.workdir / "starts"
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: bad, call: 'jobs:fail'}\n" + "".join(
        f"  - {{name: t{i}, call: 'jobs:stamp_and_sleep', args: [{str(stamps)!r}, 0.002]}}\n" for i in range(3000)))
    done = cli.run("run", str(jobs), "-w", "2", "--fail-fast")
    assert done.returncode == 1
    results = statuses(cli.workdir / ".taskrunner/jobs.results.jsonl")
    started = len(stamps.read_text().split()) if stamps.exists() else 0
    assert sum(s == "ok" for s in results.values()) <= started
    # Workers start what they hold until the failure reaches the coordinator
    # (a few ms); not the 3,000 jobs, nor the rest of every chunk after it.
    assert started < 300, f"{started} jobs started despite --fail-fast"


def test_a_job_that_kills_its_worker_is_crashed_not_cancelled(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: k, run: 'kill -TERM $PPID; sleep 3'}\n"
                 "  - {name: after, run: 'true', depends_on: [k]}\n  - {name: other, run: 'true'}\n")
    done = cli.run("run", str(jobs), "-w", "1")
    assert done.returncode == 1
    results = statuses(cli.workdir / ".taskrunner/jobs.results.jsonl")
    assert results == {"k": "crashed", "after": "skipped", "other": "ok"}


def test_names_and_errors_are_printed_with_control_characters_escaped(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml",
                 'jobs:\n  - {name: "evil\\e[31m\\rname", run: "printf \'bad\\\\033[2J\\\\n\' >&2; exit 3"}\n')
    done = cli.run("run", str(jobs))
    assert done.returncode == 1
    assert "\x1b" not in done.stderr and "\r" not in done.stderr, repr(done.stderr)
    assert "$'evil\\e[31m\\rname'" in done.stderr and "bad\\x1b[2J" in done.stderr


@pytest.mark.parametrize("how", ["command", "script", "bad input", "bad option"])
def test_when_the_run_returns_no_process_of_it_remains(cli: CliRunner, how: str) -> None:
    """Not even multiprocessing's fork server or resource tracker, for a moment."""
    from conftest import tagged_processes

    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n  - {name: b, call: 'jobs:add', args: [1, 2]}\n")
    if how == "script":
        script = write(cli.workdir / "script.py", "import taskrunner\n"
                       "taskrunner.run(taskrunner.load_jobs('jobs.yaml'), workers=2, progress=False)\n")
        proc = subprocess.Popen([sys.executable, str(script)], cwd=cli.workdir, stdin=subprocess.DEVNULL,
                                env={**cli.env, "PYTHONPATH": f"{Path(__file__).parent}:{REPO_DIR}"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    else:
        # (A bad option stops the command before it runs, after the fork server started.)
        args = ["run", str(jobs)] + {"bad input": ["--results", str(jobs)], "bad option": ["--workers", "zero"]}.get(how, [])
        # No pipes: waiting on them would also wait for whoever inherited them.
        proc = subprocess.Popen(cli.command(*args), cwd=cli.workdir, env=cli.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    proc.wait(timeout=60)
    assert proc.returncode == (2 if how.startswith("bad") else 0)
    left = [p.cmdline() for p in tagged_processes(cli.tag)]
    assert not left, f"still running when the run returned: {left}"


def test_an_unguarded_script_with_shell_and_importable_jobs_just_works(cli: CliRunner) -> None:
    proc = start_script(cli, """
import taskrunner
print("body runs")
jobs = [taskrunner.Job(name="sh", run="echo hi"), taskrunner.Job(name="call", call="jobs:add", args=(1, 2))]
report = taskrunner.run(jobs, workers=2, progress=False, results="r.jsonl")
print("ok" if report.ok else "not ok", report["call"].value)
""")
    out, err = finish(proc, within=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["body runs", "ok 3"]
    assert err == ""


def test_an_unguarded_script_whose_function_lives_in_it_runs_and_its_body_runs_once(cli: CliRunner) -> None:
    """The function travels by value: workers never import the script (issue 26)."""
    proc = start_script(cli, """
import json, taskrunner
def square(x):
    return x * x
print("body runs")
report = taskrunner.run([taskrunner.Job(name="sq", call=square, args=(3,))], workers=2, progress=False,
                        results="r.jsonl")
print(report["sq"].value)
""")
    out, err = finish(proc, within=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["body runs", "9"]
    assert (cli.workdir / "r.jsonl").exists()


def test_verbose_shows_supervision_events(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: crash, call: 'jobs:kill_self'}\n  - {name: ok, run: 'true'}\n")
    quiet = cli.run("run", str(jobs), "-w", "1")
    assert "taskrunner.local" not in quiet.stderr
    loud = cli.run("-v", "run", str(jobs), "-w", "1")
    assert loud.returncode == 1
    assert "taskrunner: taskrunner.local: worker w1-" in loud.stderr and "died (signal SIGKILL)" in loud.stderr
    assert "replacement" in loud.stderr


HELD_HELPERS_SCRIPT = """
import multiprocessing, os, signal, sys, time, warnings
import taskrunner
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on purpose

children = []

def fork_a_holder(result):
    # A long-lived child forked while the helpers run holds copies of their
    # pipes (as joblib's reusable workers do): they cannot see us let go.
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)

if __name__ == "__main__":
    if sys.argv[1] == "theirs":
        multiprocessing.get_context("forkserver").Pool(1).terminate()  # the program's own helpers
        server = multiprocessing.forkserver._forkserver._forkserver_pid
    jobs = [taskrunner.Job(name="a", run="true")]
    started = time.monotonic()
    holder = fork_a_holder if sys.argv[1] == "ours" else None
    taskrunner.run(jobs, workers=1, progress=False, results="r.jsonl", on_result=holder)
    print(f"{time.monotonic() - started:.2f}")
    if sys.argv[1] == "theirs":
        os.kill(server, 0)  # still running: not ours to stop
        print("their fork server kept")
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
"""


@pytest.mark.parametrize("whose", ["ours", "theirs"])
def test_a_run_returns_although_a_forked_child_holds_the_helpers_pipes(cli: CliRunner, whose: str) -> None:
    """ours: helpers the run started, a child forked meanwhile holds their
    pipes: the run returns anyway. theirs: helpers the program started
    before the run are left running."""
    script = write(cli.workdir / "script.py", HELD_HELPERS_SCRIPT)
    env = {**cli.env, "PYTHONPATH": f"{Path(__file__).parent}:{REPO_DIR}"}
    done = subprocess.run([sys.executable, str(script), whose], cwd=cli.workdir, env=env, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert float(lines[0]) < 10, f"the run took {lines[0]} s to return"
    if whose == "theirs":
        assert lines[1:] == ["their", "fork", "server", "kept"]
