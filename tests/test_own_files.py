"""A run's files are its own (issue 24, items 2-4): logs live beside the
results file they belong to and are locked with it, a script never meets a
job file's CLI files, and each ``exec`` command keeps its own records."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO_DIR, TESTS_DIR, CliRunner, write

SLOW = "jobs:\n  - {name: report, run: 'echo $RUN; sleep 1.5'}\n"


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_runs_with_two_results_files_never_share_a_log_file(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "a.yaml", SLOW)
    first = subprocess.Popen(cli.command("run", str(jobs), "--results", "A.jsonl"), cwd=cli.workdir,
                             env={**cli.env, "RUN": "A"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.run(cli.command("run", str(jobs), "--results", "B.jsonl"), cwd=cli.workdir,
                            env={**cli.env, "RUN": "B"}, capture_output=True, text=True, timeout=60, check=False)
    first.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    for run in ("A", "B"):
        (line,) = lines(cli.workdir / f"{run}.jsonl")
        assert line["stdout_log"] == str(cli.workdir / f"{run}.logs" / "report.out")
        assert Path(str(line["stdout_log"])).read_text() == f"{run}\n"


def test_a_second_run_that_would_share_a_log_folder_is_refused(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "a.yaml", SLOW)
    first = cli.start("run", str(jobs), "--results", "A.jsonl")
    deadline = time.monotonic() + 30
    while not (cli.workdir / "A.logs.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = cli.run("run", str(jobs), "--results", "B.jsonl", "--log-dir", "A.logs")
    first.communicate(timeout=60)
    assert second.returncode == 2, second.stderr
    assert second.stderr.startswith("log folder A.logs is in use by another run (pid "), second.stderr
    assert "give another --log-dir" in second.stderr
    assert not (cli.workdir / "B.jsonl").exists()
    assert lines(cli.workdir / "A.jsonl")[0]["status"] == "ok"


def test_a_full_run_removes_its_own_stale_logs_and_nothing_else(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: keep, run: 'echo k'}\n  - {name: gone, run: 'echo g'}\n")
    assert cli.run("run", str(jobs)).returncode == 0
    logs = cli.workdir / ".taskrunner" / "jobs.logs"
    (logs / "notes.txt").write_text("mine")
    elsewhere = cli.workdir / "elsewhere"
    assert cli.run("run", str(jobs), "--log-dir", str(elsewhere)).returncode == 0
    write(jobs, "jobs:\n  - {name: keep, run: 'echo k'}\n")
    assert cli.run("run", str(jobs), "--only", "keep").returncode == 0  # a selection removes nothing
    assert (logs / "gone.out").exists()
    assert cli.run("run", str(jobs), "--log-dir", str(elsewhere)).returncode == 0  # a folder given elsewhere: kept
    assert (elsewhere / "gone.out").exists()
    assert cli.run("run", str(jobs)).returncode == 0
    assert sorted(p.name for p in logs.iterdir()) == ["keep.out", "notes.txt"]


def test_a_script_beside_a_job_file_leaves_the_cli_files_byte_identical(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: j{n}, run: 'echo {n}'}}\n" for n in range(10)))
    assert cli.run("run", str(jobs)).returncode == 0
    state = cli.workdir / ".taskrunner"
    before = {p.relative_to(state): p.read_bytes() for p in state.rglob("*") if p.is_file()}
    script = write(cli.workdir / "script.py", "import taskrunner\nfrom taskrunner import Job\n"
                   "if __name__ == '__main__':\n"
                   "    report = taskrunner.run([Job(name='x', run='echo x'), Job(name='j1', run='echo s')],"
                   " workers=1, progress=False)\n    print(report.results_path, report.log_dir)\n")
    done = subprocess.run([sys.executable, str(script)], cwd=cli.workdir, capture_output=True, text=True, timeout=60,
                          env={**cli.env, "PYTHONPATH": f"{TESTS_DIR}:{REPO_DIR}"}, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [".taskrunner/python/script.py.results.jsonl", ".taskrunner/python/script.py.logs"]
    after = {p.relative_to(state): p.read_bytes() for p in state.rglob("*") if p.is_file()
             if not str(p.relative_to(state)).startswith("python")}
    assert after == before
    assert [line["name"] for line in lines(state / "python" / "script.py.results.jsonl")] == ["x", "j1"]


def test_each_exec_command_keeps_its_own_records_and_both_can_run_at_once(cli: CliRunner) -> None:
    slow = cli.start("exec", "--", "sleep 1; echo", ":::", "a", "b")
    quick = cli.run("exec", "--", "echo", ":::", "x")
    slow.communicate(timeout=60)
    assert slow.returncode == 0 and quick.returncode == 0, quick.stderr
    files = sorted((cli.workdir / ".taskrunner").glob("exec-*.results.jsonl"))
    assert len(files) == 2
    assert sorted(len(lines(path)) for path in files) == [1, 2]
    again = cli.run("exec", "--resume", "--", "sleep 1; echo", ":::", "a", "b")
    assert again.returncode == 0 and "kept 2 results, ran 0 jobs" in again.stderr, again.stderr
    assert len(list((cli.workdir / ".taskrunner").glob("exec-*.logs"))) == 2


def test_depends_on_a_name_written_by_two_templates_waits_for_every_expansion(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", """jobs:
  - name: part-{n}
    run: sleep 1; touch done-{n}
    matrix: {n: [1, 2]}
  - name: part-{n}
    run: touch done-{n}
    matrix: {n: [3]}
  - name: all
    run: ls done-1 done-2 done-3
    depends_on: "part-{n}"
""")
    done = cli.run("run", str(jobs), "-w", "4")
    assert done.returncode == 0, done.stderr
    assert lines(cli.workdir / ".taskrunner" / "jobs.results.jsonl")[-1]["name"] == "all"
