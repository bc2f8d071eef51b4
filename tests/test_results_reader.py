"""The results-file reader: every line checked, a torn last line tolerated, any
other bad line a ``FILE:LINE: what`` error — never a traceback (property test
with hypothesis); and the pure choice of which lines a run keeps."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner as ClickRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskrunner import jobhash
from taskrunner.cli.commands import cli
from taskrunner.display.summary import format_summary
from taskrunner.display.timeline import render_timeline
from taskrunner.errors import ResultsFileError
from taskrunner.jobfile.spec import load_job_file
from taskrunner.jobhash import job_hash
from taskrunner.model import Job, JobResult, Status
from taskrunner.results.journal import read_results, result_line
from taskrunner.results.retention import retain

GOOD = {"name": "a", "status": "ok", "returncode": 0, "value": None, "error": None, "attempts": 1,
        "started": 1.0, "finished": 2.0, "duration": 1.0, "worker": "w0-1", "stdout_log": None,
        "stderr_log": None, "stderr_tail": None, "history": [[1.0, 2.0, "w0-1", "ok"]], "job_hash": "0123456789abcdef",
        "max_rss": 123456}


def results_file(tmp_path: Path, *rows: str, torn: str = "") -> Path:
    path = tmp_path / "r.jsonl"
    path.write_text("".join(row + "\n" for row in rows) + torn)
    return path


def test_good_lines_read_back_exactly(tmp_path: Path) -> None:
    path = results_file(tmp_path, json.dumps(GOOD), json.dumps({"name": "b", "status": "failed"}))
    first, second = read_results(str(path))
    assert first.to_dict() == GOOD
    assert second.status is Status.FAILED and second.job_hash is None


def _after_a_read(path: Path, before: str, after: str) -> str:
    """What ``after`` prints once a fresh interpreter has run ``before`` and
    read the results file at ``path`` into ``results`` (the collector's state
    is the whole process's, and this test's own has run commands in it)."""
    import subprocess
    import sys

    script = ("import gc, sys\n"
              "from taskrunner.owner import own_the_process\n"
              "from taskrunner.results.journal import read_results\n"
              f"{before}\n"
              "results = read_results(sys.argv[1])\n"
              f"{after}\n")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


YOUNG = "young = {id(obj) for generation in (0, 1) for obj in gc.get_objects(generation)}"


def test_results_read_are_not_left_for_a_young_collection_to_walk(tmp_path: Path) -> None:
    """Mutant: 100,000 results read were left young, and the first young
    collection after the read walked them all (50 ms), finding nothing."""
    path = results_file(tmp_path, *(json.dumps({**GOOD, "name": f"j{n}"}) for n in range(200)))
    # A program that froze nothing: the results are old, nothing is frozen. (Python 3.12.1 starts
    # with objects frozen: then nothing may be unfrozen, and the results stay young.)
    assert _after_a_read(path, "initial = gc.get_freeze_count()",
                         f"{YOUNG}\nprint(sum(id(r) in young for r in results) == (initial and len(results)), "
                         "gc.get_freeze_count() == initial, gc.isenabled())") == "True True True"
    # A program that froze objects of its own: they stay frozen, the results stay young.
    assert _after_a_read(path, "own = [object()]\ngc.freeze()",
                         "seen = {id(obj) for generation in (0, 1, 2) for obj in gc.get_objects(generation)}\n"
                         f"{YOUNG}\nprint(id(own) in seen, all(id(r) in young for r in results))") == "False True"
    # A command's process: the results are frozen.
    assert _after_a_read(path, "own_the_process()\nfrozen = gc.get_freeze_count()",
                         "print(gc.get_freeze_count() - frozen >= len(results) == 200, gc.isenabled())") == "True True"


def test_a_torn_last_line_is_ignored_with_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    path = results_file(tmp_path, json.dumps(GOOD), torn='{"name": "b", "st')
    assert [r.name for r in read_results(str(path), on_warning=warnings.append)] == ["a"]
    assert warnings == [f"{path}:2: ignored a torn last line (a run was killed while writing it)"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1,2,3]", "not a JSON object"),
        ("NaN", "not JSON"),
        ("{nope", "not JSON"),
        ('{"status": "ok"}', "'name'"),
        ('{"name": ["a"], "status": "ok"}', "'name'"),
        ('{"name": "", "status": "ok"}', "'name'"),
        ('{"name": "a", "status": "fine"}', "'status'"),
        ('{"name": "a", "status": "ok", "started": "x"}', "'started'"),
        ('{"name": "a", "status": "ok", "started": NaN}', "not JSON"),
        ('{"name": "a", "status": "ok", "returncode": true}', "'returncode'"),
        ('{"name": "a", "status": "ok", "attempts": -1}', "'attempts'"),
        ('{"name": "a", "status": "ok", "history": [[1,2]]}', "'history'"),
        ('{"name": "a", "status": "ok", "history": [[1,2,"w","nope"]]}', "'history'"),
        ('{"name": "a", "status": "ok", "history": 5}', "'history'"),
        ('{"name": "a", "status": "ok", "error": 3}', "'error'"),
        ('{"name": "a", "status": "ok", "job_hash": 7}', "'job_hash'"),
        ("", "empty line"),
    ],
)
def test_every_other_bad_line_is_named_by_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = results_file(tmp_path, json.dumps(GOOD), line, json.dumps(GOOD))
    with pytest.raises(ResultsFileError) as caught:
        read_results(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}:2: ") and problem in message and "\n" not in message


def _mutations() -> st.SearchStrategy[bytes]:
    row = json.dumps(GOOD).encode()
    good = b"".join(row.replace(b'"a"', f'"j{i}"'.encode()) + b"\n" for i in range(3))
    junk = st.one_of(st.binary(max_size=12), st.sampled_from(
        [b"null", b"[]", b"{}", b"NaN", b'"x"', b"-1", b"1e999", b"true", b"\n", b"\xff", b'{"h":', b"]]"]))
    return st.tuples(st.integers(0, len(good)), st.integers(0, 20), junk, st.booleans()).map(
        lambda m: (good[: m[0]] + m[2] + good[m[0] + m[1]:]) if m[3] else good[: m[0]])


@settings(max_examples=int(__import__("os").environ.get("READER_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_mutations())
def test_mutated_results_files_never_raise_anything_else(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mutated.jsonl"
    path.write_bytes(content)
    try:
        results = read_results(str(path), on_warning=lambda _: None)
    except ResultsFileError as error:
        assert str(error).startswith(f"{path}:") and "\n" not in str(error)
        return
    # Whatever reads back can be summarised and drawn.
    render_timeline(results)
    format_summary(__import__("taskrunner").RunReport(tuple(results)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_mutations())
def test_report_command_on_mutated_files_is_a_summary_or_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mutated.jsonl"
    path.write_bytes(content)
    done = ClickRunner().invoke(cli, ["report", str(path), "--timeline", str(tmp_path / "t.html")])
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert done.exit_code in (0, 1, 2)
    if done.exit_code == 2:
        assert len(done.output.strip().splitlines()) == 1 and done.output.startswith(f"{path}:")


# job_hash and retention: pure logic.


def test_job_hash_is_stable_short_hex_and_follows_the_definition() -> None:
    job = Job(name="a", run="echo hi", env={"X": "1"}, cwd="sub")
    assert job_hash(job) == job_hash(Job(name="a", run="echo hi", env={"X": "1"}, cwd="sub"))
    assert len(job_hash(job)) == 16 and int(job_hash(job), 16) >= 0
    # What does not change the work does not change the hash.
    assert job_hash(job) == job_hash(Job(name="b", run="echo hi", env={"X": "1"}, cwd="sub", timeout=5, retries=2,
                                         tags=("t",)))
    for changed in (Job(name="a", run="echo ho", env={"X": "1"}, cwd="sub"),
                    Job(name="a", run=["echo", "hi"], env={"X": "1"}, cwd="sub"),
                    Job(name="a", run="echo hi", env={"X": "2"}, cwd="sub"),
                    Job(name="a", run="echo hi", env={"X": "1"}, cwd="other")):
        assert job_hash(changed) != job_hash(job)
    call = Job(name="c", call="m:f", args=(1, "x"), kwargs={"k": [1]})
    assert job_hash(call) != job_hash(Job(name="c", call="m:f", args=(1, "y"), kwargs={"k": [1]}))
    assert job_hash(call) != job_hash(Job(name="c", call="m:g", args=(1, "x"), kwargs={"k": [1]}))
    # A function counts as "module:qualname" (the documented recipe), with its arguments.
    assert job_hash(Job(name="f", call=os.path.join, args=(1, "x"))) == job_hash(
        Job(name="f", call="posixpath:join", args=(1, "x")))
    assert job_hash(Job(name="f", call=os.path.join)) != job_hash(Job(name="f", call=os.path.split))
    # Known value: the documented recipe must not drift between releases.
    assert job_hash(Job(name="a", run="true")) == "c289865de1942316"


texts = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=()), max_size=6)
#: Arguments of every kind a JSON scalar can be (and some it cannot: those
#: leave the job to the encoder, which must then be what the hash uses).
scalars = st.one_of(texts, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([1 << 80, -0.0, 1e-320, 5e300]))
odd_values = st.sampled_from([[1, 2], {"b": 1, "a": 2}, ("t",), b"x", 2j])


def _module_function(x: int = 0) -> int:
    return x


@settings(max_examples=400, deadline=None)
@given(run=st.one_of(texts.filter(str.strip), st.lists(texts.filter(str.strip), min_size=1, max_size=3).map(tuple)),
       call=st.sampled_from([None, "m:f", "pkg.mod:fn", len, _module_function, os.path.join]),
       cwd=st.one_of(st.none(), texts.filter(str.strip)),
       env=st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_é]{0,4}", fullmatch=True), texts, max_size=3), codes=st.sampled_from([(0,), (0, 3), (255, 1)]),
       shell=st.one_of(st.none(), st.lists(texts.filter(str.strip), min_size=1, max_size=2).map(tuple)),
       args=st.lists(st.one_of(scalars, odd_values), max_size=3).map(tuple),
       kwargs=st.dictionaries(texts, st.one_of(scalars, odd_values), max_size=3))
def test_the_written_out_hash_text_is_the_encoders(run: Any, call: Any, cwd: Any, env: dict[str, str],
                                                  codes: tuple[int, ...], shell: Any, args: tuple[Any, ...],
                                                  kwargs: dict[str, Any]) -> None:
    """The common job's hash text, written directly, is byte for byte what the
    recipe's JSON encoder writes (surrogates, control characters, U+2028,
    every kind of number included); a job it cannot write is left to the encoder."""
    fields: dict[str, Any] = ({"call": call, "args": args, "kwargs": kwargs} if call is not None
                              else {"run": run, "success_codes": codes, "shell": shell})
    job = Job(name="j", cwd=cwd, env=env, **fields)
    shared = jobhash._shared_text(job)
    written = None if shared is None else jobhash._plain_definition(job, shared)
    plain = all(type(value) in (str, int, bool, type(None)) or (type(value) is float and math.isfinite(value))
                for value in (*job.args, *job.kwargs.values()))
    assert (written is not None) == plain  # what it can write, it writes
    if written is not None:
        assert written == jobhash._ENCODER.encode(jobhash._definition(job))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, "m:f", len]), st.sampled_from([(0,), (0, 3)]),
                          st.sampled_from([None, ("bash", "-c")]), st.sampled_from(["echo", ("echo", "x")]),
                          st.sampled_from([(), (1,)]), st.sampled_from([None, "sub"]),
                          st.sampled_from([{}, {"A": "1"}]), st.sampled_from([{}, {"k": 2}])), max_size=12))
def test_the_bulk_hasher_gives_each_job_its_own_hash(specs: list[tuple[Any, ...]]) -> None:
    """``job_hasher`` works out what jobs share once per shape: every job,
    sharing a shape with the one before it or not, still gets ``job_hash``."""
    jobs = []
    for number, (call, codes, shell, run, args, cwd, env, kwargs) in enumerate(specs):
        fields: dict[str, Any] = ({"call": call, "args": args, "kwargs": kwargs} if call is not None
                                  else {"run": run, "success_codes": codes, "shell": shell})
        jobs.append(Job(name=f"j{number}", cwd=cwd, env=env, **fields))
    hash_of = jobhash.job_hasher()
    assert [hash_of(job) for job in jobs] == [job_hash(job) for job in jobs]


_MATRIX_JOBS = """\
jobs:
  - {name: "a{n}", run: "echo hi", env: {X: "1"}, cwd: sub, matrix: {n: [1, 2]}}
  - {name: "b{n}", run: "echo {n}", env: {X: "1"}, matrix: {n: [1, 2]}}
  - {name: "c{n}", run: "echo hi", env: {X: "{n}"}, matrix: {n: [1, 2]}}
  - {name: "d{n}", run: "echo hi", cwd: "d{n}", matrix: {n: [1, 2]}}
  - {name: "e{n}", call: "m:f", kwargs: {k: "{n}"}, matrix: {n: [1, 2]}}
  - {name: "f{n}", call: "m:f", args: ["{n}"], matrix: {n: [1, 2]}}
  - {name: g1, call: "m:f"}
  - {name: g2, call: "m:g"}
  - {name: "h{n}", call: "m:f", matrix: {n: [1, 2]}}
