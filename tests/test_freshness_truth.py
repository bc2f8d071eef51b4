"""One truth about up-to-date jobs (issue 27, items 1, 2 and 9): ``--dry-run``,
``list`` and the run decide alike, by make's rule made robust (a dependency
that ran, clocks in the future, folders as outputs)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CliRunner, write
from taskrunner import Job, Runner
from taskrunner.backends.inprocess import InProcessBackend
from taskrunner.engine.freshness import Freshness
from taskrunner.engine.selection import dependency_order
from taskrunner.jobhash import job_hash
from taskrunner.model import JobResult, Status
from taskrunner.results.journal import result_line

pytestmark = pytest.mark.timeout(120)


def statuses(path: Path) -> dict[str, str]:
    return {line["name"]: line["status"] for line in map(json.loads, path.read_text().splitlines())}


RESULTS = ".taskrunner/jobs.results.jsonl"

SETUP_AND_BUILD = """jobs:
  - name: setup
    run: mkdir -p out
  - name: build-{n}
    run: echo {n} > out/{n}.txt
    matrix: {n: [1, 2, 3]}
    depends_on: setup
    outputs: out/{n}.txt
"""


def test_a_setup_job_without_outputs_makes_its_dependents_run_and_the_dry_run_says_so(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", SETUP_AND_BUILD)
    assert cli.run("run", "jobs.yaml").returncode == 0
    dry = cli.run("run", "jobs.yaml", "--dry-run")
    assert "4 jobs would run;" in dry.stderr and "(up to date)" not in dry.stdout
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert set(statuses(cli.workdir / RESULTS).values()) == {"ok"}  # what the dry run said


def test_a_setup_job_whose_output_is_the_folder_is_order_only(cli: CliRunner) -> None:
    # make's `| out`: the folder must exist; that it changed does not rebuild.
    write(cli.workdir / "jobs.yaml", SETUP_AND_BUILD.replace("run: mkdir -p out", "run: mkdir -p out\n    outputs: out"))
    assert cli.run("run", "jobs.yaml").returncode == 0
    os.utime(cli.workdir / "out", (time.time() + 0.5,) * 2)  # (a new file in it would do the same)
    dry = cli.run("run", "jobs.yaml", "--dry-run")
    assert dry.stdout.count("(up to date)") == 4, dry.stdout
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert set(statuses(cli.workdir / RESULTS).values()) == {"uptodate"}


def test_an_output_from_the_future_is_a_warning_and_never_lets_its_job_skip(cli: CliRunner) -> None:
    (cli.workdir / "in.txt").write_text("x")
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'cp in.txt out.txt', inputs: in.txt, outputs: out.txt}\n")
    assert cli.run("run", "jobs.yaml").returncode == 0
    tomorrow = time.time() + 86400
    os.utime(cli.workdir / "out.txt", (tomorrow, tomorrow))
    dry = cli.run("run", "jobs.yaml", "--dry-run")
    assert "(up to date)" not in dry.stdout and "out.txt has modification time 86400 s in the future" in dry.stderr
    done = cli.run("run", "jobs.yaml")
    assert statuses(cli.workdir / RESULTS) == {"a": "ok"}
    assert done.stderr.count("in the future (clock skew?)") == 1, done.stderr


def test_an_input_from_the_future_makes_its_job_run_with_a_warning(cli: CliRunner) -> None:
    (cli.workdir / "in.txt").write_text("x")
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'cp in.txt out.txt', inputs: in.txt, outputs: out.txt}\n")
    assert cli.run("run", "jobs.yaml").returncode == 0
    os.utime(cli.workdir / "in.txt", (time.time() + 3600,) * 2)
    done = cli.run("run", "jobs.yaml")
    assert statuses(cli.workdir / RESULTS) == {"a": "ok"} and "in.txt has modification time" in done.stderr


def test_a_dependency_that_ran_makes_its_dependent_run_whatever_the_clocks_say(tmp_path: Path) -> None:
    # The dependent's output is dated in the future, its dependency's output
    # (which it does not declare as an input) changes: it still runs.
    (tmp_path / "src").write_text("1")
    jobs = [Job(name="first", run="cp src mid", cwd=str(tmp_path), inputs="src", outputs="mid"),
            Job(name="second", run="touch -d '+1 hour' final", cwd=str(tmp_path), outputs="final",
                depends_on="first")]
    runner = Runner(backend=InProcessBackend(), results=str(tmp_path / "r.jsonl"), progress=False)
    assert runner.run(jobs).ok
    os.utime(tmp_path / "src", (time.time() + 0.5,) * 2)  # newer than mid, older than final
    report = Runner(backend=InProcessBackend(), results=str(tmp_path / "r.jsonl"), progress=False).run(jobs)
    assert report["first"].status is Status.OK and report["second"].status is Status.OK


def test_a_folder_output_is_as_new_as_its_newest_file(cli: CliRunner) -> None:
    # The job rewrites a file in place: the folder's own time stays old.
    (cli.workdir / "in.txt").write_text("x")
    write(cli.workdir / "jobs.yaml",
          "jobs:\n  - {name: a, run: 'mkdir -p outdir && cp in.txt outdir/x', inputs: in.txt, outputs: outdir}\n")
    assert cli.run("run", "jobs.yaml").returncode == 0
    past = time.time() - 100
    os.utime(cli.workdir / "outdir", (past, past))
    os.utime(cli.workdir / "in.txt", (past + 10, past + 10))
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert statuses(cli.workdir / RESULTS) == {"a": "uptodate"}


def test_an_output_exactly_as_new_as_its_newest_input_is_up_to_date(tmp_path: Path) -> None:
    for name in ("in.txt", "out.txt"):
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, ns=(1_700_000_000_123_456_789,) * 2)
    job = Job(name="a", run="x", cwd=str(tmp_path), inputs="in.txt", outputs="out.txt")
    assert Freshness([job], {}).fresh_result(job, now=0.0) is not None  # make's rule: as new counts
    os.utime(tmp_path / "in.txt", ns=(1_700_000_000_123_456_790,) * 2)
    assert Freshness([job], {}).fresh_result(job, now=0.0) is None


def test_list_marks_up_to_date_only_what_the_run_would_skip(cli: CliRunner) -> None:
    (cli.workdir / "in.txt").write_text("x")
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'cp in.txt out.txt', inputs: in.txt, outputs: out.txt}\n")
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert "(up to date)" in cli.run("list", "jobs.yaml").stdout
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'cp -p in.txt out.txt', inputs: in.txt, outputs: out.txt}\n")
    assert "(up to date)" not in cli.run("list", "jobs.yaml").stdout  # the command changed: it reruns
    assert "(up to date)" not in cli.run("run", "jobs.yaml", "--dry-run").stdout


# -- the property: what --dry-run says is what the run does --------------------------------

FILE_TIMES = st.sampled_from([None, 0, 10, 20, "future"])


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[list[dict[str, object]], dict[str, object], dict[str, str]]:
    """Random DAGs of jobs over a few source files and their own outputs, with
    random file times (some equal, some in the future) and earlier results."""
    count = draw(st.integers(1, 6))
    sources = [f"src{i}" for i in range(3)]
    specs: list[dict[str, object]] = []
    files: dict[str, object] = {name: draw(FILE_TIMES) for name in sources}
    earlier: dict[str, str] = {}
    for i in range(count):
        depends = sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else []
        outputs = [f"out{i}_{k}" for k in range(draw(st.integers(0, 2)))]
        folder_output = draw(st.booleans()) and bool(outputs)
        if folder_output:
            outputs[0] = f"dir{i}"
        made_by_dependencies = [o for d in depends for o in specs[d]["outputs"]]  # type: ignore[attr-defined]
        inputs = sorted(draw(st.sets(st.sampled_from(sources + made_by_dependencies), max_size=2)))
        for output in outputs:
            files[output] = draw(FILE_TIMES)
        specs.append({"name": f"j{i}", "depends_on": [f"j{d}" for d in depends], "outputs": outputs,
                      "inputs": inputs, "freshness": draw(st.sampled_from(["mtime", "content"]))})
        previous = draw(st.sampled_from(["none", "ok", "failed"]))
        if previous != "none":
            earlier[f"j{i}"] = previous
    return specs, files, earlier


def _make(folder: Path, name: str, when: object, base: float) -> None:
    if when is None:
        return
    stamp = base + 7200 if when == "future" else base + float(when)  # type: ignore[arg-type]
    path = folder / name
    if name.startswith("dir"):
        path.mkdir()
        (path / "f").write_text(name)
        os.utime(path / "f", (stamp, stamp))
    else:
        path.write_text(name)
    os.utime(path, (stamp, stamp))


def _dry_run_then_run(runner: Runner, jobs: list[Job], why: object) -> None:
    preview = runner.preview(jobs)
    would_skip = Freshness(jobs, preview.last).up_to_date(dependency_order(preview.to_run))  # as --dry-run
    report = runner.run(jobs)
    ran = {r.name for r in report.results if r.status is Status.OK}
    skipped = {r.name for r in report.results if r.status is Status.UPTODATE}
    assert skipped == would_skip and ran == {job.name for job in jobs} - would_skip, why


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pipeline=pipelines(), data=st.data())
def test_the_dry_run_names_exactly_the_jobs_the_run_runs(tmp_path_factory: pytest.TempPathFactory,
                                                          pipeline: tuple[list[dict[str, object]], dict[str, object],
                                                                          dict[str, str]],
                                                          data: st.DataObject) -> None:
    specs, files, earlier = pipeline
    folder = tmp_path_factory.mktemp("pipeline")
    base = time.time() - 1000
    for name, when in files.items():
        _make(folder, name, when, base)
    jobs = []
    for spec in specs:
        outputs = list(spec["outputs"])  # type: ignore[call-overload]
        touch = " && ".join(f"mkdir -p {o} && touch {o}/f {o}" if o.startswith("dir") else f"touch {o}"
                            for o in outputs) or "true"
        jobs.append(Job(name=str(spec["name"]), run=touch, cwd=str(folder), outputs=tuple(outputs),
                        inputs=tuple(spec["inputs"]), depends_on=tuple(spec["depends_on"]),  # type: ignore[call-overload]
                        freshness=str(spec["freshness"])))
    results = folder / "r.jsonl"
    results.write_text("".join(result_line(JobResult(name, Status.OK if how == "ok" else Status.FAILED,
                                                     job_hash=job_hash(next(j for j in jobs if j.name == name))))
                               for name, how in earlier.items()))
    runner = Runner(backend=InProcessBackend(), results=str(results), progress=False)
    _dry_run_then_run(runner, jobs, (specs, files, earlier))
    # Then some files are touched, rewritten (with an old time) or left alone, and again.
    changes = {name: data.draw(st.sampled_from(["none", "touch", "rewrite"])) for name in files
               if (folder / name).is_file()}
    for name, change in changes.items():
        if change == "rewrite":
            stamp = (folder / name).stat().st_mtime_ns
            (folder / name).write_text("changed")
            os.utime(folder / name, ns=(stamp, stamp))
        elif change == "touch":
            os.utime(folder / name)
    _dry_run_then_run(runner, jobs, (specs, files, earlier, changes))


# -- order from files (item 3) ---------------------------------------------------------------

def test_a_job_reading_another_jobs_output_waits_for_it_without_depends_on(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: consume, run: 'cat x.txt > y.txt', inputs: x.txt, outputs: y.txt}
  - {name: produce, run: 'sleep 0.3; echo made > x.txt', outputs: x.txt}
  - {name: report, run: 'cat y.txt', inputs: '*.txt'}
""")
    assert cli.run("validate", "jobs.yaml").returncode == 0
    listed = cli.run("list", "jobs.yaml").stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["produce", "consume", "report"]
    assert "(after: produce)" in listed[1] and "(after: consume, produce)" in listed[2]
    done = cli.run("run", "jobs.yaml", "-j", "3")
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "y.txt").read_text() == "made\n"


