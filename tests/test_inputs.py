"""Inputs (issue 14): matrix sources, replacement strings, ``exec``, standard
input, success codes, durations, env files — each through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CliRunner, write
from taskrunner.cli.execcmd import jobs_for, split_inputs
from taskrunner.fields import parse_duration
from taskrunner.jobfile.envfile import parse_env_text
from taskrunner.jobfile.inputs import resolve
from taskrunner.sources import Source, SourceError

pytestmark = pytest.mark.timeout(120)

#: File names a shell would misread: spaces, both quotes, $( ), a glob, a leading dash.
AWKWARD = ["a b.log", "it's.log", 'say "hi".log', "$(touch PWN).log", "star*.log", "-n.log"]


def results(path: Path) -> dict[str, dict[str, object]]:
    return {line["name"]: line for line in map(json.loads, path.read_text().splitlines())}


# -- pure logic ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    (90, 90.0), ("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25),
    ("1.5h", 5400.0), ("2d", 172800.0), ("5 m", None), ("m", None), ("1h 30m", None), ("fast", None),
    (True, None), ("inf", None), ("", None)])
def test_durations(text: object, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_env_file_syntax() -> None:
    text = "# comment\n\nexport A=1\nB = spaced out  # note\nC='$HOME \\n'\nD=\"a\\nb \\\"q\\\"\"\nE=\nF=x#y\n"
    assert parse_env_text(text, "f") == {
        "A": "1", "B": "spaced out", "C": "$HOME \\n", "D": 'a\nb "q"', "E": "", "F": "x#y"}
    for bad in ["just words", "A='unclosed", 'B="x" trailing', "1A=x"]:
        with pytest.raises(ValueError, match="f:1: not a KEY=VALUE line"):
            parse_env_text(bad, "f")


def test_a_huge_range_is_refused_by_its_length_before_any_value_is_made() -> None:
    source = Source("range", [0, 10**15])
    with pytest.raises(SourceError, match="more than the limit of 100,000"):
        resolve(source, ".", limit=100_000)
    assert resolve(Source("range", [5, 0, -2]), ".", limit=10) == [5, 3, 1]


def test_exec_words_and_sources() -> None:
    assert split_inputs(["gzip", "-k", ":::", "a", ":::", "b", "::::", "f", "g"]) == (
        ["gzip", "-k"], [("values", ["a"]), ("values", ["b"]), ("file", ["f", "g"])])
    (job,) = jobs_for(["echo"], [["a b"]])
    assert job.run == "echo 'a b'" and job.name == "1 a b"  # appended when no replacement string
    jobs = jobs_for(["echo", "{2}{1}"], [["x", "y"], ["1"]])
    assert [j.run for j in jobs] == ["echo 1x", "echo 1y"] and [j.name for j in jobs] == ["1 x 1", "2 y 1"]


# -- matrix sources, through the real command ------------------------------------


def test_a_glob_over_awkward_file_names_gives_each_file_as_itself(cli: CliRunner) -> None:
    data = cli.workdir / "data" / "deep"
    data.mkdir(parents=True)
    for name in AWKWARD:
        (data / name).write_text(name)
    (cli.workdir / "data" / "top.log").write_text("top.log")
    write(cli.workdir / "jobs.yaml", """jobs:
  - name: copy-{f/.}
    run: cat -- {f} > "{f}.copy" && printf '%s' "{f//}|{f/}|{f.}" > "{f}.parts"
    matrix: {f: {glob: "data/**/*.log"}}
""")
    done = cli.run("run", "jobs.yaml", "-w", "2")
    assert done.returncode == 0, done.stderr
    assert not (cli.workdir / "PWN").exists()
    for name in AWKWARD:
        assert (data / f"{name}.copy").read_text() == name
        stem = name[:-len(".log")]
        assert (data / f"{name}.parts").read_text() == f"data/deep|{name}|data/deep/{stem}"
    assert len(results(cli.workdir / ".taskrunner/jobs.results.jsonl")) == len(AWKWARD) + 1


def test_a_glob_that_matches_nothing_is_an_error_unless_allowed(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - name: a\n    run: echo {f}\n    matrix:\n      f: {glob: 'none/*.x'}\n")
    done = cli.run("validate", "jobs.yaml")
    assert done.returncode == 2 and done.stderr.startswith("jobs.yaml:5: job 'a': matrix: variable 'f':")
    assert "matches nothing" in done.stderr and len(done.stderr.splitlines()) == 1
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: b, run: 'true'}\n  - name: a\n    run: echo {f}\n"
                                     "    matrix: {f: {glob: 'none/*.x', allow_empty: true}}\n")
    assert cli.run("validate", "jobs.yaml").stdout.strip() == "jobs.yaml: valid, 1 job"


def test_lines_from_a_file_and_from_standard_input(cli: CliRunner) -> None:
    write(cli.workdir / "inputs.txt", "one\n\n  two words\n$(touch PWN)\n")
    write(cli.workdir / "jobs.yaml", """jobs:
  - name: f-{x}
    run: printf '%s\\n' {x} >> from-file
    matrix: {x: {lines: inputs.txt}}
