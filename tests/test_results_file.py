"""The results file is never destroyed, torn or shared (real processes, real files,
real filesystems): selection runs, --dry-run, the lock, write errors, job_hash,
the log folder and the spool folder."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import CliRunner, write

pytestmark = pytest.mark.timeout(120)

RESULTS = ".taskrunner/jobs.results.jsonl"
FIVE = "jobs:\n" + "".join(f"  - {{name: {n}, run: 'echo {n}'}}\n" for n in "abcde")


def lines(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "torn last line"
    return [json.loads(line) for line in text.splitlines()]


def by_name(path: Path) -> dict[str, dict[str, object]]:
    found = lines(path)
    names = [str(line["name"]) for line in found]
    assert len(names) == len(set(names)), f"more than one line for a job: {names}"
    return {str(line["name"]): line for line in found}


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr.strip()


# 1. A selection run keeps the lines of the jobs it does not run.


def test_only_replaces_the_selected_lines_and_keeps_the_rest(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    assert cli.run("run", str(jobs)).returncode == 0
    before = by_name(cli.workdir / RESULTS)
    done = cli.run("run", str(jobs), "--only", "b")
    assert done.returncode == 0, done.stderr
    after = by_name(cli.workdir / RESULTS)
    assert set(after) == set("abcde")
    assert after["b"]["started"] != before["b"]["started"]  # b ran again
    assert all(after[n] == before[n] for n in "acde")  # the others' lines are untouched
    resumed = cli.run("run", str(jobs), "--resume")
    assert resumed.returncode == 0 and "ran 0 jobs" in resumed.stderr, resumed.stderr
    assert by_name(cli.workdir / RESULTS) == after


def test_tag_selection_keeps_the_rest_and_a_full_run_starts_afresh(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE + "  - {name: t, run: 'true', tags: [x]}\n")
    assert cli.run("run", str(jobs)).returncode == 0
    assert cli.run("run", str(jobs), "--tag", "x").returncode == 0
    assert set(by_name(cli.workdir / RESULTS)) == set("abcdet")
    write(jobs, "jobs:\n  - {name: z, run: 'true'}\n")
    assert cli.run("run", str(jobs)).returncode == 0
    assert set(by_name(cli.workdir / RESULTS)) == {"z"}  # documented: a full run starts a fresh file


# 2. --dry-run tells the truth.


def test_dry_run_with_resume_lists_exactly_what_would_run(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE.replace("echo c", "exit 3"))
    assert cli.run("run", str(jobs)).returncode == 1
    before = (cli.workdir / RESULTS).read_bytes()
    done = cli.run("run", str(jobs), "--resume", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["c"]
    assert "1 job would run; 4 results kept; nothing was run (--dry-run)" in done.stderr
    selected = cli.run("run", str(jobs), "--resume", "--dry-run", "--only", "a")
    assert selected.stdout == "" and "0 jobs would run; 5 results kept" in selected.stderr
    assert (cli.workdir / RESULTS).read_bytes() == before


# 3. The results file is never an input.


@pytest.mark.parametrize("spelling", ["same", "dot", "symlink", "hardlink", "directory"])
def test_results_path_that_is_the_job_file_or_a_folder_is_refused(cli: CliRunner, spelling: str) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    target = {"same": "jobs.yaml", "dot": "./jobs.yaml", "symlink": "link.yaml", "hardlink": "hard.yaml",
              "directory": "folder"}[spelling]
    if spelling == "symlink":
        os.symlink("jobs.yaml", cli.workdir / "link.yaml")
    elif spelling == "hardlink":
        os.link(jobs, cli.workdir / "hard.yaml")
    elif spelling == "directory":
        (cli.workdir / "folder").mkdir()
    done = cli.run("run", "jobs.yaml", "--results", target)
    message = one_line_error(done)
    assert target in message
    assert jobs.read_text() == FIVE
    assert not (cli.workdir / ".taskrunner").exists()


@pytest.mark.parametrize("target", ["/dev/full", "/dev/null", "/dev/stdout", "fifo"])
def test_results_path_that_is_not_a_regular_file_is_refused(cli: CliRunner, target: str) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    if target == "fifo":
        os.mkfifo(cli.workdir / "fifo")
    message = one_line_error(cli.run("run", str(jobs), "--results", target))
    assert "not a regular file" in message


# 4. One run per results file at a time.


def test_a_second_run_on_the_same_results_file_is_refused(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: j{i}, run: 'sleep 0.05'}}\n" for i in range(60)) + "  - {name: slow, run: 'sleep 3'}\n")
    first = cli.start("run", str(jobs), "-w", "2")
    results = cli.workdir / RESULTS
    deadline = time.monotonic() + 20
    while not (results.exists() and results.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = cli.run("run", str(jobs), "-w", "2")
    message = one_line_error(second)
    assert RESULTS in message and f"pid {first.pid}" in message
    # The same file spelled another way is the same file.
    assert one_line_error(cli.run("run", str(jobs), "--results", f"./.taskrunner/../{RESULTS}"))
    first.communicate(timeout=60)
    assert first.returncode == 0
    assert len(by_name(results)) == 61


def test_the_python_api_takes_the_same_lock(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: slow, run: 'sleep 3'}\n")
    first = cli.start("run", str(jobs))
    lock = cli.workdir / (RESULTS + ".lock")
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    script = (
        "import taskrunner, sys\n"
        "try:\n"
        f"    taskrunner.run([taskrunner.Job(name='x', run='true')], workers=1, progress=False, results={RESULTS!r})\n"
        "except taskrunner.ResultsFileBusy as error:\n"
        "    print(error); sys.exit(7)\n"
    )
    api = subprocess.run([os.sys.executable, "-c", script], cwd=cli.workdir, env=cli.env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert api.returncode == 7, api.stderr
    assert f"pid {first.pid}" in api.stdout
    first.communicate(timeout=60)
    assert first.returncode == 0 and set(by_name(cli.workdir / RESULTS)) == {"slow"}


# 5. Write errors are outcomes.

BIG_TAILS = "jobs:\n" + "".join(
    f"  - {{name: j{i:02}, run: 'head -c 1900 /dev/zero | tr \"\\\\0\" x >&2; sleep 0.02'}}\n" for i in range(60))


@contextmanager
def tmpfs(mount_point: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted at ``mount_point`` (needs root and a kernel that
    allows the mount; the test is skipped otherwise)."""
    mount_point.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB file system."""
    with tmpfs(tmp_path / "small", "size=256k") as mount_point:
        yield mount_point


def test_disk_full_stops_the_run_with_whole_lines_then_resume_finishes(cli: CliRunner, small_filesystem: Path) -> None:
    jobs = write(cli.workdir / "jobs.yaml", BIG_TAILS)
    filler = small_filesystem / "filler"
    filler.write_bytes(b"\0" * (256 * 1024 - 20 * 1024))  # about 8 results lines of room left
    results = small_filesystem / "results.jsonl"
    logs = str(cli.workdir / "logs")  # (by default they would be beside the results, on the small disk)
    done = cli.run("run", str(jobs), "-w", "2", "--results", str(results), "--log-dir", logs)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot write results file {results}: No space left on device" in done.stderr
    written = by_name(results)  # whole lines only
    assert 0 < len(written) < 60
    filler.unlink()
    resumed = cli.run("run", str(jobs), "-w", "2", "--results", str(results), "--resume", "--log-dir", logs)
    assert resumed.returncode == 0, resumed.stderr
    assert len(by_name(results)) == 60


def test_a_file_size_limit_is_a_write_error_too(cli: CliRunner) -> None:
    """RLIMIT_FSIZE makes write() fail with EFBIG part-way: works without a mount."""
    import resource
    import signal

    jobs = write(cli.workdir / "jobs.yaml", BIG_TAILS)
    results = cli.workdir / "results.jsonl"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    done = subprocess.run(cli.command("run", str(jobs), "-w", "2", "--results", str(results)), cwd=cli.workdir,
                          env=cli.env, capture_output=True, text=True, timeout=60, preexec_fn=limit, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot write results file {results}: File too large" in done.stderr
    assert 0 < len(by_name(results)) < 60
    assert cli.run("run", str(jobs), "-w", "2", "--results", str(results), "--resume").returncode == 0
    assert len(by_name(results)) == 60


# 6. Any results file can be read (the reader's own tests are in test_results_reader.py).


def test_report_and_resume_accept_a_torn_last_line_with_a_warning(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    assert cli.run("run", str(jobs)).returncode == 0
    results = cli.workdir / RESULTS
    with results.open("a") as handle:
        handle.write('{"name": "f", "sta')
    report = cli.run("report", RESULTS)
    assert report.returncode == 0, report.stderr
    assert f"{RESULTS}:6: ignored a torn last line" in report.stderr
    resumed = cli.run("run", str(jobs), "--resume")
    assert resumed.returncode == 0 and "ignored a torn last line" in resumed.stderr
    assert len(by_name(results)) == 5


def test_a_resume_that_keeps_every_line_appends_to_the_file_as_it_is(cli: CliRunner) -> None:
    """Mutant: the whole file was copied to a new one (100,000 kept lines: a
    second of a resume that ran nothing) when it already was the kept lines."""
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    assert cli.run("run", str(jobs)).returncode == 0
    results = cli.workdir / RESULTS
    before, inode, first = results.read_bytes(), results.stat().st_ino, list(by_name(results))
    write(jobs, FIVE + "  - {name: f, run: 'echo f'}\n")
    resumed = cli.run("run", str(jobs), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert results.stat().st_ino == inode and results.read_bytes().startswith(before)
    assert list(by_name(results)) == [*first, "f"]  # (the first run's in the order they finished)
    # A line the run does not keep (a job that failed) still means a new file without it.
    write(jobs, FIVE.replace("echo c", "exit 3"))
    assert cli.run("run", str(jobs), "--only", "c").returncode == 1
    inode = results.stat().st_ino
    write(jobs, FIVE)
    assert cli.run("run", str(jobs), "--resume").returncode == 0
    assert results.stat().st_ino != inode
    assert list(by_name(results)) == [*(name for name in first if name != "c"), "f", "c"]


@pytest.mark.parametrize("bad", ["[1,2,3]", "NaN", '{"name": ["a"], "status": "ok"}',
                                 '{"name": "a", "status": "ok", "started": "x"}',
                                 '{"name": "a", "status": "ok", "history": [[1,2]]}'])
@pytest.mark.parametrize("command", ["report", "timeline", "resume"])
def test_a_bad_line_is_file_line_exit_2(cli: CliRunner, bad: str, command: str) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    results = write(cli.workdir / "r.jsonl", '{"name": "a", "status": "ok"}\n' + bad + "\n")
    args = {"report": ("report", "r.jsonl"), "timeline": ("report", "r.jsonl", "--timeline", "t.html"),
            "resume": ("run", str(jobs), "--resume", "--results", "r.jsonl")}[command]
    message = one_line_error(cli.run(*args))
    assert message.startswith("r.jsonl:2: ")
    assert results.read_text().endswith(bad + "\n")  # untouched
    assert not (cli.workdir / "t.html").exists()


# 7. --resume does not trust stale successes.


def test_resume_reruns_changed_jobs_and_keeps_foreign_lines(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    assert cli.run("run", str(jobs)).returncode == 0
    first = by_name(cli.workdir / RESULTS)
    hashes = {name: line["job_hash"] for name, line in first.items()}
    assert all(isinstance(h, str) and len(h) == 16 and int(h, 16) >= 0 for h in hashes.values())
    assert len(set(hashes.values())) == 5
    # Another job file's results in the same file: kept, and said so.
    with (cli.workdir / RESULTS).open("a") as handle:
        handle.write('{"name": "x", "status": "ok"}\n{"name": "y", "status": "failed"}\n')
    write(jobs, FIVE.replace("echo b", "echo B"))
    done = cli.run("run", str(jobs), "--resume")
    assert done.returncode == 0, done.stderr
    assert "kept 2 results of jobs not in" in done.stderr and "jobs.yaml" in done.stderr
    assert "resumed: kept 4 results, ran 1 job" in done.stderr
    after = by_name(cli.workdir / RESULTS)
    assert set(after) == set("abcdexy")
    assert after["b"]["started"] != first["b"]["started"] and after["b"]["job_hash"] != hashes["b"]
    assert all(after[n] == first[n] for n in "acde")


def test_kept_lines_are_copied_byte_for_byte(cli: CliRunner) -> None:
    """A line a run keeps is the file's own bytes (issue 29: copied, not
    decoded and written again), a key added by hand and a torn last line's
    absence included; the lines it runs are replaced."""
    jobs = write(cli.workdir / "jobs.yaml", FIVE)
    assert cli.run("run", str(jobs)).returncode == 0
    path = cli.workdir / RESULTS
    lines = path.read_bytes().splitlines(keepends=True)
    annotated = [line.replace(b'{"name"', b'{"reviewed":  true, "name"', 1) for line in lines]
    path.write_bytes(b"".join(annotated) + b'{"name": "torn", "sta')
    write(jobs, FIVE.replace("echo b", "echo B"))
    done = cli.run("run", str(jobs), "--resume")
    assert done.returncode == 0, done.stderr
    after = path.read_bytes().splitlines(keepends=True)
    kept = [line for line in annotated if b'"name": "b"' not in line]
    assert after[:4] == kept  # as they were, the hand-added key and its two spaces too
    assert b'"name": "b"' in after[4] and b"reviewed" not in after[4] and len(after) == 5


def test_resume_reruns_a_success_recorded_without_a_hash(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'echo ran > mark'}\n")
    (cli.workdir / ".taskrunner").mkdir()
    write(cli.workdir / RESULTS, '{"name": "a", "status": "ok"}\n')  # an older taskrunner's line
    assert cli.run("run", str(jobs), "--resume").returncode == 0
    assert (cli.workdir / "mark").exists()


# 8. The log folder.


def test_impossible_log_folder_is_one_line_exit_2_before_anything_runs(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'touch ran'}\n")
    message = one_line_error(cli.run("run", str(jobs), "--log-dir", "/dev/null"))
    assert "/dev/null" in message and "log folder" in message
    assert not (cli.workdir / "ran").exists()
    assert not (cli.workdir / RESULTS).exists()


def test_read_only_log_folder_is_one_line_exit_2(cli: CliRunner) -> None:
    with tmpfs(cli.workdir / "ro", "ro,size=64k") as folder:
        jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'touch ran'}\n")
        message = one_line_error(cli.run("run", str(jobs), "--log-dir", str(folder)))
        assert "Read-only file system" in message and str(folder) in message
        assert not (cli.workdir / "ran").exists()


@pytest.mark.parametrize("kind", ["run", "call"])
def test_a_planted_symlink_in_the_log_folder_is_replaced_not_followed(cli: CliRunner, kind: str) -> None:
    job = "{name: a, run: 'echo new'}" if kind == "run" else "{name: a, call: 'jobs:print_both', args: [new]}"
    jobs = write(cli.workdir / "jobs.yaml", f"jobs:\n  - {job}\n")
    logs = cli.workdir / "logs"
    logs.mkdir()
    victim = write(cli.workdir / "victim.txt", "precious\n")
    os.symlink(victim, logs / "a.out")
    done = cli.run("run", str(jobs), "--log-dir", "logs")
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "precious\n"
    assert not (logs / "a.out").is_symlink() and "new" in (logs / "a.out").read_text()


def test_a_worker_that_dies_leaves_no_empty_log_files(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: die, run: 'kill -9 $PPID; sleep 5'}\n")
    done = cli.run("run", str(jobs), "--log-dir", "logs")
    assert done.returncode == 1, done.stderr
    result = by_name(cli.workdir / RESULTS)["die"]
    assert result["status"] == "crashed"
    assert result["stdout_log"] is None and result["stderr_log"] is None
    assert [p.name for p in (cli.workdir / "logs").iterdir()] == []


def test_the_spool_folder_of_a_killed_coordinator_is_removed_by_the_next_run(cli: CliRunner) -> None:
    spool_parent = cli.workdir / "tmp"
    spool_parent.mkdir()
    cli.env["TMPDIR"] = str(spool_parent)
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'sleep 30'}\n")
    proc = cli.start("run", str(jobs))
    deadline = time.monotonic() + 20
    while not list(spool_parent.glob("taskrunner-spool-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    proc.kill()
    proc.communicate(timeout=30)
    assert list(spool_parent.glob("taskrunner-spool-*"))
    write(jobs, "jobs:\n  - {name: a, run: 'true'}\n")
    assert cli.run("run", str(jobs)).returncode == 0
    assert list(spool_parent.glob("taskrunner-spool-*")) == []


def test_a_selection_run_killed_at_any_moment_leaves_whole_lines_and_the_other_jobs(cli: CliRunner) -> None:
    """SIGKILL during a selection run (while it rewrites, runs or appends):
    the file is always whole, the unselected jobs' lines are all there, and
    --resume then completes it with one line per job."""
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f"  - {{name: keep{i}, run: 'true'}}\n" for i in range(30)) + "".join(
        f"  - {{name: sel{i}, run: 'sleep 0.0{i % 5}'}}\n" for i in range(30)))
    assert cli.run("run", str(jobs), "-w", "2").returncode == 0
    results = cli.workdir / RESULTS
    for delay in (0.05, 0.2, 0.35, 0.5, 0.8):
        proc = cli.start("run", str(jobs), "-w", "2", "--only", "sel*")
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=30)
        kept = by_name(results)
        assert {f"keep{i}" for i in range(30)} <= set(kept)
        resumed = cli.run("run", str(jobs), "-w", "2", "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert len(by_name(results)) == 60