def test_a_cycle_that_files_make_names_the_file(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: a, run: 'true', inputs: b.txt, outputs: a.txt}
  - {name: b, run: 'true', depends_on: a, outputs: b.txt}
""")
    done = cli.run("validate", "jobs.yaml")
    assert done.returncode == 2
    assert done.stderr.strip() == ("jobs.yaml:2: job 'a': dependency cycle a -> b -> a "
                                   "(job 'a' reads 'b.txt', which job 'b' makes)")


def test_the_python_api_orders_by_files_too(tmp_path: Path) -> None:
    backend = InProcessBackend()
    jobs = [Job(name="use", run="cat made.txt", cwd=str(tmp_path), inputs="made.txt"),
            Job(name="make", run="echo x > made.txt", cwd=str(tmp_path), outputs="made.txt")]
    report = Runner(backend=backend, results=str(tmp_path / "r.jsonl"), progress=False).run(jobs)
    assert report.ok and [a.job.name for a in backend.ran] == ["make", "use"]


# -- slots everywhere (item 8) ---------------------------------------------------------------

def test_the_worker_name_carries_the_slot_the_job_saw_and_up_to_date_jobs_are_marks(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: 'slot-{n}', run: 'echo $TASKRUNNER_SLOT > {n}.slot; sleep 0.2', matrix: {n: [1, 2, 3, 4]}}
  - {name: made, run: 'touch made.txt', outputs: made.txt}
""")
    assert cli.run("run", "jobs.yaml", "-j", "2").returncode == 0
    lines = [json.loads(line) for line in (cli.workdir / RESULTS).read_text().splitlines()]
    for line in lines:
        if line["name"].startswith("slot-"):
            slot = (cli.workdir / f"{line['name'][5:]}.slot").read_text().strip()
            assert line["worker"].startswith(f"w{slot}-") and slot in ("1", "2"), line
    assert cli.run("run", "jobs.yaml", "-j", "2").returncode == 0
    made = next(line for line in map(json.loads, (cli.workdir / RESULTS).read_text().splitlines())
                if line["name"] == "made")
    assert made["status"] == "uptodate" and made["history"] == []
    done = cli.run("report", RESULTS, "--timeline", "t.html")
    page = (cli.workdir / "t.html").read_text()
    assert ">?<" not in page and ">up to date<" in page and ", 2 workers</h1>" in page, done.stderr