""")
    done = cli.run("run", "jobs.yaml", "-w", "1")
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "from-file").read_text().splitlines() == ["one", "  two words", "$(touch PWN)"]
    write(cli.workdir / "stdin.yaml", "jobs:\n  - {name: 's-{x}', run: 'echo {x} >> from-stdin', matrix: {x: {lines: '-'}}}\n")
    done = cli.run("run", "stdin.yaml", "-w", "1", input="a\nb\n")
    assert done.returncode == 0, done.stderr
    assert sorted((cli.workdir / "from-stdin").read_text().split()) == ["a", "b"]
    assert not (cli.workdir / "PWN").exists()


def test_a_range_of_100000_values_validates(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: 'n{i}', run: 'true', matrix: {i: {range: [0, 100000]}}}\n")
    done = cli.run("validate", "jobs.yaml")
    assert done.returncode == 0 and done.stdout.strip() == "jobs.yaml: valid, 100000 jobs", done.stderr
    assert cli.run("validate", "jobs.yaml", "--max-jobs", "99999").returncode == 2


def test_every_job_knows_its_name_seq_and_slot_and_no_two_running_share_a_slot(cli: CliRunner) -> None:
    # Each job records its slot, start and end; overlapping jobs must have different slots.
    write(cli.workdir / "jobs.yaml", """jobs:
  - name: first
    run: echo "$TASKRUNNER_JOB $TASKRUNNER_SEQ $TASKRUNNER_SLOT {#}" {%} > first.txt
  - name: t{i}
    run: python -c "import time,sys; s=time.time(); time.sleep(0.05); print('{%}', $TASKRUNNER_SLOT, s, time.time(), {#})" > out-{i}
    matrix: {i: {range: [0, 24]}}
  - name: call
    call: jobs:environment_of
    args: [[TASKRUNNER_JOB, TASKRUNNER_SEQ, TASKRUNNER_SLOT], "{%}"]
""")
    done = cli.run("run", "jobs.yaml", "-w", "3")
    assert done.returncode == 0, done.stderr
    name, seq, slot, number, bare_slot = (cli.workdir / "first.txt").read_text().split()
    assert (name, seq, number) == ("first", "1", "1") and slot in ("1", "2", "3") and bare_slot == slot
    spans = []
    for i in range(24):
        slot, env_slot, start, end, seq = (cli.workdir / f"out-{i}").read_text().split()
        assert slot == env_slot and 1 <= int(slot) <= 3 and int(seq) == i + 2
        spans.append((int(slot), float(start), float(end)))
    for slot, start, end in spans:
        overlapping = [s for s, b, e in spans if b < end and start < e and (b, e) != (start, end)]
        assert slot not in overlapping
    assert len({slot for slot, _, _ in spans}) > 1
    value = results(cli.workdir / ".taskrunner/jobs.results.jsonl")["call"]["value"]
    assert value["env"][:2] == ["call", "26"] and value["env"][2] == str(value["slot"])


# -- exec ------------------------------------------------------------------------


def test_exec_with_values_a_file_standard_input_and_two_sources(cli: CliRunner) -> None:
    for name in AWKWARD:
        (cli.workdir / name).write_text(name)
    done = cli.run("exec", "-j", "2", "--", "cp", "--", "{}", "{/.}.copy", ":::", *AWKWARD)
    assert done.returncode == 0, done.stderr
    for name in AWKWARD:
        assert (cli.workdir / f"{name[:-4]}.copy").read_text() == name
    assert not (cli.workdir / "PWN").exists()
    write(cli.workdir / "list.txt", "x\ny\n")
    assert cli.run("exec", "--results", "f.jsonl", "--", "touch", "from-file-{}", "::::", "list.txt").returncode == 0
    assert cli.run("exec", "--results", "s.jsonl", "--", "touch", "from-stdin-{}", input="p\nq\n").returncode == 0
    assert cli.run("exec", "--results", "d.jsonl", "--", "touch", "{2}-{1}", ":::", "a", "b", ":::", "1", "2").returncode == 0
    made = sorted(p.name for p in cli.workdir.iterdir() if p.name.startswith(("from-", "1-", "2-")))
    assert made == ["1-a", "1-b", "2-a", "2-b", "from-file-x", "from-file-y", "from-stdin-p", "from-stdin-q"]
    lines = results(cli.workdir / "d.jsonl")
    assert sorted(lines) == ["1 a 1", "2 a 2", "3 b 1", "4 b 2"]


def test_exec_appends_the_value_when_there_is_no_replacement_string(cli: CliRunner) -> None:
    done = cli.run("exec", "--output", "--", "echo", "got", ":::", "a b", "c")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["got a b", "got c"]


def test_exec_resume_runs_only_what_did_not_finish_ok(cli: CliRunner) -> None:
    script = "test -e ok-{} || { touch ok-{}; exit 3; }; echo {} >> ran"
    first = cli.run("exec", "-j", "2", "--", script, ":::", "1", "2", "3")
    assert first.returncode == 1
    assert "resume:  taskrunner exec --resume -j 2 --" in first.stderr
    (cli.workdir / "ran").unlink(missing_ok=True)
    second = cli.run("exec", "--resume", "-j", "2", "--", script, ":::", "1", "2", "3")
    assert second.returncode == 0, second.stderr
    assert sorted((cli.workdir / "ran").read_text().split()) == ["1", "2", "3"]
    third = cli.run("exec", "--resume", "-j", "2", "--", script, ":::", "1", "2", "3")
    assert third.returncode == 0 and "kept 3 results, ran 0 jobs" in third.stderr


def test_exec_bad_input_is_one_line_and_exit_2(cli: CliRunner) -> None:
    for args, message in [((":::", "a"), "give a command"), (("echo", "{3}", ":::", "a", ":::", "x"), "exec: {3} names input source 3, but there are 2"),
                          (("echo", "::::", "missing.txt"), "cannot read"),
                          (("--timeout", "soon", "echo", ":::", "a"), "is not a duration")]:
        done = cli.run("exec", *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not list((cli.workdir / ".taskrunner").glob("exec-*.results.jsonl"))


# -- the job file's other new keys --------------------------------------------


def test_job_file_from_standard_input(cli: CliRunner) -> None:
    text = "jobs:\n  - {name: a, run: 'touch made-by-stdin'}\n"
    assert cli.run("validate", "-", input=text).stdout.strip() == "<stdin>: valid, 1 job"
    assert cli.run("list", "-", input=text).stdout.startswith("a\trun\ttouch made-by-stdin")
    done = cli.run("run", "-", input=text)
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "made-by-stdin").exists() and (cli.workdir / ".taskrunner/stdin.results.jsonl").exists()
    bad = cli.run("validate", "-", input="jobs:\n  - {name: a, cmd: x}\n")
    assert bad.returncode == 2 and bad.stderr.splitlines()[0] == (
        "<stdin>:2: job 'a': unknown key 'cmd' (did you mean 'run'?)")


def test_success_codes_durations_and_env_files(cli: CliRunner) -> None:
    write(cli.workdir / "base.env", "export GREETING='hello $USER'\nNAME=file\n# comment\n")
    write(cli.workdir / "jobs.yaml", """defaults:
  env_file: base.env
  timeout: 1m30s
