"""Issue 29, items 3 and 6: a run starts only what it needs, and ends as soon as its plan does."""

from __future__ import annotations

from pathlib import Path

import jobs
import pytest

import taskrunner
from taskrunner import Job

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leftovers")]


def copy_jobs(folder: Path) -> list[Job]:
    return [Job(name=f"copy-{n}", run=f"cp src out{n}", cwd=str(folder), inputs="src", outputs=f"out{n}")
            for n in range(3)]


def test_a_run_with_nothing_to_run_starts_no_worker(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    (tmp_path / "src").write_text("x")

    def run() -> taskrunner.RunReport:
        return taskrunner.run(copy_jobs(tmp_path), workers=2, progress=False, results=str(tmp_path / "r.jsonl"),
                              initializer=jobs.note_start, initargs=(str(starts),))

    assert run().ok
    assert len(starts.read_text().split()) == 2  # the first run needed its two workers
    starts.unlink()
    report = run()
    assert report.ok and report.counts["uptodate"] == 3
    assert not starts.exists()  # every job was up to date: no worker started


def test_the_fork_server_skips_its_teardown_and_its_forked_children_keep_their_exit_codes() -> None:
    """Asked to exit, the server exits at once (the coordinator waits for it:
    tearing down every preloaded module took some 20 ms); a process forked
    from it (a worker's own child) that exits normally keeps its status."""
    import subprocess
    import sys

    script = (
        "import atexit, os, sys\n"
        "server = os.getpid()\n"
        "atexit.register(lambda: print('teardown ran in', 'server' if os.getpid() == server else 'child'))\n"
        "import taskrunner.backends.local.forkserver_setup\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    sys.exit(3)\n"
        "print('child exit', os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]), flush=True)\n"
        "sys.exit(0)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    out, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "child exit 3" in out  # the child ran its own exit, teardown and all
    assert "teardown ran in child" in out
    assert "server" not in out


def test_a_resume_that_keeps_every_job_starts_no_process(tmp_path: Path) -> None:
    """Mutant: a resume that ran nothing still started multiprocessing's fork
    server and resource tracker (and stopped them, and collected the garbage
    of a whole run): some 50 ms of a resume that keeps 100,000 results."""
    import subprocess
    import sys

    script = (
        "import resource, sys, taskrunner\n"
        "jobs = [taskrunner.Job(name=f'j{n}', run='true') for n in range(3)]\n"
        "report = taskrunner.run(jobs, workers=2, progress=False, results=sys.argv[1], resume=True)\n"
        "assert report.ok, report.counts\n"
        "print(report.kept, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )

    def kept_and_children() -> list[str]:
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "r.jsonl")], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    kept, children = kept_and_children()
    assert kept == "0" and children != "0"  # (the rusage sees the helpers and workers that ran)
    assert kept_and_children() == ["3", "0"]  # every job kept, and no process ever reaped


_FREED_OR_NOT = (
    "import atexit, sys, threading, time\n"
    "from taskrunner.cli.entry import exit_without_freeing, main\n"
    "class Made:\n"
    "    def __del__(self):\n"
    "        print('freed', flush=True)\n"
    "def command(how):\n"
    "    made = Made()  # what a command makes: freed at exit only if the exit frees it\n"
    "    atexit.register(print, 'exit hook ran')\n"
    "    print('unflushed output', end=' ')\n"
    "    if how == 'cli':\n"
    "        main()  # (sys.argv: a taskrunner command)\n"
    "    if how == 'thread':\n"
    "        threading.Thread(target=time.sleep, args=(0.2,)).start()  # not a daemon: Python waits for it\n"
    "    sys.exit('a message' if how == 'message' else 3)\n"
    "try:\n"
    "    command(sys.argv.pop(1))\n"
    "except SystemExit as done:\n"
    "    if sys.argv[1:2] != ['validate']:\n"
    "        exit_without_freeing(done.code)\n"
    "    raise\n"
)


@pytest.mark.parametrize(("how", "code", "freed"), [("cli", 0, False), ("code", 3, False), ("thread", 3, True),
                                                      ("message", 1, True)])
def test_a_command_exits_without_freeing_what_it_made(tmp_path: Path, how: str, code: int, freed: bool) -> None:
    """The taskrunner command ends as Python's exit would (exit hooks, output
    flushed, its exit code) without freeing its jobs and results one by one
    (100,000 jobs: some 30 ms after the summary), unless Python's own exit
    must do more: wait for a thread that is not a daemon, print a message."""
    import subprocess
    import sys

    job_file = tmp_path / "jobs.yaml"
    job_file.write_text("jobs:\n  - {name: a, run: 'true'}\n")
    command = [sys.executable, "-c", _FREED_OR_NOT, how] + (["validate", str(job_file)] if how == "cli" else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == code, done.stderr
    assert done.stdout.startswith("unflushed output ") and "exit hook ran" in done.stdout
    assert ("freed" in done.stdout) == freed
    assert ("a message" in done.stderr) == (how == "message")
    if how == "cli":
        assert "1 job" in done.stdout + done.stderr  # (validate said what it found)
