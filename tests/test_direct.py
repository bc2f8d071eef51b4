"""Which shell strings run without a shell (pure logic), and that doing so
changes nothing a user can see (real processes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taskrunner.execution.direct import direct_argv
from taskrunner.execution.execute import execute
from taskrunner.model import Attempt, Job, Status

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_leftovers")]

PATH = {"PATH": os.environ.get("PATH", os.defpath)}


@pytest.mark.parametrize("command", [
    "true", "gzip -k data.log", "make -j4 all", "cp a.txt b.txt", "python3 -m http.server 8000",
    "ls --color=never /tmp", "/bin/ls -l", "tar -czf out.tgz src", "false",
])
def test_plain_words_run_directly(command: str) -> None:
    found = direct_argv(command, PATH)
    assert found is not None
    program, argv = found
    assert argv == command.split() and os.path.isabs(program)


@pytest.mark.parametrize("command", [
    "echo $HOME", "ls *.txt", "a && b", "a; b", "a | b", "a > out", "a < in", "cat 'x y'", 'cat "x"',
    "ls ~", "echo a\\ b", "sleep 1 &", "(true)", "x # comment", "`true`", "ls [ab]", "ls ?",
    "FOO=1 env", "cd /tmp", "exit 3", "echo hello", "test -e x", "export A", "set -e", "wait",
    "no-such-program-xyz", "./script.sh", "bin/tool", "", "   ", "if true", "printf x", "kill 1",
])
def test_anything_a_shell_would_change_goes_through_the_shell(command: str) -> None:
    assert direct_argv(command, PATH) is None


def test_the_jobs_path_is_searched() -> None:
    assert direct_argv("true", {"PATH": "/nonexistent"}) is None


def run(tmp_path: Path, command: str):
    job = Job(name="j", run=command, base_dir=str(tmp_path))
    return execute(Attempt(1, job, 1, str(tmp_path / "j.out"), str(tmp_path / "j.err")), worker="test")


@pytest.mark.timeout(30)
def test_a_missing_program_fails_as_the_shell_says(tmp_path: Path) -> None:
    result = run(tmp_path, "no-such-program-xyz --flag")
    assert (result.status, result.returncode) == (Status.FAILED, 127)
    assert "not found" in (result.stderr_tail or "")


@pytest.mark.timeout(30)
def test_a_direct_command_gets_its_arguments_and_working_directory(tmp_path: Path) -> None:
    (tmp_path / "here.txt").write_text("x")
    result = run(tmp_path, "ls here.txt")
    assert result.ok and (tmp_path / "j.out").read_text() == "here.txt\n"
