"""What people see, round two (issue 28): parallel's output from ``exec``, one
block per cause in the summary, the skipped and retried named, small words,
and escaping checked as bytes, from a pipe and under a real terminal (a pty)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CliRunner, run_in_a_pty, write
from taskrunner.model import JobResult, Status
from taskrunner.results.journal import result_line

pytestmark = pytest.mark.timeout(120)

#: 14 jobs that fail the same way (a missing out/), each with a many-line
#: stderr (a Python traceback), and two jobs after them.
RECOMPRESS = """
jobs:
  - name: recompress-{f}
    matrix:
      f: {glob: "logs/*.log"}
    run: python3 recompress.py {f}
  - name: stats
    run: ls out | wc -l
    depends_on: ["recompress-{f}"]
  - name: upload
    run: echo upload
    depends_on: [stats]
"""
RECOMPRESS_PY = """
import gzip, os, sys
def write(src, dst):
    with open(src, "rb") as f, gzip.open(dst, "wb") as out:
        out.write(f.read())
def main(path):
    print(f"recompressing {path} ({os.path.getsize(path)} bytes)", file=sys.stderr)
    write(path, os.path.join("out", os.path.basename(path) + ".gz"))
main(sys.argv[1])
"""


def recompress_folder(root: Path, count: int = 14) -> Path:
    (root / "logs").mkdir()
    for i in range(1, count + 1):
        (root / "logs" / f"app-{i}.log").write_text(f"log {i}\n" * i)
    write(root / "recompress.py", RECOMPRESS_PY)
    return write(root / "jobs.yaml", RECOMPRESS)


def summary_of(stderr: str) -> list[str]:
    """The closing summary: from the counts line to the end."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if " in " in line and line.split()[1] in ("job", "jobs"))
    return lines[start:]


# -- 1. exec shows output ---------------------------------------------------


def test_exec_prints_each_jobs_output_as_parallel_does(cli: CliRunner) -> None:
    done = cli.run("exec", "--", "echo", "{1}", "{2}", ":::", "a", "b", ":::", "1", "2")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["a 1", "a 2", "b 1", "b 2"]
    quiet = cli.run("exec", "--quiet", "--", "echo", "{}", ":::", "a", "b")
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stdout
    # run keeps its quiet default.
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: echo hello}\n")
    assert cli.run("run", str(jobs)).stdout == ""


def test_exec_output_stays_grouped_per_job(cli: CliRunner) -> None:
    done = cli.run("exec", "-j", "3", "--", "for i in 1 2 3; do echo {}-$i; sleep 0.05; done", ":::", "x", "y", "z")
    lines = done.stdout.splitlines()
    for name in "xyz":
        start = lines.index(f"{name}-1")
        assert lines[start:start + 3] == [f"{name}-1", f"{name}-2", f"{name}-3"], lines


# -- 2. one block per cause ---------------------------------------------------


def test_fourteen_jobs_failing_one_way_are_one_block_on_one_screen(cli: CliRunner) -> None:
    jobs = recompress_folder(cli.workdir)
    done = cli.run("run", str(jobs), "-w", "2")
    assert done.returncode == 1
    summary = summary_of(done.stderr)
    assert len(summary) <= 30, "\n".join(summary)
    assert summary[0] == "16 jobs in " + summary[0].split(" in ")[1] and "14 failed, 2 skipped" in summary[0]
    header = next(line for line in summary if "the same way" in line)
    assert header.startswith("14 jobs failed the same way (exit 1), e.g. recompress-logs/app-")
    assert ", ..." in header
    assert sum("FileNotFoundError" in line for line in summary) == 1  # one tail, not fourteen
    assert "all 14: taskrunner report --failures .taskrunner/jobs.results.jsonl" in done.stderr
    assert "2 skipped because recompress-logs/app-" in done.stderr and ": stats, upload" in done.stderr
    # Paths inside the current folder are printed relative to it, as results: is.
    full_log = next(line for line in summary if "full log:" in line)
    assert full_log.split("full log: ")[1].startswith(".taskrunner/jobs.logs/"), full_log
    every = cli.run("report", ".taskrunner/jobs.results.jsonl", "--failures")
    assert every.returncode == 1
    assert every.stdout.count("FAILED recompress-logs/app-") == 14
    assert every.stdout.count("FileNotFoundError") == 14
    assert "SKIPPED stats: dependency" in every.stdout and "SKIPPED upload" in every.stdout


