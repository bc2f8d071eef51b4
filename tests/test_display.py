"""What people see: the bar and summary in a real terminal (tmux), failure lines,
grouped job output, --json, `report`, and the HTML timeline rendered in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CliRunner, run_in_a_pty, write
from taskrunner.display.summary import format_summary
from taskrunner.model import JobResult, Status
from taskrunner.results.report import RunReport

pytestmark = pytest.mark.timeout(120)

MIXED = """
jobs:
  - {name: slow1, run: "sleep 1.5"}
  - {name: slow2, run: "sleep 2"}
  - {name: bad, run: "echo the disk is full >&2; exit 3"}
  - {name: talk, run: "for i in 1 2 3; do echo talk-$i; sleep 0.1; done"}
  - {name: chat, run: "for i in 1 2 3; do echo chat-$i; sleep 0.1; done"}
"""
#: The same jobs, for tests where the slow ones need not be slow (the suite's time).
QUICK_MIXED = MIXED.replace("sleep 1.5", "sleep 0.3").replace("sleep 2", "sleep 0.4")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_bar_and_summary_in_a_real_terminal(cli: CliRunner, tmp_path: Path) -> None:
    jobs = write(cli.workdir / "jobs.yaml", MIXED)
    session = f"tr-{cli.tag[:8]}"
    command = " ".join(cli.command("run", str(jobs), "-w", "3")) + "; echo EXIT=$?; sleep 30"
    env = [arg for name in ("TASKRUNNER_TEST_TAG", "PYTHONPATH") for arg in ("-e", f"{name}={cli.env[name]}")]
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", *env,
                    "-c", str(cli.workdir), command], check=True, timeout=10)
    try:
        seen_bar = ""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True, timeout=10, check=False).stdout
            if "job/s" in screen or "s/job" in screen:
                seen_bar = screen
            if "EXIT=" in screen:
                break
            time.sleep(0.1)
        assert "running=" in seen_bar and "%|" in seen_bar, seen_bar
        assert "✗ bad (exit 3)" in screen
        assert "5 jobs in" in screen and "4 ok, 1 failed" in screen and "EXIT=1" in screen
        assert "running=" not in screen.split("5 jobs in")[1]  # the bar is gone at the end
        assert "resume:  taskrunner run" in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], timeout=10, check=False)


def test_failures_are_announced_and_colour_respects_no_color(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", MIXED)
    done = cli.run("run", str(jobs), "-w", "3")
    assert "✗ bad (exit 3)" in done.stderr and "\033[" not in done.stderr  # a pipe: no colour
    assert "slowest: slow2 2.0s, slow1 1.5s" in done.stderr


def test_output_is_grouped_per_job_and_can_be_prefixed(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", QUICK_MIXED)
    done = cli.run("run", str(jobs), "-w", "5", "--output")
    lines = done.stdout.splitlines()
    for name in ("talk", "chat"):
        start = lines.index(f"{name}-1")
        assert lines[start:start + 3] == [f"{name}-1", f"{name}-2", f"{name}-3"]  # never interleaved
    prefixed = cli.run("run", str(jobs), "-w", "5", "--prefix").stdout.splitlines()
    assert "talk: talk-2" in prefixed and "chat: chat-3" in prefixed
    assert "bad: the disk is full" in cli.run("run", str(jobs), "--prefix").stderr


def test_json_summary_on_stdout(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", QUICK_MIXED)
    done = cli.run("run", str(jobs), "-w", "5", "--json", "--output")
    summary = json.loads(done.stdout)  # nothing else on stdout, job output included
    assert summary["counts"]["ok"] == 4 and summary["counts"]["failed"] == 1 and summary["ok"] is False
    assert {r["name"] for r in summary["results"]} == {"slow1", "slow2", "bad", "talk", "chat"}
    assert "talk-1" in done.stderr


def test_report_recomputes_the_summary_of_an_interrupted_run(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", MIXED + '  - {name: forever, run: "sleep 60"}\n')
    proc = cli.start("run", str(jobs), "-w", "6")
    results = cli.workdir / ".taskrunner/jobs.results.jsonl"
    end = time.monotonic() + 20
    while not (results.exists() and len(results.read_text().splitlines()) >= 5):
        assert time.monotonic() < end
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    with results.open("a") as handle:
        handle.write('{"name": "torn", "sta')  # a line the killed coordinator never finished
    done = cli.run("report", str(results))
    assert done.returncode == 1
    assert done.stdout.startswith("5 jobs in") and "FAILED bad: exited with status 3" in done.stdout
    as_json = json.loads(cli.run("report", str(results), "--json").stdout)
    assert as_json["counts"]["ok"] == 4


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (.ci/run installs it)")
def test_timeline_renders_bars_in_chromium(cli: CliRunner) -> None:
    from PIL import Image

    jobs = write(cli.workdir / "jobs.yaml", MIXED + '  - {name: retry, run: "exit 1", retries: 1}\n')
    assert cli.run("run", str(jobs), "-w", "3").returncode == 1
    page = cli.workdir / "timeline.html"
    done = cli.run("report", ".taskrunner/jobs.results.jsonl", "--timeline", str(page))
    assert page.exists(), done.stderr
    text = page.read_text()
    assert "http" not in text.replace('charset="utf-8"', "")  # self-contained: no network
    assert text.count('class="bar ') == 7  # 6 jobs, one of them with 2 attempts
    shot = cli.workdir / "shot.png"
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={cli.workdir / 'chrome-profile'}", "--window-size=1200,500",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=60, cwd=cli.workdir, check=False,
    )
    assert shot.exists()
    colors = {color: n for n, color in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)}
    green, red = colors.get((0x2E, 0x9E, 0x44), 0), colors.get((0xD6, 0x27, 0x28), 0)
    assert green > 500 and red > 100, (green, red)  # ok bars and failed bars are drawn


def test_the_bar_stays_live_while_no_job_finishes(cli: CliRunner) -> None:
    """One long job, under a terminal: elapsed time redraws every second or so and running= is exact."""
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: long, run: 'sleep 3.5'}\n  - {name: quick, run: 'true'}\n")
    screen = run_in_a_pty(cli, "run", str(jobs), "-w", "2").decode("utf-8", "replace")
    assert "2 jobs in" in screen, screen
    frames = [frame for frame in screen.split("\r") if "job" in frame and "running=" in frame]
    for second in ("00:01", "00:02", "00:03"):
        assert any(second in frame and "running=1" in frame for frame in frames), (second, frames)


def test_the_summary_names_the_slowest_jobs_first_and_earliest_on_ties() -> None:
    durations = {"a": 1.0, "b": 5.0, "c": 3.0, "d": 5.0, "e": 0.5, "f": 4.0}
    report = RunReport(tuple(JobResult(name, Status.OK, duration=seconds) for name, seconds in durations.items()))
    assert "slowest: b 5.0s, d 5.0s, f 4.0s" in format_summary(report)
    assert "slowest: b 5.0s\n" in format_summary(report, slowest=1) + "\n"
