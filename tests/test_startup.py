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