def test_many_different_failures_still_fit_on_one_screen(cli: CliRunner) -> None:
    body = "".join(f"  - {{name: j{i}, run: 'for n in 1 2 3 4 5 6 7 8 9; do echo line $n >&2; done; "
                   f"echo reason-{'abcdefghijklmnopqrstuvwxyz'[i % 26]}{'xyz'[i % 3]} >&2; exit 1'}}\n"
                   for i in range(60))
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + body)
    done = cli.run("run", str(jobs), "-w", "2")
    summary = summary_of(done.stderr)
    assert len(summary) <= 32, "\n".join(summary)  # about a screen, however many causes
    assert any(line.startswith("... and ") and "taskrunner report --failures" in line for line in summary)
    assert cli.run("report", ".taskrunner/jobs.results.jsonl", "--failures").stdout.count("FAILED j") == 60


def test_retries_used_are_named(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml",
                 "jobs:\n  - {name: flaky, run: 'test -e seen || { touch seen; exit 1; }', retries: 2}\n"
                 "  - {name: steady, run: 'true'}\n")
    done = cli.run("run", str(jobs))
    assert done.returncode == 0, done.stderr
    assert "retried: flaky (2 attempts, ok)" in done.stderr


def test_cancelled_jobs_are_not_the_slowest(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: long, run: 'sleep 20'}\n"
                 "  - {name: quick, run: 'sleep 0.2'}\n  - {name: bad, run: 'sleep 1; exit 1'}\n")
    done = cli.run("run", str(jobs), "-w", "3", "--fail-fast")
    assert done.returncode == 1
    assert "1 cancelled" in done.stderr, done.stderr
    slowest = next(line for line in done.stderr.splitlines() if line.startswith("slowest:"))
    assert "long" not in slowest and "bad" in slowest, slowest


# -- 6. small words -------------------------------------------------------------


def test_report_on_a_job_file_says_so(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    before = cli.run("report", "jobs.yaml")
    assert before.returncode == 2
    assert before.stderr.strip() == ("jobs.yaml is a job file, not a results file; it has no results yet "
                                     "(.taskrunner/jobs.results.jsonl): taskrunner run jobs.yaml")
    assert cli.run("run", str(jobs)).returncode == 0
    after = cli.run("report", "jobs.yaml")
    assert after.returncode == 2 and "its results are in .taskrunner/jobs.results.jsonl" in after.stderr


def test_one_is_singular(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'false'}\n")
    assert cli.run("validate", "jobs.yaml").stdout.strip() == "jobs.yaml: valid, 2 jobs"
    cli.run("run", str(jobs))
    write(jobs, "jobs:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}\n")
    resumed = cli.run("run", str(jobs), "--resume")
    assert "resumed: kept 1 result, ran 1 job" in resumed.stderr, resumed.stderr
    one = write(cli.workdir / "one.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    assert cli.run("validate", str(one)).stdout.strip().endswith("valid, 1 job")
    assert "1 job in " in cli.run("run", str(one)).stderr


def test_version_and_execs_own_help(cli: CliRunner) -> None:
    version = cli.run("-V")
    assert version.returncode == 0 and version.stdout.startswith("taskrunner, version ")
    help_text = " ".join(cli.run("exec", "--help").stdout.split())
    assert "<file>" not in help_text and "the file's" not in help_text, help_text
    assert ".taskrunner/exec-<hash of the command>.results.jsonl" in help_text and "--quiet" in help_text
    run_help = " ".join(cli.run("run", "--help").stdout.split())
    assert ".taskrunner/<file>.results.jsonl" in run_help and "--quiet" not in run_help


def test_did_you_mean_for_names_globs_and_tags(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: stats, run: 'true', tags: [nightly]}\n"
          "  - {name: upload, run: 'true', depends_on: [stat]}\n")
    typo = cli.run("validate", "jobs.yaml")
    assert typo.returncode == 2
    assert typo.stderr.strip() == "jobs.yaml:3: job 'upload': depends on unknown job 'stat' (did you mean 'stats'?)"
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: compress-a, run: 'true', tags: [nightly]}\n")
    only = cli.run("run", "jobs.yaml", "--only", "compres-*")
    assert only.returncode == 2 and "--only 'compres-*' matches no job (did you mean 'compress*'?)" in only.stderr
    tag = cli.run("list", "jobs.yaml", "--tag", "nighty")
    assert tag.returncode == 2 and "--tag 'nighty' is no job's tag (did you mean 'nightly'?)" in tag.stderr


