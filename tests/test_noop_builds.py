"""Issue 29, item 6: a no-op build looks at each pattern and file once, and a
job that ran makes the run look again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import taskrunner
from taskrunner import Job
from taskrunner.engine import filelook
from taskrunner.engine.fileorder import unmade_inputs
from taskrunner.engine.freshness import Freshness

pytestmark = [pytest.mark.timeout(60)]


def library(folder: Path, objects: int) -> list[Job]:
    """``objects`` compile jobs, each reading its source and every header (a glob)."""
    (folder / "include").mkdir()
    (folder / "src").mkdir()
    (folder / "obj").mkdir()
    for n in range(objects):
        (folder / "include" / f"h{n}.h").write_text("")
        (folder / "src" / f"c{n}.c").write_text("")
    jobs = [Job(name=f"cc-{n}", run=f"cp src/c{n}.c obj/c{n}.o", cwd=str(folder),
                inputs=(f"src/c{n}.c", "include/*.h"), outputs=f"obj/c{n}.o") for n in range(objects)]
    for n in range(objects):
        (folder / "obj" / f"c{n}.o").write_text("")  # built after every source and header
    return jobs


def test_a_header_glob_every_job_shares_is_globbed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = library(tmp_path, 200)
    globbed: list[str] = []
    real_glob = filelook.glob.glob

    def counting_glob(pattern: str, **options: object) -> list[str]:
        globbed.append(pattern)
        return real_glob(pattern, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(filelook.glob, "glob", counting_glob)
    assert unmade_inputs(jobs) == []  # (the load's check)
    assert globbed == ["include/*.h"]
    globbed.clear()
    assert Freshness(jobs, {}).up_to_date(jobs) == {job.name for job in jobs}
    assert globbed == ["include/*.h"]


def test_freshness_looks_again_once_told_that_a_job_ran(tmp_path: Path) -> None:
    jobs = library(tmp_path, 3)
    freshness = Freshness(jobs, {}, now=2e9 * 1e9)  # (the later header below is not from the future)
    assert freshness.fresh_result(jobs[0], 0.0) is not None
    later = tmp_path / "include" / "generated.h"
    later.write_text("")
    os.utime(later, ns=(os.stat(tmp_path / "obj" / "c1.o").st_mtime_ns + 10**9,) * 2)
    assert freshness.fresh_result(jobs[1], 0.0) is not None  # (remembered: no job ran)
    freshness.forget()
    assert freshness.fresh_result(jobs[1], 0.0) is None


def test_a_header_a_job_writes_without_declaring_it_reruns_the_jobs_checked_after_it(
    tmp_path: Path, no_leftovers: None
) -> None:
    """The run forgets what it saw when a job ran: ``generate`` (no declared
    outputs) writes a header; ``cc-1``, held back by a resource until
    ``generate`` ends, is checked after it and runs. ``cc-0``, checked at the
    start, saw the headers before."""
    jobs = library(tmp_path, 2)
    generate = Job(name="generate", run="sleep 0.2; touch include/generated.h", cwd=str(tmp_path),
                   resources={"lock": 1})
    held = Job(name=jobs[1].name, run=jobs[1].run, cwd=jobs[1].cwd, inputs=jobs[1].inputs,
               outputs=jobs[1].outputs, resources={"lock": 1})
    report = taskrunner.run([jobs[0], generate, held], workers=2, progress=False, resources={"lock": 1},
                            results=str(tmp_path / "r.jsonl"))
    assert report.ok
    assert report["cc-0"].status.value == "uptodate"
    assert report["cc-1"].status.value == "ok"