# -- build-tool parity (item 9) --------------------------------------------------------------

BUILD = """jobs:
  - name: cc-{f}
    run: 'if grep -q ERROR {f}.c; then exit 1; fi; cp {f}.c {f}.o'
    matrix: {f: [a, b, c]}
    inputs: '{f}.c'
    outputs: '{f}.o'
  - name: link
    run: cat a.o b.o c.o > lib.a
    inputs: ['*.o']
    outputs: lib.a
"""


def test_resume_reruns_a_kept_job_whose_input_changed(cli: CliRunner) -> None:
    for name in "abc":
        (cli.workdir / f"{name}.c").write_text(f"{name}1\n")
    (cli.workdir / "b.c").write_text("ERROR\n")
    write(cli.workdir / "jobs.yaml", BUILD)
    assert cli.run("run", "jobs.yaml").returncode == 1
    (cli.workdir / "b.c").write_text("b1\n")  # the fix
    later = time.time() + 0.5
    (cli.workdir / "c.c").write_text("c2\n")  # and another file touched
    os.utime(cli.workdir / "c.c", (later, later))
    dry = cli.run("run", "jobs.yaml", "--resume", "--dry-run")
    assert sorted(line.split("\t")[0] for line in dry.stdout.splitlines()) == ["cc-b", "cc-c", "link"], dry.stdout
    done = cli.run("run", "jobs.yaml", "--resume")
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "lib.a").read_text() == "a1\nb1\nc2\n"
    assert statuses(cli.workdir / RESULTS) == {"cc-a": "ok", "cc-b": "ok", "cc-c": "ok", "link": "ok"}