def test_hints_for_a_glob_string_and_a_brace_in_a_flow_list(cli: CliRunner) -> None:
    write(cli.workdir / "g.yaml", "jobs:\n  - name: z-{f}\n    matrix:\n      f: data/*.gz\n    run: echo {f}\n")
    glob = cli.run("validate", "g.yaml")
    assert glob.returncode == 2 and glob.stderr.strip().endswith('(to list files, use {glob: "data/*.gz"})')
    write(cli.workdir / "f.yaml", "jobs:\n  - {name: a, run: x}\n  - {name: b, run: x, depends_on: [a, gz-{f}]}\n")
    flow = cli.run("validate", "f.yaml")
    assert flow.returncode == 2 and flow.stderr.startswith("f.yaml:3: invalid YAML")
    assert flow.stderr.strip().endswith('quote a value with { in a [...] or {...} list, e.g. "gz-{f}"')


def test_list_shows_a_dependency_on_every_expansion_once(cli: CliRunner) -> None:
    jobs = recompress_folder(cli.workdir)
    listed = cli.run("list", str(jobs)).stdout.splitlines()
    assert listed[-2].endswith("(after: recompress-{f} ×14)") and listed[-1].endswith("(after: stats)")
    dry = cli.run("run", str(jobs), "--dry-run").stdout.splitlines()
    assert dry[-2].endswith("(after: recompress-{f} ×14)")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_state_folder_stays_out_of_git(cli: CliRunner) -> None:
    subprocess.run(["git", "init", "-q", str(cli.workdir)], check=True, timeout=30)
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    assert cli.run("run", str(jobs)).returncode == 0
    assert (cli.workdir / ".taskrunner/.gitignore").read_text().splitlines()[-1] == "*"
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=cli.workdir,
                            capture_output=True, text=True, check=True, timeout=30).stdout
    assert ".taskrunner" not in status and "jobs.yaml" in status


def test_completion_offers_job_names_and_tags(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: stats, run: 'true', tags: [nightly]}\n"
          "  - {name: store, run: 'true'}\n  - {name: upload, run: 'true'}\n")
    env = {**cli.env, "_TASKRUNNER_COMPLETE": "bash_complete"}

    def complete(words: str) -> list[str]:
        done = subprocess.run(cli.command(), env={**env, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)},
                              cwd=cli.workdir, capture_output=True, text=True, timeout=30, check=False)
        return done.stdout.split()

    assert complete("taskrunner run jobs.yaml --only st") == ["plain,stats", "plain,store"]
    assert complete("taskrunner list jobs.yaml --tag n") == ["plain,nightly"]


@pytest.mark.parametrize(("no_color", "force", "coloured"), [("1", "", False), ("", "1", True), ("1", "1", False)])
def test_colour_follows_no_color_and_force_color(cli: CliRunner, no_color: str, force: str, coloured: bool) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: bad, run: 'exit 3'}\n")
    cli.env.update(NO_COLOR=no_color, FORCE_COLOR=force)
    done = subprocess.run(cli.command("run", str(jobs)), cwd=cli.workdir, env=cli.env, capture_output=True,
                          timeout=60, check=False)
    assert (b"\x1b[31m" in done.stderr) is coloured, done.stderr


# -- escaping, as bytes and under a terminal ------------------------------------

EVIL = 'jobs:\n  - {name: "evil\\e[2J\\rname", run: "printf \'bad\\\\033[2J\\\\rX\\\\n\' >&2; exit 3"}\n'


