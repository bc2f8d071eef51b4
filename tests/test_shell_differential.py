"""The scanner proven against real shells: generated templates (``shellgrammar``)
filled with hostile values and run under dash and under bash as ``sh``.

Every template is refused when loaded, or what it prints is exactly what it
means with the value in place: nothing executed (no ``PWN``), split or
globbed. Templates made only of understood constructs must not be refused;
those that put a placeholder after a construct the shells disagree on must.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from shellgrammar import Grammar, expected

from taskrunner.jobfile.matrix import placeholder_pattern
from taskrunner.jobfile.matrixfill import FillPlan
from taskrunner.jobfile.shellvalues import UnsafePlaceholder

SEED = 20261204
ROUNDS = int(os.environ.get("SHELL_ROUNDS", "250"))
STRESS_ROUNDS = int(os.environ.get("STRESS_ROUNDS", "20")) * 200

VALUES = ["$(touch PWN)", "`touch PWN`", "'; touch PWN; '", '"; touch PWN #', "a*", "a b", "line1\nline2",
          "\\", "\\'", "EOF", "\nEOF\ntouch PWN\n", "-n", "%s", "}", "{x}", "#", "~", "", "z\udce9.log", "é 日本",
          "a\tb", "$HOME", ")", "'", '"', "esac", "x\n\n", "*", ";;", "\\`touch PWN\\`"]

SHELLS = [(name, path) for name, path in (("dash", shutil.which("dash")), ("bash", shutil.which("bash")))
          if path is not None]
PATTERN = placeholder_pattern(["x"])


def run_under(shell: str, text: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(["sh", "-c", text], executable=shell, env={"PATH": os.environ["PATH"], **env}, cwd=cwd,
                          capture_output=True, timeout=10, check=False)
    return os.fsdecode(done.stdout)


def check_rounds(tmp_path: Path, seed: int, rounds: int) -> tuple[int, int]:
    """(templates run, templates refused); fails at the first wrong one."""
    if len(SHELLS) < 2:
        pytest.skip("needs both dash and bash")
    grammar = Grammar(seed)
    refused = 0
    for number in range(rounds):
        frag = grammar.template()
        value = VALUES[number % len(VALUES)]
        try:  # (filled as a job file's matrix is: its format strings; see test_matrix_fill for fill())
            fields = FillPlan({"name": "t", "run": frag.text}, ["x"]).fields((value,), 1)
            text, env = fields["run"], fields.get("env", {})
        except UnsafePlaceholder:
            assert not frag.plain, f"refused a template of understood constructs: {frag.text!r}"
            refused += 1
            continue
        assert not frag.must_be_refused(), f"accepted a template the shells read differently: {frag.text!r}"
        for name, shell in SHELLS:
            box = tmp_path / f"{number}-{name}"
            box.mkdir()
            for decoy in ("a1", "a2"):  # what a glob of the value would find
                (box / decoy).touch()
            printed = run_under(shell, text, env, box)
            context = f"seed {seed} round {number} under {name}: template {frag.text!r}, value {value!r}, ran {text!r}"
            assert not (box / "PWN").exists(), context
            if not frag.meaningless:  # else the shells differ: only that nothing ran is known
                assert printed == expected(frag, value), context
    return rounds, refused


def test_generated_templates_under_dash_and_bash(tmp_path: Path) -> None:
    total, refused = check_rounds(tmp_path, SEED, ROUNDS)
    print(f"{total} templates, {refused} refused")
    assert refused < total  # a scanner that refuses everything proves nothing


@pytest.mark.stress
def test_many_more_generated_templates(tmp_path: Path) -> None:
    check_rounds(tmp_path, SEED + 1, STRESS_ROUNDS)