def test_an_up_to_date_line_keeps_the_last_real_duration_for_the_critical_path(cli: CliRunner) -> None:
    (cli.workdir / "in.txt").write_text("x")
    write(cli.workdir / "jobs.yaml",
          "jobs:\n  - {name: slow, run: 'sleep 0.3; cp in.txt out.txt', inputs: in.txt, outputs: out.txt}\n")
    assert cli.run("run", "jobs.yaml").returncode == 0
    for _ in range(2):
        done = cli.run("run", "jobs.yaml")
        line = json.loads((cli.workdir / RESULTS).read_text())
        assert line["status"] == "uptodate" and line["duration"] >= 0.3, line
        assert "slowest:" not in done.stderr  # it did not run


def test_a_default_false_job_runs_only_when_selected(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: build, run: 'touch built'}
  - {name: clean, run: 'rm -f built; touch cleaned', default: false}
""")
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert not (cli.workdir / "cleaned").exists()
    assert "clean\trun\trm -f built; touch cleaned  (only when selected)" in cli.run("list", "jobs.yaml").stdout
    assert "clean" not in cli.run("run", "jobs.yaml", "--dry-run").stdout
    assert cli.run("run", "jobs.yaml", "--only", "clean").returncode == 0
    assert (cli.workdir / "cleaned").exists() and not (cli.workdir / "built").exists()
    assert statuses(cli.workdir / RESULTS) == {"build": "ok", "clean": "ok"}


def test_a_failed_job_leaves_no_partial_output_unless_it_keeps_them(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: half, run: 'echo part > half.txt; exit 1', outputs: half.txt}
  - {name: kept, run: 'echo part > kept.txt; exit 1', outputs: kept.txt, keep_failed_outputs: true}
""")
    assert cli.run("run", "jobs.yaml").returncode == 1
    assert not (cli.workdir / "half.txt").exists() and (cli.workdir / "kept.txt").exists()
    (cli.workdir / ".taskrunner" / "jobs.results.jsonl").unlink()  # the record gone: still not up to date
    assert "half\t" in cli.run("run", "jobs.yaml", "--dry-run").stdout


