"""Matrix values in shell strings are data, never code: a real /bin/sh runs the
expanded command and the bytes that arrive are compared (hypothesis)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import CliRunner, write
from taskrunner.execution.execute import execute
from taskrunner.jobfile.matrixfill import expand
from taskrunner.model import Attempt, Job

#: (run template, how the value arrives in the file ``out``). Each template
#: writes the value it was given into ``out``.
CONTEXTS = {
    "bare": ("printf %s {x} > out", lambda v: v),
    "bare-in-word": ("printf %s pre{x}post > out", lambda v: f"pre{v}post"),
    "single": ("printf %s '{x}' > out", lambda v: v),
    "single-in-word": ("printf %s 'a{x}b' > out", lambda v: f"a{v}b"),
    "double": ('printf %s "{x}" > out', lambda v: v),
    "double-in-word": ('printf %s "<{x}>" > out', lambda v: f"<{v}>"),
    "heredoc": ("cat > out <<EOF\n{x}\nEOF", lambda v: v + "\n"),
    "heredoc-tabs": ("cat > out <<-EOF\n\t{x}\n\tEOF", lambda v: v + "\n"),
    "command-substitution": ('printf %s "$(printf %s {x})" > out', lambda v: v.rstrip("\n")),
    "command-substitution-double": ('printf %s "$(printf %s "{x}")" > out', lambda v: v.rstrip("\n")),
    "backticks": ('v=`printf %s {x}`; printf %s "$v" > out', lambda v: v.rstrip("\n")),
    "assignment": ('v={x}; printf %s "$v" > out', lambda v: v),
    "comment-with-quote": ("# don't stop\nprintf %s {x} > out", lambda v: v),
}

NASTY = ["$(touch PWN)", "`touch PWN`", "$HOME", "${HOME}", "'", '"', "\\", "\\\\'", "a b", "*", "-n", "",
         "line1\nline2", "é ü 日本", "EOF", "\nEOF\ntouch PWN\n", "'; touch PWN; '", '"; touch PWN; "', "}{x}",
         "$((1+1))", "~root", "!", "a\tb"]

values = st.one_of(st.sampled_from(NASTY), st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20))


def arrives(tmp_path: Path, template: str, value: str) -> bytes:
    (job_fields,) = list(expand({"name": "j", "run": template, "cwd": str(tmp_path)}, {"x": [value]}))
    job = Job(**job_fields)
    result = execute(Attempt(1, job, 1, str(tmp_path / "j.out"), str(tmp_path / "j.err")), worker="test")
    assert result.ok, (template, value, job.run, result.error, result.stderr_tail)
    assert not (tmp_path / "PWN").exists(), (template, value, job.run)
    return (tmp_path / "out").read_bytes()


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
@example(value="$(touch PWN)")
@example(value="my photo")
def test_a_value_arrives_as_exactly_itself(tmp_path: Path, context: str, value: str) -> None:
    template, expected = CONTEXTS[context]
    for leftover in ("out", "PWN"):
        if (tmp_path / leftover).exists():
            os.unlink(tmp_path / leftover)
    assert arrives(tmp_path, template, value) == expected(value).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
@example(value="E\x80")  # dash drops a byte of this from literal heredoc text
@example(value="EOF")
def test_a_quoted_heredoc_takes_the_value_and_keeps_its_own_text_literal(tmp_path: Path, value: str) -> None:
    if (tmp_path / "out").exists():
        os.unlink(tmp_path / "out")
    template = "cat > out <<'EOF'\n$HOME `x` \\ {x}\nEOF"
    assert arrives(tmp_path, template, value) == ("$HOME `x` \\ " + value + "\n").encode()


def test_a_value_that_looks_like_the_end_of_a_quoted_heredoc_does_not_end_it(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - name: h\n    run: |\n      cat > out <<'EOF'\n      {x}\n"
                 "      EOF\n    matrix:\n      x: [\"a\\nEOF\\ntouch PWN\"]\n")
    done = cli.run("run", str(jobs))
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "out").read_text() == "a\nEOF\ntouch PWN\n" and not (cli.workdir / "PWN").exists()


def test_the_reported_injection_through_the_cli(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - name: inj\n    run: 'echo \"{x}\" > out.txt'\n"
                 "    matrix:\n      x: [\"$(touch PWN)\", \"my photo\"]\n")
    done = cli.run("run", str(jobs), "-w", "1")
    assert done.returncode == 0, done.stderr
    assert not (cli.workdir / "PWN").exists()
    assert (cli.workdir / "out.txt").read_text() in ("$(touch PWN)\n", "my photo\n")


# The cases that once got through (issue 23): each is refused when the file
# is loaded, or runs with the value as data.
REFUSED = {
    "case arm inside $( )": 'n="$(case "{x}" in *.gz) zcat "{x}";; *) cat "{x}";; esac | wc -l)"; echo "$n"',
    "unquoted case arm inside \"$( )\"": 'echo "$(case a in a) printf %s {x};; esac)"',
    "comment inside backticks": "echo `echo a #'`{x}'",
    "comment-like text inside ${ }": "echo ${u:-a #'b'} {x}",
    "$'...' strings": "echo $'a\\'b' {x}",
    "here-string": "cat <<<'{x}'",
    "process substitution": "cat <(echo {x})",
    "placeholder after $": 'echo "${x}"',
    "placeholder in arithmetic": "echo $((1+{x}))",
    "(( ))": "((i=1<<2)); echo {x}",
    "unclosed quote": "echo '{x}",
    "here-document inside $( )": 'echo "$(cat <<EOF\n{x}\nEOF\n)"',
    "line break in quotes before a here-document's body": 'cat <<EOF; echo "a\n{x}"\nbody\nEOF',
}


@pytest.mark.parametrize("why", sorted(REFUSED))
def test_a_placeholder_the_scanner_cannot_prove_is_refused(why: str) -> None:
    with pytest.raises(ValueError, match=r'cannot place \{x\} safely in this command; use "\$TASKRUNNER_MATRIX_x"'):
        list(expand({"name": "j", "run": REFUSED[why]}, {"x": ["v"]}))


def test_constructs_after_the_last_placeholder_do_not_matter() -> None:
    (fields,) = expand({"name": "j", "run": "echo {x}; echo $'a\\'b'"}, {"x": ["v w"]})
    assert fields["run"] == "echo 'v w'; echo $'a\\'b'"


@pytest.mark.parametrize(("template", "expected"), [
    ("printf %s $(echo a)#'\n{x}' > out", lambda v: "a#\n" + v),  # that # is not a comment
    ("block=$((1<<20))\nprintf %s {x} > out", lambda v: v),  # << in arithmetic is not a here-document
    ("f() { printf %s {x}; }\nf > out", lambda v: v),
    ("printf %s {x} \\\n  > out", lambda v: v),
])
def test_constructs_once_misread_now_place_the_value_as_data(tmp_path: Path, template: str, expected: object) -> None:
    for value in ("$(touch PWN)", "*", "a b"):
        for leftover in ("out", "PWN"):
            if (tmp_path / leftover).exists():
                os.unlink(tmp_path / leftover)
        assert arrives(tmp_path, template, value) == expected(value).encode()  # type: ignore[operator]


def test_a_refused_template_stops_validate_run_and_exec_before_anything_runs(cli: CliRunner) -> None:
    (cli.workdir / "inbox").mkdir()
    (cli.workdir / "inbox" / "$(touch PWNED).txt").write_text("x\n")
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - name: count\n    run: 'n=\"$(case \"{f}\" in *.gz) zcat "
                 "\"{f}\";; *) cat \"{f}\";; esac | wc -l)\"; echo \"$n\"'\n    matrix: {f: {glob: \"inbox/*\"}}\n")
    message = ("jobs.yaml:3: job 'count': cannot place {f} safely in this command; "
               'use "$TASKRUNNER_MATRIX_f" or put the command in a script')
    for command in (["validate"], ["list"], ["run"], ["run", "--dry-run"]):
        done = cli.run(*command, str(jobs))
        assert done.returncode == 2 and message in done.stderr, (command, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    done = cli.run("exec", "--", 'n="$(case "{}" in *.gz) zcat "{}";; *) cat "{}";; esac | wc -l)"; echo "$n"',
                   input="inbox/$(touch PWNED).txt\n")
    assert done.returncode == 2 and "cannot place {} safely" in done.stderr, done.stderr
    assert not (cli.workdir / "PWNED").exists() and not (cli.workdir / ".taskrunner").exists()


def test_a_value_that_is_a_glob_deletes_only_its_own_file(cli: CliRunner) -> None:
    box = cli.workdir / "box"
    box.mkdir()
    for name in ("*", "keep1", "keep2"):
        (box / name).write_text("x")
    jobs = write(cli.workdir / "jobs.yaml", 'jobs:\n  - name: rm\n    cwd: box\n    run: "block=$((1<<20))\\nrm -f -- {f}"\n'
                 '    matrix: {f: ["*"]}\n')
    done = cli.run("run", str(jobs))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in box.iterdir()) == ["keep1", "keep2"]


def test_a_value_is_not_expanded_by_bash_braces_or_a_tilde(tmp_path: Path) -> None:
    """Under bash as sh: ``{a,{x}}`` must not split a value at its comma, and
    ``~{x}`` must not make the value a user name to expand."""
    cases = [("printf '[%s]' {a,{x}}", "b,c", {"[a][b,c]", "[{a,b,c}]"}),  # bash; dash has no braces
             ("printf '[%s]' ~{x}", "root", {"[~root]"}),
             ("printf '[%s]' {x}", "A=1", {"[A=1]"})]
    for template, value, allowed in cases:
        (fields,) = expand({"name": "j", "run": template}, {"x": [value]})
        env = {**os.environ, **fields.get("env", {})}
        for shell in ("/bin/bash", "/bin/dash"):
            printed = subprocess.run(["sh", "-c", fields["run"]], executable=shell, env=env,
                                     capture_output=True, text=True, timeout=10, check=True).stdout
            assert printed in allowed, (shell, template, fields["run"], printed)
