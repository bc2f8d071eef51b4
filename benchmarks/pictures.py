"""Make the run pictures at three sizes and look at them in headless Chromium.

    python benchmarks/pictures.py [--out DIR] [--sizes 40,2000,50000]

For each size, a real run (``taskrunner run``) of a job file with short jobs,
some failing, one retried, two skipped after a failure, and (for 40 jobs) a
``--resume`` a few seconds later, so the results file holds an earlier run.
Then ``taskrunner report --timeline --trace``, timed, and a Chromium
screenshot of the timeline, timed. Prints one line per size: jobs, timeline
bytes and write time, trace bytes, Chromium's drawing time, the screenshot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOBS = """\
workers: 4
jobs:
  - name: prep
    run: "sleep 0.2"
  - name: work-{{i}}
    matrix:
      i: {{range: [0, {count}]}}
    run: "{command}"
    depends_on: [prep]
  - name: flaky
    run: "test -e flaky.seen || {{ touch flaky.seen; exit 1; }}"
    retries: 1
  - name: broken
    run: "echo cannot open out/x >&2; exit 2"
  - name: after-broken
    run: "true"
    depends_on: [broken]
  - name: after-that
    run: "true"
    depends_on: [after-broken]
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("Chromium is not installed (apt-get install chromium)")


def screenshot(page: Path, shot: Path, profile: Path) -> float:
    started = time.perf_counter()
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={profile}", "--window-size=1400,900", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=300, check=False)
    return time.perf_counter() - started


def taskrunner(*args: str, cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "taskrunner", *args], cwd=cwd, capture_output=True, check=False,
                   timeout=1800)
    return time.perf_counter() - started


def picture(size: int, out: Path) -> str:
    folder = out / f"run-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # Jobs long enough to see at small sizes, trivial at large ones.
    command = "sleep 0.{i}" if size <= 100 else "true"
    (folder / "jobs.yaml").write_text(JOBS.format(count=size - 5, command=command))
    if size <= 100:  # an earlier run, an idle gap, and a --resume run in the same results file
        taskrunner("run", "jobs.yaml", "--only", "work-1*", cwd=folder)
        time.sleep(3)
    taskrunner("run", "jobs.yaml", *(["--resume"] if size <= 100 else []), cwd=folder)
    results = ".taskrunner/jobs.results.jsonl"
    write_time = taskrunner("report", results, "--timeline", "timeline.html", cwd=folder)
    taskrunner("report", results, "--trace", "trace.json", cwd=folder)
    shot = out / f"timeline-{size}.png"
    draw_time = screenshot(folder / "timeline.html", shot, folder / "chrome-profile")
    page_bytes = os.path.getsize(folder / "timeline.html")
    trace_bytes = os.path.getsize(folder / "trace.json")
    return (f"{size:>7} jobs: timeline {page_bytes / 1e6:.2f} MB in {write_time:.2f} s (report included); "
            f"trace {trace_bytes / 1e6:.2f} MB; Chromium {draw_time:.2f} s; {shot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "taskrunner-pictures")
    parser.add_argument("--sizes", default="40,2000,50000")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        print(picture(size, args.out), flush=True)


if __name__ == "__main__":
    main()