"""


def test_the_bulk_hasher_hashes_a_matrix_job_defined_by_the_same_objects_once(tmp_path: Path) -> None:
    """A matrix field without a placeholder is one object in every job: a job
    whose definition is the job before it's, object for object, gets its hash
    without hashing; one that differs in any field of the definition (each
    pair below differs in one) is hashed."""
    path = tmp_path / "jobs.yaml"
    path.write_text(_MATRIX_JOBS)
    jobs = load_job_file(str(path)).jobs
    assert jobs[0].env is jobs[1].env and jobs[0].run is jobs[1].run  # (what the shortcut relies on)
    hash_of = jobhash.job_hasher()
    hashes = [hash_of(job) for job in jobs]
    assert hashes == [job_hash(job) for job in jobs]
    assert hashes[0] == hashes[1] and hashes[-2] == hashes[-1]
    assert all(hashes[i] != hashes[i + 1] for i in range(2, 14, 2))


def _result(job: Job, status: Status = Status.OK, hashed: bool = True) -> JobResult:
    return JobResult(job.name, status, job_hash=job_hash(job) if hashed else None)


def test_retain_fresh_run_keeps_nothing() -> None:
    a = Job(name="a", run="true")
    kept = retain([_result(a)], [a], resume=False, select=None)
    assert kept.lines == [] and kept.done == {}


def test_retain_selection_keeps_unselected_lines_and_drops_the_selected() -> None:
    a, b, c = (Job(name=n, run="true") for n in "abc")
    previous = [_result(a), _result(b, Status.FAILED), _result(c)]
    kept = retain(previous, [a, b, c], resume=False, select={"b", "c"})
    assert [r.name for r in kept.lines] == ["a"] and kept.done == {} and kept.foreign == 0


def test_retain_resume_keeps_matching_successes_and_foreign_lines_only() -> None:
    a, b, c = (Job(name=n, run="true") for n in "abc")
    changed = Job(name="b", run="false")
    x = Job(name="x", run="true")
    previous = [_result(a), _result(b), _result(c, Status.FAILED), _result(x, Status.FAILED),
                _result(Job(name="d", run="true"), hashed=False)]
    kept = retain(previous, [a, changed, c, Job(name="d", run="true")], resume=True, select=None)
    assert set(kept.done) == {"a"}
    assert [r.name for r in kept.lines] == ["a", "x"] and kept.foreign == 1
    assert list(kept.numbers) == [0, 3]  # where they are in the file: copied from there
    assert list(kept.without({"a"}).numbers) == [3] and not kept.without({"a"}).done


def test_retain_resume_with_selection_keeps_the_unselected_whatever_their_status() -> None:
    a, b = Job(name="a", run="true"), Job(name="b", run="true")
    kept = retain([_result(a, Status.FAILED), _result(b)], [a, b], resume=True, select={"b"})
    assert [r.name for r in kept.lines] == ["a", "b"] and set(kept.done) == {"b"} and kept.foreign == 0


def test_retain_keeps_the_last_line_of_a_job_listed_twice() -> None:
    a = Job(name="a", run="true")
    kept = retain([_result(a, Status.FAILED), _result(a)], [a], resume=True, select=None)
    assert [r.status for r in kept.lines] == [Status.OK] and set(kept.done) == {"a"}
    assert list(kept.numbers) == [1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdx"), st.sampled_from([Status.OK, Status.UPTODATE, Status.FAILED]),
                          st.sampled_from(["same", "changed", "unhashed"])), max_size=8),
       st.sets(st.sampled_from("abcd")))
def test_resume_keeps_each_jobs_last_line_when_it_succeeded_with_the_jobs_hash(
        lines: list[tuple[str, Status, str]], listed: set[str]) -> None:
    """Whether every line is kept (decided a column at a time) or not (line by
    line), ``--resume`` keeps the same: each name's last line, a success of a
    listed job with its hash, or any line of a job not listed (foreign)."""
    jobs = [Job(name=name, run=f"echo {name}") for name in sorted(listed)]
    previous = [JobResult(name, status, job_hash={"same": job_hash(Job(name=name, run=f"echo {name}")), "unhashed": None,
                                                  "changed": job_hash(Job(name=name, run="false"))}[how])
                for name, status, how in lines]
    last = {result.name: number for number, result in enumerate(previous)}
    expected = {name: number for name, number in last.items()
                if name not in listed or (previous[number].status in (Status.OK, Status.UPTODATE)
                                          and lines[number][2] == "same")}
    kept = retain(previous, jobs, resume=True, select=None, whole_lines=len(previous))
    assert list(kept.numbers) == sorted(expected.values())
    assert dict(kept.done.numbers) == {name: number for name, number in expected.items() if name in listed}
    assert [r.name for r in kept.lines] == [previous[n].name for n in sorted(expected.values())]
    assert kept.foreign == len(set(last) - listed)
    assert kept.keeps_the_whole_file == (len(expected) == len(previous))


@pytest.mark.parametrize("line", ['{"name": "a", "status": []}', '{"name": "a", "status": "ok", "history": [[1, 2, "w", {}]]}'])
def test_unhashable_values_where_a_status_belongs_are_named(tmp_path: Path, line: str) -> None:
    """Found by the property test: a list where a status belongs raised TypeError."""
    path = results_file(tmp_path, line)
    with pytest.raises(ResultsFileError, match=r":1: '(status|history)' must be"):
        read_results(str(path))


_text = st.text(st.characters(blacklist_categories=()), max_size=12)  # lone surrogates, quotes, controls too
_number = st.one_of(st.integers(min_value=-(1 << 70), max_value=1 << 70), st.floats(allow_nan=True, allow_infinity=True))
_scalar = st.one_of(st.none(), st.booleans(), _number, _text)
_json_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(_text, inner, max_size=3)), max_leaves=6)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_text, status=st.sampled_from(list(Status)), returncode=st.one_of(st.none(), st.integers(), st.booleans()),
    value=_json_value, error=st.one_of(st.none(), _text), attempts=st.integers(min_value=0, max_value=9),
    times=st.tuples(_scalar, _scalar, _scalar), worker=st.one_of(st.none(), _text),
    logs=st.tuples(st.one_of(st.none(), _text), st.one_of(st.none(), _text), st.one_of(st.none(), _text)),
    history=st.lists(st.tuples(_number, _number, _text, st.sampled_from([s.value for s in Status])), max_size=3),
    job_hash=st.one_of(st.none(), _text), max_rss=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_a_results_line_is_the_json_encoders_text(
    name: str, status: Status, returncode: object, value: object, error: str | None, attempts: int,
    times: tuple[object, object, object], worker: str | None, logs: tuple[str | None, str | None, str | None],
    history: list[tuple[float, float, str, str]], job_hash: str | None, max_rss: int | None,
) -> None:
    # result_line writes the fields out itself, for speed: the text must be
    # exactly what json's encoder makes of to_dict(), whatever the values.
    result = JobResult(name, status, returncode, value, error, attempts, *times, worker, *logs,  # type: ignore[arg-type]
                       history=tuple(history), job_hash=job_hash, max_rss=max_rss)
    assert result_line(result) == json.JSONEncoder(ensure_ascii=False).encode(result.to_dict()) + "\n"