DEPFILE_BUILD = """jobs:
  - name: cc-{f}
    run: 'cat {f}.c inc.h > {f}.o && printf "{f}.o: {f}.c \\\\\\\\\\\\n inc.h\\\\n" > {f}.d && echo {f} >> ran.log'
    matrix: {f: [a, b]}
    inputs: ['{f}.c', {depfile: '{f}.d'}]
    outputs: '{f}.o'
"""


def test_a_depfile_lists_the_headers_a_job_read(cli: CliRunner) -> None:
    for name in ("a.c", "b.c", "inc.h"):
        (cli.workdir / name).write_text(name)
    write(cli.workdir / "jobs.yaml", DEPFILE_BUILD)
    assert cli.run("validate", "jobs.yaml").returncode == 0  # no .d yet: not an unmade input
    listed = json.loads(cli.run("list", "jobs.yaml", "--json").stdout)
    assert listed[0]["inputs"] == ["a.c", {"depfile": "a.d"}]
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert (cli.workdir / "a.d").read_text() == "a.o: a.c \\\n inc.h\n"
    assert sorted((cli.workdir / "ran.log").read_text().split()) == ["a", "b"]
    (cli.workdir / "ran.log").unlink()
    assert cli.run("run", "jobs.yaml").returncode == 0 and not (cli.workdir / "ran.log").exists()
    os.utime(cli.workdir / "inc.h")  # the header both read (now: newer than the objects): both rebuild
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert sorted((cli.workdir / "ran.log").read_text().split()) == ["a", "b"]
    (cli.workdir / "ran.log").unlink()
    os.utime(cli.workdir / "b.c")  # only b's source
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert (cli.workdir / "ran.log").read_text().split() == ["b"]


def test_content_freshness_ignores_times_and_follows_content(cli: CliRunner) -> None:
    (cli.workdir / "in.txt").write_text("one")
    write(cli.workdir / "jobs.yaml", """defaults: {freshness: content}
jobs:
  - {name: copy, run: 'cp in.txt out.txt && echo copy >> ran.log', inputs: in.txt, outputs: out.txt}
""")
    assert cli.run("run", "jobs.yaml").returncode == 0
    line = json.loads((cli.workdir / RESULTS).read_text())
    assert len(line["content_hash"]) == 32
    os.utime(cli.workdir / "in.txt", (time.time() + 5,) * 2)  # touched (even from the future), not changed
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert statuses(cli.workdir / RESULTS) == {"copy": "uptodate"}
    assert json.loads((cli.workdir / RESULTS).read_text())["content_hash"] == line["content_hash"]
    (cli.workdir / "in.txt").write_text("two")  # changed, and older than the output
    os.utime(cli.workdir / "in.txt", (time.time() - 100,) * 2)
    assert "(up to date)" not in cli.run("run", "jobs.yaml", "--dry-run").stdout
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert statuses(cli.workdir / RESULTS) == {"copy": "ok"} and (cli.workdir / "out.txt").read_text() == "two"
    (cli.workdir / "out.txt").write_text("edited by hand")  # an output changed: rerun too
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert (cli.workdir / "ran.log").read_text().split() == ["copy"] * 3


def test_a_bad_freshness_is_refused(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true', freshness: hash}\n")
    done = cli.run("validate", "jobs.yaml")
    assert done.returncode == 2 and "'freshness' must be mtime or content" in done.stderr
