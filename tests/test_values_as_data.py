"""Values are data end to end (issue 23): bytes that are not UTF-8, scalars as
written in the file, ``exec`` as GNU parallel reads its command line, and
names and values printed so that they read back as themselves."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CliRunner, write
from taskrunner.display.showtext import shell_word

LATIN1_NAME = os.fsdecode(b"z\xe9.log")  # a file name that is not UTF-8


def run_bytes(cli: CliRunner, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The CLI with bytes in and out (its output may hold bytes that are not UTF-8)."""
    return subprocess.run(cli.command(*args), input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          cwd=cli.workdir, env=cli.env, capture_output=True, timeout=60, check=False)


def results(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_names_that_are_not_utf8_reach_the_command_byte_for_byte(cli: CliRunner) -> None:
    for name in (LATIN1_NAME, "ok.log"):
        (cli.workdir / name).write_text("x")
    jobs = write(cli.workdir / "jobs.yaml", 'jobs:\n  - name: copy-{f}\n    run: printf "%s" "{f}" > "{f}.name"; '
                 "echo {f}\n    matrix: {f: {glob: \"*.log\"}}\n")
    for command in ("validate", "list"):
        assert run_bytes(cli, command, str(jobs)).returncode == 0
    assert b"copy-z\xe9.log\t" in run_bytes(cli, "list", str(jobs)).stdout
    done = cli.run("run", str(jobs))
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / (LATIN1_NAME + ".name")).read_bytes() == b"z\xe9.log"
    lines = results(cli.workdir / ".taskrunner" / "jobs.results.jsonl")
    assert sorted(str(line["name"]) for line in lines) == sorted(["copy-ok.log", "copy-" + LATIN1_NAME])
    assert all(line["status"] == "ok" for line in lines)
    for line in lines:
        assert Path(str(line["stdout_log"])).read_bytes().rstrip(b"\n") == os.fsencode(str(line["name"])[5:])


def test_exec_values_that_are_not_utf8_from_arguments_and_stdin(cli: CliRunner) -> None:
    done = run_bytes(cli, "exec", "--output", "--", "printf", "'%s|'", "{}", ":::", LATIN1_NAME, "b")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split(b"|\n")) == [b"", b"b", b"z\xe9.log"]
    done = run_bytes(cli, "exec", "--output", "--", "printf", "'%s|'", "{}", stdin=b"z\xe9\na\rb\n")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split(b"|\n")) == [b"", b"a\rb", b"z\xe9"]  # only \n ends a line
    assert len(results(next((cli.workdir / ".taskrunner").glob("exec-*.results.jsonl")))) == 2


def test_matrix_values_are_the_scalars_as_written(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", """jobs:
  - name: deploy-{country}-{py}
    run: echo {country} {py} {perm} {e} >> out.txt
    env: {PERM: "{perm}"}
    matrix: {country: [NO, SE], py: [3.10], perm: [0755], e: [1e3]}
  - name: typed
    call: jobs:echo
    args: ["{py}", "{perm}", "{t}", "{country}"]
    matrix: {py: [3.10], perm: [0755], t: [True], country: [on]}
""")
    checked = cli.run("validate", "jobs.yaml")
    assert checked.returncode == 0
    warnings = [line for line in checked.stderr.splitlines() if "warning" in line]
    assert warnings == [('jobs.yaml:5: warning: NO is the string "NO" here (YAML 1.2), not false as in YAML 1.1; '
                        "quote it to be plain about it (the first such value; there may be more)")], checked.stderr
    listed = cli.run("list", str(jobs))
    assert "deploy-NO-3.10\t" in listed.stdout and "deploy-SE-3.10\t" in listed.stdout
    done = cli.run("run", str(jobs), "-w", "1")
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "out.txt").read_text().splitlines() == ["NO 3.10 0755 1e3", "SE 3.10 0755 1e3"]
    (typed,) = [line for line in results(cli.workdir / ".taskrunner" / "jobs.results.jsonl") if str(line["name"]).startswith("typed")]
    assert typed["value"] == {"args": [3.1, 755, True, "on"], "kwargs": {}}


def test_exec_reads_its_command_line_as_gnu_parallel_does(cli: CliRunner) -> None:
    numbered = cli.run("exec", "-j", "1", "--output", "--", "echo", "{#}", "{%}", ":::", "a", "b")
    assert numbered.returncode == 0 and numbered.stdout.splitlines() == ["1 1", "2 1"], numbered.stderr
    words = cli.run("exec", "--", "touch", "{}", ":::", "a", "b", ":::", "1")
    assert words.returncode == 0, words.stderr
    assert {p.name for p in cli.workdir.iterdir()} >= {"a", "b", "1"}
    assert not (cli.workdir / "a 1").exists()
    beyond = cli.run("exec", "--", "echo", "{3}", ":::", "a", ":::", "x")
    assert beyond.returncode == 2 and beyond.stderr.strip().splitlines() == [
        "exec: {3} names input source 3, but there are 2 (one per ::: or :::: file)"]
    for args, stdin in ((["::::", "/dev/null"], None), ([], ""), ([":::"], None)):
        empty = cli.run("exec", "--", "echo", "{}", *args, input=stdin)
        assert empty.returncode == 0 and empty.stderr.startswith("0 jobs"), (args, empty.stderr)
    (cli.workdir / "inputs.txt").write_bytes(b"a\rb\n")
    one = run_bytes(cli, "exec", "--output", "--", "printf", "[%s]", "{}", "::::", "inputs.txt")
    assert one.stdout == b"[a\rb]\n", one.stdout


def test_names_and_values_are_printed_as_shell_words_never_raw(cli: CliRunner) -> None:
    done = cli.run("exec", "--", "exit 1", ":::", "x\x1b[2Jy")
    assert done.returncode == 1
    assert "\x1b" not in done.stderr
    assert "FAILED $'1 x\\e[2Jy': exited with status 1" in done.stderr
    assert "resume:  taskrunner exec --resume -- 'exit 1' ::: $'x\\e[2Jy'" in done.stderr, done.stderr
    prefixed = cli.run("exec", "--output", "--prefix", "--", "echo hi {#}", ":::", "a\x1bb")
    assert prefixed.stdout == "$'1 a\\eb': hi 1\n" and "\x1b" not in prefixed.stderr


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12)
       | st.binary(max_size=12).filter(lambda b: b"\x00" not in b).map(os.fsdecode))
def test_a_printed_shell_word_reads_back_as_exactly_the_text(text: str) -> None:
    word = shell_word(text)
    assert "\x1b" not in word and "\n" not in word or word.startswith("'")
    back = subprocess.run(["bash", "-c", "printf %s " + word], capture_output=True, timeout=10, check=True).stdout
    assert back == os.fsencode(text)