jobs:
  - {name: four, run: 'exit 4', success_codes: [0, 4]}
  - {name: five, run: 'exit 5', success_codes: [0, 4]}
  - {name: zero-not-listed, run: 'true', success_codes: [1]}
  - {name: slow, run: 'sleep 5', timeout: 300ms}
  - name: env
    run: printf '%s|%s' "$GREETING" "$NAME" > env.txt
    env: {NAME: own}
""")
    done = cli.run("run", "jobs.yaml", "-w", "2")
    lines = results(cli.workdir / ".taskrunner/jobs.results.jsonl")
    assert done.returncode == 1
    assert (lines["four"]["status"], lines["four"]["returncode"]) == ("ok", 4)
    assert (lines["five"]["status"], lines["zero-not-listed"]["status"]) == ("failed", "failed")
    assert lines["slow"]["status"] == "timeout" and float(lines["slow"]["duration"]) < 4  # type: ignore[arg-type]
    assert (cli.workdir / "env.txt").read_text() == "hello $USER|own"
    listed = {job["name"]: job for job in json.loads(cli.run("list", "jobs.yaml", "--json").stdout)}
    assert listed["env"]["timeout"] == 90.0 and listed["four"]["success_codes"] == [0, 4]
    write(cli.workdir / "bad.yaml", "jobs:\n  - {name: a, run: 'true', env_file: nope.env}\n  - {name: b, run: 'true', timeout: 5 min}\n")
    done = cli.run("validate", "bad.yaml")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "bad.yaml:2: job 'a': 'env_file' cannot read " + str(cli.workdir / "nope.env") + ": No such file or directory",
        ("bad.yaml:3: job 'b': 'timeout' must be a number of seconds > 0 or a duration such as 90s, 5m, 1h30m, "
         "got '5 min'")]


def test_a_failure_silent_on_stderr_shows_the_end_of_its_stdout(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: quiet, run: 'echo 0 tests ran; exit 4'}\n")
    done = cli.run("run", "jobs.yaml")
    assert done.returncode == 1
    assert "stderr was empty; the end of stdout" in done.stderr and "0 tests ran" in done.stderr
    tail = results(cli.workdir / ".taskrunner/jobs.results.jsonl")["quiet"]["stderr_tail"]
    assert "0 tests ran" in str(tail)
