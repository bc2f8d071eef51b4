"""Scheduling (issue 15): up-to-date skipping with real files, and the order
ready jobs start in (priority, then critical path)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import CliRunner, write
from taskrunner import Job, JobResult, Runner
from taskrunner.backends.inprocess import InProcessBackend
from taskrunner.engine.plan import Plan
from taskrunner.model import Status

pytestmark = pytest.mark.timeout(120)

PIPELINE = """jobs:
  - name: clean-{f/.}
    run: tr a-z A-Z < {f} > out1/{f/} && echo clean-{f/.} >> ran.log
    matrix: {f: {glob: "in/*.txt"}}
    inputs: "{f}"
    outputs: "out1/{f/}"
  - name: count-{f/.}
    run: wc -c < out1/{f/} > out2/{f/} && echo count-{f/.} >> ran.log
    matrix: {f: {glob: "in/*.txt"}}
    depends_on: "clean-{f/.}"
    outputs: "out2/{f/}"
  - name: total
    run: cat out2/*.txt > total.txt && echo total >> ran.log
    depends_on: ["count-{f/.}"]
    inputs: "out2/*.txt"
    outputs: total.txt
"""


def statuses(path: Path) -> dict[str, str]:
    return {line["name"]: line["status"] for line in map(json.loads, path.read_text().splitlines())}


def ran(folder: Path) -> list[str]:
    log = folder / "ran.log"
    return sorted(log.read_text().split()) if log.exists() else []


def test_a_pipeline_run_twice_skips_everything_and_one_touched_input_reruns_its_chain(cli: CliRunner) -> None:
    for folder in ("in", "out1", "out2"):
        (cli.workdir / folder).mkdir()
    for name in ("a", "b", "c"):
        (cli.workdir / "in" / f"{name}.txt").write_text(name * 3)
    write(cli.workdir / "jobs.yaml", PIPELINE)
    results = cli.workdir / ".taskrunner/jobs.results.jsonl"

    first = cli.run("run", "jobs.yaml", "-j", "2")
    assert first.returncode == 0, first.stderr
    assert len(ran(cli.workdir)) == 7 and (cli.workdir / "total.txt").exists()

    (cli.workdir / "ran.log").unlink()
    second = cli.run("run", "jobs.yaml", "-j", "2")
    assert second.returncode == 0, second.stderr
    assert ran(cli.workdir) == [] and set(statuses(results).values()) == {"uptodate"}
    assert "7 uptodate" in second.stderr
    dry = cli.run("run", "jobs.yaml", "--dry-run")
    assert dry.stdout.count("(up to date)") == 7 and "(7 of them up to date)" in dry.stderr

    newest = max(os.stat(p).st_mtime for p in cli.workdir.rglob("*.txt"))
    os.utime(cli.workdir / "in" / "b.txt", (newest + 5, newest + 5))
    dry = cli.run("run", "jobs.yaml", "--dry-run")
    assert dry.stdout.count("(up to date)") == 4
    third = cli.run("run", "jobs.yaml", "-j", "2")
    assert third.returncode == 0, third.stderr
    assert ran(cli.workdir) == ["clean-b", "count-b", "total"]
    assert statuses(results) == {"clean-a": "uptodate", "clean-b": "ok", "clean-c": "uptodate", "count-a": "uptodate",
                                 "count-b": "ok", "count-c": "uptodate", "total": "ok"}

    (cli.workdir / "ran.log").unlink()
    forced = cli.run("run", "jobs.yaml", "-j", "2", "--force")
    assert forced.returncode == 0 and len(ran(cli.workdir)) == 7


def test_a_changed_command_reruns_although_its_outputs_are_newer(cli: CliRunner) -> None:
    (cli.workdir / "in.txt").write_text("x")
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'cp in.txt out.txt', inputs: in.txt, outputs: out.txt}\n")
    assert cli.run("run", "jobs.yaml").returncode == 0
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'cp -p in.txt out.txt', inputs: in.txt, outputs: out.txt}\n")
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert statuses(cli.workdir / ".taskrunner/jobs.results.jsonl") == {"a": "ok"}


def test_a_job_that_does_not_make_its_declared_output_fails(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: lazy, run: 'true', outputs: [made.txt, 'reports/*.html']}\n"
                                     "  - {name: after, run: 'true', depends_on: lazy}\n")
    done = cli.run("run", "jobs.yaml")
    assert done.returncode == 1
    lines = {line["name"]: line for line in map(json.loads, (cli.workdir / ".taskrunner/jobs.results.jsonl")
                                                .read_text().splitlines())}
    assert lines["lazy"]["status"] == "failed" and lines["lazy"]["error"] == "missing output made.txt"
    assert lines["after"]["status"] == "skipped"


def test_inputs_that_match_nothing_and_that_no_job_makes_are_an_error(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: make, run: 'touch gen/a.c', outputs: gen/a.c}
  - {name: use, run: 'true', inputs: ['gen/*.c'], depends_on: make}
  - {name: typo, run: 'true', inputs: data/missing.csv}
""")
    done = cli.run("validate", "jobs.yaml")
    assert done.returncode == 2
    assert done.stderr.strip() == ("jobs.yaml:4: job 'typo': 'inputs' pattern 'data/missing.csv' matches nothing, "
                                   "and no job's outputs make it")


def test_priority_then_critical_path_then_file_order(tmp_path: Path) -> None:
    jobs = [
        Job(name="small-1", run="true"),
        Job(name="small-2", run="true"),
        Job(name="chain-1", run="true"),
        Job(name="chain-2", run="true", depends_on="chain-1"),
        Job(name="chain-3", run="true", depends_on="chain-2"),
        Job(name="urgent", run="true", priority=5),
    ]
    plan = Plan(jobs)
    order = []
    while not plan.finished:
        ((index, _),) = plan.take_due(now=0.0, limit=1)
        order.append(jobs[index].name)
        plan.record(index, JobResult(jobs[index].name, Status.OK, attempts=1), now=0.0)
    assert order == ["urgent", "chain-1", "chain-2", "small-1", "small-2", "chain-3"]  # ties: file order
    # With durations from an earlier run, a long job beats a longer chain of short ones.
    timed = Plan(jobs[:5], durations={"small-2": 10.0, "chain-1": 1.0, "chain-2": 1.0, "chain-3": 1.0, "small-1": 1.0})
    assert [jobs[i].name for i, _ in timed.take_due(now=0.0, limit=2)] == ["small-2", "chain-1"]


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_weighs_each_job_by_its_duration_in_the_results_file(tmp_path: Path, resume: bool) -> None:
    """Mutant: the earlier lines were read only for jobs with outputs, so the
    next run (or resume) weighed every job alike and ran the chain first."""
    jobs = [Job(name="small-1", run="true"), Job(name="small-2", run="true"), Job(name="chain-1", run="true"),
            Job(name="chain-2", run="true", depends_on="chain-1"), Job(name="chain-3", run="true", depends_on="chain-2")]
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps({"name": job.name, "status": "failed", "attempts": 1,
                                           "duration": 10.0 if job.name == "small-2" else 1.0}) + "\n"
                               for job in jobs))
    backend = InProcessBackend()
    report = Runner(backend=backend, results=str(results), log_dir=str(tmp_path / "logs"), progress=False,
                    resume=resume).run(jobs)
    assert report.ok
    assert [a.job.name for a in backend.ran][:2] == ["small-2", "chain-1"]


def test_the_runner_dispatches_in_that_order_and_records_uptodate_as_success(tmp_path: Path) -> None:
    (tmp_path / "made.txt").write_text("x")
    backend = InProcessBackend()
    jobs = [Job(name="low", run="true", priority=-1), Job(name="fresh", run="exit 9", outputs=str(tmp_path / "made.txt")),
            Job(name="needs-fresh", run="true", depends_on="fresh")]
    report = Runner(backend=backend, results=str(tmp_path / "r.jsonl"), log_dir=str(tmp_path / "logs"),
                    progress=False).run(jobs)
    assert report.ok and report["fresh"].status is Status.UPTODATE and report.counts["uptodate"] == 1
    assert [a.job.name for a in backend.ran] == ["needs-fresh", "low"]
    assert time.time() - (report["fresh"].started or 0) < 60


def test_the_timeline_shows_uptodate_jobs() -> None:
    from taskrunner.display.timeline import render_timeline

    page = render_timeline([JobResult("ran", Status.OK, history=((0.0, 1.0, "w0-1", "ok"),)),
                            JobResult("skipped-work", Status.UPTODATE, started=0.5, finished=0.5)])
    assert 'class="mark uptodate"' in page and "skipped-work: up to date" in page and ">up to date<" in page


# -- resources -------------------------------------------------------------------

STAMPED = "date +%s.%N > {n}.start; sleep {s}; echo \"$CUDA_VISIBLE_DEVICES|$TASKRUNNER_GPUS\" > {n}.env; date +%s.%N > {n}.end"


def spans(folder: Path, names: list[str]) -> dict[str, tuple[float, float]]:
    return {n: (float((folder / f"{n}.start").read_text()), float((folder / f"{n}.end").read_text())) for n in names}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_big_memory_jobs_never_overlap_while_small_jobs_fill_the_gaps(cli: CliRunner) -> None:
    big = [f"big-{i}" for i in range(2)]
    small = [f"small-{i}" for i in range(6)]
    lines = [f"  - {{name: {n}, run: '{STAMPED.format(n=n, s=0.6)}', resources: {{mem: 3G}}}}" for n in big]
    lines += [f"  - {{name: {n}, run: '{STAMPED.format(n=n, s=0.15)}'}}" for n in small]
    write(cli.workdir / "jobs.yaml", "jobs:\n" + "\n".join(lines) + "\n")
    done = cli.run("run", "jobs.yaml", "-j", "3", "--resources", "mem=4G")
    assert done.returncode == 0, done.stderr
    times = spans(cli.workdir, big + small)
    assert not overlap(times["big-0"], times["big-1"])
    first = min(big, key=lambda b: times[b][0])
    assert any(overlap(times[first], times[s]) for s in small)  # small jobs ran beside it, ahead of big-1
    never = cli.run("run", "jobs.yaml", "--resources", "mem=2G")
    assert never.returncode == 2 and never.stderr.strip() == (
        "job 'big-0' needs mem=3G but the run has 2G (give the run more with --resources)")
    bad = cli.run("run", "jobs.yaml", "--resources", "mem=lots")
    assert bad.returncode == 2 and "--resources" in bad.stderr and "Traceback" not in bad.stderr


def test_gpu_jobs_get_distinct_devices(cli: CliRunner) -> None:
    names = [f"g{i}" for i in range(4)]
    write(cli.workdir / "jobs.yaml", "resources: {gpu: 2}\njobs:\n" + "".join(
        f"  - {{name: {n}, run: '{STAMPED.format(n=n, s=0.3)}', resources: {{gpu: 1}}}}\n" for n in names)
        + f"  - {{name: plain, run: '{STAMPED.format(n='plain', s=0)}'}}\n")
    env = {k: v for k, v in cli.env.items() if k != "CUDA_VISIBLE_DEVICES"}
    cli.env = env
    done = cli.run("run", "jobs.yaml", "-j", "4")
    assert done.returncode == 0, done.stderr
    devices = {n: (cli.workdir / f"{n}.env").read_text().strip() for n in names}
    assert set(devices.values()) <= {"0|0", "1|1"}
    times = spans(cli.workdir, names)
    for a in names:
        for b in names:
            if a < b and overlap(times[a], times[b]):
                assert devices[a] != devices[b]
    assert (cli.workdir / "plain.env").read_text().strip() == "|"  # a job without gpus gets none
    # ... also on a worker that ran a gpu job just before.
    write(cli.workdir / "jobs.yaml", "resources: {gpu: 2}\njobs:\n"
          f"  - {{name: g, run: '{STAMPED.format(n='g', s=0)}', resources: {{gpu: 2}}}}\n"
          f"  - {{name: plain, run: '{STAMPED.format(n='plain', s=0)}', depends_on: g}}\n")
    assert cli.run("run", "jobs.yaml", "-j", "1").returncode == 0
    assert (cli.workdir / "g.env").read_text().strip() == "0,1|0,1"
    assert (cli.workdir / "plain.env").read_text().strip() == "|"


def test_backfill_is_bounded_and_gives_resources_back() -> None:
    from taskrunner.resources import ResourcePool

    jobs = [Job(name="wide", run="x", resources={"cpu": 2}), Job(name="a", run="x"), Job(name="b", run="x")]
    pool = ResourcePool({"cpu": 2})
    plan = Plan(jobs, resources=pool)
    assert [jobs[i].name for i, _ in plan.take_due(now=0.0, limit=5)] == ["wide"]
    assert plan.take_due(now=0.0, limit=5) == [] and plan.next_due() is None  # blocked: wait for an outcome
    plan.record(0, JobResult("wide", Status.OK, attempts=1), now=0.0)
    assert [jobs[i].name for i, _ in plan.take_due(now=0.0, limit=5)] == ["a", "b"] and pool.free["cpu"] == 0


# -- memory ------------------------------------------------------------------------

ALLOCATE = "python3 -c \"import time; b = bytearray({mb} << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep({s})\""


def test_memory_limits_kill_and_max_rss_is_measured(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", f"""jobs:
  - name: command-hog
    run: {json.dumps(ALLOCATE.format(mb=400, s=10))}
    memory_limit: 150M
  - name: command-300
    run: {json.dumps(ALLOCATE.format(mb=300, s=0))}
  - {{name: call-hog, call: 'jobs:allocate', args: [400, 10], memory_limit: 150M}}
  - {{name: call-300, call: 'jobs:allocate', args: [300]}}
  - {{name: after-hog, call: 'jobs:allocate', args: [1]}}
""")
    started = time.monotonic()
    done = cli.run("run", "jobs.yaml", "-j", "2")
    assert time.monotonic() - started < 9  # the hogs did not run their 10 s
    lines = {line["name"]: line for line in map(json.loads, (cli.workdir / ".taskrunner/jobs.results.jsonl")
                                                .read_text().splitlines())}
    assert done.returncode == 1
    assert lines["command-hog"]["status"] == "failed"
    assert lines["command-hog"]["error"] == "memory limit 150M exceeded; process group killed"
    assert lines["call-hog"]["status"] == "failed"
    assert lines["call-hog"]["error"] == "memory limit 150M exceeded; worker killed and replaced"
    allocated = 300 << 20
    for name in ("command-300", "call-300"):
        assert lines[name]["status"] == "ok"
        assert allocated <= lines[name]["max_rss"] <= 1.2 * allocated, (name, lines[name]["max_rss"])
    assert lines["after-hog"]["max_rss"] < allocated / 2  # a call's peak is its own, not the worker's


def test_memfree_holds_new_jobs_back(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'touch ran-a'}\n")
    assert cli.run("run", "jobs.yaml", "--memfree", "1K").returncode == 0 and (cli.workdir / "ran-a").exists()
    (cli.workdir / "ran-a").unlink()
    results = cli.workdir / ".taskrunner/jobs.results.jsonl"
    results.unlink()
    # All of the machine's memory: never available, but not more than it has (that is refused).
    everything = str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    proc = cli.start("run", "jobs.yaml", "--memfree", everything, start_new_session=True)
    deadline = time.monotonic() + 30
    while not results.exists() and time.monotonic() < deadline:  # the run has begun (its file is made)
        time.sleep(0.05)
    time.sleep(1.0)  # and held the job back for a while
    os.killpg(proc.pid, 2)
    proc.communicate(timeout=30)
    assert proc.returncode == 130 and not (cli.workdir / "ran-a").exists()
    assert statuses(cli.workdir / ".taskrunner/jobs.results.jsonl") == {"a": "cancelled"}
    bad = cli.run("run", "jobs.yaml", "--memfree", "plenty")
    assert bad.returncode == 2 and bad.stderr.startswith("memfree must be") and "Traceback" not in bad.stderr


# -- deciding at the last moment (issue 27, item 7) ----------------------------------------------

def _order(cli: CliRunner, jobs: list[str]) -> list[str]:
    write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(f"  - {job}\n" for job in jobs))
    done = cli.run("run", "jobs.yaml", "-j", "1")
    assert done.returncode == 0, done.stderr
    return (cli.workdir / "order.log").read_text().split()


def _job(name: str, extra: str = "") -> str:
    return f"{{name: {name}, run: 'echo {name} >> order.log; sleep 0.2'{extra}}}"


def test_a_job_that_becomes_ready_with_a_higher_priority_goes_first(cli: CliRunner) -> None:
    jobs = [_job("A", ", priority: 50"), _job("B", ", priority: 100, depends_on: A")]
    jobs += [_job(f"C{i}") for i in range(1, 5)]
    assert _order(cli, jobs)[:3] == ["A", "B", "C1"]


def test_the_critical_path_is_followed_as_it_becomes_ready(cli: CliRunner) -> None:
    jobs = [_job("head"), _job("mid", ", depends_on: head"), _job("tail", ", depends_on: mid"),
            _job("solo1"), _job("solo2")]
    assert _order(cli, jobs)[:2] == ["head", "mid"]


def test_chunks_grow_only_after_enough_attempts_were_seen() -> None:
    # Two quick jobs at the start of a run of long ones must not make the next
    # long ones travel together, one queued behind another on a busy worker.
    from taskrunner.backends.local.chunks import MIN_SAMPLES, ChunkSizer

    sizer = ChunkSizer()
    assert sizer.decide_late and sizer.ahead(3) == 3  # nothing seen yet: one per free worker
    for _ in range(MIN_SAMPLES - 1):
        sizer.observe(0.0001)
    assert sizer.size == 1 and not sizer.decide_late and sizer.ahead(3) == 6
    sizer.observe(0.0001)
    assert sizer.size == 100 and sizer.ahead(3) == 600
    sizer.observe(0.05)
    assert sizer.decide_late and sizer.ahead(3) == 3