def test_control_characters_are_escaped_in_the_bytes_of_a_pipe(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", EVIL)
    done = subprocess.run(cli.command("run", str(jobs)), cwd=cli.workdir, env=cli.env, capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert b"\x1b" not in done.stderr and b"\r" not in done.stderr, done.stderr
    assert b"$'evil\\e[2J\\rname'" in done.stderr and b"bad\\x1b[2J" in done.stderr


def test_control_characters_are_escaped_under_a_real_terminal(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", EVIL)
    screen = run_in_a_pty(cli, "run", str(jobs))
    assert b"\x1b[2J" not in screen and b"evil\x1b" not in screen and b"bad\x1b" not in screen, screen
    assert b"\rname" not in screen and b"\rX" not in screen, screen
    assert b"$'evil\\e[2J\\rname'" in screen and b"bad\\x1b[2J" in screen
    assert b"\x1b[31m" in screen  # a terminal: the failure line is red


# -- 3. a run you can watch -------------------------------------------------------

LONG = ("jobs:\n  - {name: long-a, run: 'sleep 30'}\n  - {name: long-b, run: 'sleep 30'}\n"
        "  - {name: quick, run: 'true'}\n")


def wait_for(condition: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_report_shows_the_jobs_running_now_from_another_terminal(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", LONG)
    proc = cli.start("-v", "run", str(jobs), "-w", "3")
    live = cli.workdir / ".taskrunner/jobs.results.jsonl.running"
    try:
        wait_for(lambda: live.exists() and "long-b" in live.read_text() and "long-a" in live.read_text())
        time.sleep(1.2)
        seen = cli.run("report", ".taskrunner/jobs.results.jsonl")
        lines = seen.stdout.splitlines()
        assert lines[0].startswith("1 job in") and "1 ok" in lines[0], seen.stdout  # the finished counts
        now = next(i for i, line in enumerate(lines) if line.startswith("running now: 2 jobs (1 of 3 done; run pid"))
        running = sorted(line.split()[-1] for line in lines[now + 1:now + 3])
        assert running == ["long-a", "long-b"], seen.stdout
        assert all(float(line.split()[0].rstrip("s")) >= 1.0 for line in lines[now + 1:now + 3]), seen.stdout
        assert all(line.split()[1].startswith("w") for line in lines[now + 1:now + 3]), seen.stdout
    finally:
        proc.send_signal(2)  # Ctrl-C: the run cancels its jobs and ends
        _, stderr = proc.communicate(timeout=30)
    assert "starting long-a" in stderr and "starting quick" in stderr  # -v logs each start
    assert not live.exists()  # the run removes it as it ends
    assert "running now" not in cli.run("report", ".taskrunner/jobs.results.jsonl").stdout


def test_a_killed_runs_leftover_is_recognised_as_stale(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", LONG)
    proc = cli.start("run", str(jobs), "-w", "3")
    live = cli.workdir / ".taskrunner/jobs.results.jsonl.running"
    try:
        wait_for(lambda: live.exists() and "long-b" in live.read_text())
    finally:
        proc.kill()  # SIGKILL: nothing removes the file
        proc.communicate(timeout=30)
    assert live.exists()
    seen = cli.run("report", ".taskrunner/jobs.results.jsonl")
    assert "running now" not in seen.stdout
    assert f"not running: the run (pid {proc.pid} on" in seen.stdout and "ended without finishing" in seen.stdout
    # The next run takes over and, as it ends, leaves nothing behind.
    write(jobs, "jobs:\n  - {name: quick, run: 'true'}\n")
    assert cli.run("run", str(jobs)).returncode == 0 and not live.exists()


# -- 4. CI logs ---------------------------------------------------------------------


def test_progress_into_a_file_is_plain_lines(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: long, run: 'sleep 3'}\n"
                 "  - {name: bad, run: 'sleep 0.3; exit 2'}\n  - {name: fine, run: 'sleep 1.2'}\n")
    log = cli.workdir / "ci.log"
    cli.env["TASKRUNNER_PROGRESS_EVERY"] = "1.2"  # (10 s by default)
    with log.open("wb") as sink:
        done = subprocess.run(cli.command("run", str(jobs), "-w", "3", "--progress"), cwd=cli.workdir, env=cli.env,
                              stdout=sink, stderr=sink, timeout=60, check=False)
    assert done.returncode == 1
    data = log.read_bytes()
    assert b"\r" not in data and b"\x1b" not in data, data
    lines = data.decode().splitlines()
    progress = [line for line in lines if " done, ok=" in line]
    # One at the failure, then at most one every 1.2 s (the run lasts about 3 s).
    assert 2 <= len(progress) <= 3, lines
    assert lines[lines.index("✗ bad (exit 2)") + 1] == progress[0]
    assert progress[0].startswith("1/3 done, ok=0 failed=1 running=2")
    periodic = re.compile(r"[12]/3 done, ok=[01] failed=1 running=[12], ETA [0-9.]+s$")
    assert all(periodic.match(line) for line in progress[1:]), progress


# -- 5. pictures that scale ---------------------------------------------------------


def synthetic_results(path: Path, jobs: int, workers: int = 8, start: float = 1.8e9, failing_every: int = 997) -> None:
    """A results file as a run of ``jobs`` short jobs on ``workers`` slots writes it
    (real lines, made by the journal's own encoder)."""
    lines = []
    clock = [start] * workers
    for number in range(jobs):
        slot = number % workers
        began, ended = clock[slot], clock[slot] + 0.004 + (number % 7) * 0.001
        clock[slot] = ended + 0.0005
        status = Status.FAILED if number % failing_every == 1 else Status.OK
        worker = f"w{slot + 1}-{4000 + slot}"
        lines.append(result_line(JobResult(f"job-{number}", status, returncode=0 if status is Status.OK else 1,
                                           attempts=1, started=began, finished=ended, duration=ended - began,
                                           worker=worker, history=((began, ended, worker, status.value),))))
    path.write_text("".join(lines))


def chromium_screenshot(page: Path, shot: Path, profile: Path, height: int = 600) -> dict[tuple[int, int, int], int]:
    """Pixel counts by colour of ``page`` as headless Chromium draws it."""
    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert browser is not None
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={profile}", f"--window-size=1200,{height}", f"--screenshot={shot}",
                    page.as_uri()], capture_output=True, timeout=90, cwd=page.parent, check=False)
    assert shot.exists()
    return {color: n for n, color in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)}


GREEN, RED = (0x2E, 0x9E, 0x44), (0xD6, 0x27, 0x28)


def test_report_writes_the_run_as_chrome_trace_events(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'sleep 0.2'}\n  - {name: b, run: 'sleep 0.1'}\n"
                 "  - {name: retry, run: 'exit 1', retries: 1}\n  - {name: after, run: 'true', depends_on: [retry]}\n")
    assert cli.run("run", str(jobs), "-w", "2").returncode == 1
    done = cli.run("report", ".taskrunner/jobs.results.jsonl", "--trace", "run.json")
    assert done.returncode == 1 and "trace: run.json" in done.stderr
    events = json.loads((cli.workdir / "run.json").read_text())["traceEvents"]
    lanes = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    complete = [e for e in events if e["ph"] == "X"]
    assert sorted(e["name"] for e in complete) == ["a", "b", "retry", "retry"]  # one per attempt
    assert {lanes[e["tid"]] for e in complete} <= {"w1", "w2"}
    a = next(e for e in complete if e["name"] == "a")
    assert a["cat"] == "ok" and 0.15e6 < a["dur"] < 5e6 and a["ts"] >= 0
    assert [e["args"]["attempt"] for e in complete if e["name"] == "retry" and "attempt" in e["args"]] == [2]
    (skipped,) = [e for e in events if e["ph"] == "i"]
    assert skipped["name"] == "after" and lanes[skipped["tid"]] == "skipped"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (.ci/run installs it)")
def test_the_timeline_of_50000_jobs_is_small_and_drawn(cli: CliRunner) -> None:
    synthetic_results(cli.workdir / "big.jsonl", 50_000)
    done = cli.run("report", "big.jsonl", "--timeline", "big.html")
    assert done.returncode == 1, done.stderr  # some failed
    page = cli.workdir / "big.html"
    text = page.read_text()
    assert page.stat().st_size < 5_000_000 and "http" not in text.replace('charset="utf-8"', "")
    assert "50000 jobs: 50000 attempts" in text and "density" in text
    assert "failed job-1</div>" in text.split("not ok</h2>")[1]  # the failures are named
    colors = chromium_screenshot(page, cli.workdir / "big.png", cli.workdir / "profile")
    green = sum(n for color, n in colors.items() if color[1] > color[0] + 40 and color[1] > color[2] + 40)
    assert green > 8 * 500, green  # eight lanes drawn
    assert colors.get(RED, 0) > 0  # failures stand out


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (.ci/run installs it)")
def test_kept_lines_of_an_earlier_run_are_drawn_apart_and_skipped_jobs_drawn(cli: CliRunner) -> None:
    earlier, later = cli.workdir / "earlier.jsonl", cli.workdir / "later.jsonl"
    synthetic_results(earlier, 40, workers=4, start=1.8e9)
    synthetic_results(later, 40, workers=4, start=1.8e9 + 15.0)  # --resume, 15 s later
    skipped = JobResult("after", Status.SKIPPED, error="dependency 'job-1' did not succeed")
    (cli.workdir / "all.jsonl").write_text(earlier.read_text().replace('"job-', '"old-') + later.read_text()
                                           + result_line(skipped))
    done = cli.run("report", "all.jsonl", "--timeline", "all.html")
    text = (cli.workdir / "all.html").read_text()
    assert done.returncode == 1
    first, rest = text.split("earlier run 1 (results kept by --resume)")
    assert first.split("</h1>")[0].endswith("40 attempts, 76ms, 4 workers")  # this run's span, not 15 s
    assert "old-" not in first and "old-" in rest and 'class="mark skipped"' in first
    assert "after: skipped (dependency &#x27;job-1&#x27; did not succeed)" in first
    colors = chromium_screenshot(cli.workdir / "all.html", cli.workdir / "all.png", cli.workdir / "profile", 900)
    assert colors.get(GREEN, 0) > 2000 and colors.get((0xC7, 0xC7, 0xC7), 0) > 0  # bars, and the skipped mark
