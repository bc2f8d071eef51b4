"""Bad input that used to pass `validate`: one line with file:line, exit 2,
before anything runs (the real command in a subprocess)."""

from __future__ import annotations

import pytest

import taskrunner
from conftest import CliRunner, write

pytestmark = pytest.mark.timeout(60)

BOMB = """x-bomb:
  - &a [x, x, x, x, x, x, x, x, x, x]
  - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
  - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
  - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
  - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
  - &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
  - &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('jobs:\n  - {name: a, run: "echo a\\0b"}\n', 2, "NUL"),
        ('jobs:\n  - name: a\n    run: [echo, "a\\x00"]\n', 3, "NUL"),
        ('jobs:\n  - name: a\n    run: "true"\n    env: {A: "\\u0000"}\n', 4, "NUL"),
        ('jobs:\n  - name: a\n    run: "true"\n    cwd: "x\\0"\n', 4, "NUL"),
        ('jobs:\n  - name: a\n    run: "true"\n    env: {A: ~}\n', 4, "string or number"),
        ('jobs:\n  - name: "{x}"\n    run: "true"\n    matrix: {x: [""]}\n', 4, "name"),
        ('jobs:\n  - name: "{x}"\n    run: "true"\n    matrix: {x: [" "]}\n', 4, "name"),
        (BOMB + "jobs:\n  - name: a\n    call: m:f\n    args: *g\n", 12, "aliases expand"),
        ("jobs:\n  - &j {name: a, call: 'm:f', args: *j}\n", 2, "contains it"),
    ],
)
def test_hostile_job_file_is_one_line_with_file_and_line(cli: CliRunner, text: str, line: int, words: str) -> None:
    jobs = write(cli.workdir / "jobs.yaml", text)
    for command in ("validate", "run", "list"):
        args = (command, str(jobs)) + (("--json",) if command == "list" else ())
        done = cli.run(*args, timeout=30)
        assert done.returncode == 2, (command, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith(f"{jobs}:{line}: ") and words in done.stderr, done.stderr
    assert not (cli.workdir / ".taskrunner").exists()


def test_yaml_merge_keys_work_as_yaml_defines_them(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", """
x-base: &base {run: "echo base", env: {A: "1"}, timeout: 5}
x-other: &other {run: "echo other", retries: 2}
jobs:
  - {<<: *base, name: a}
  - {<<: [*base, *other], name: b, run: "echo own"}
""")
    done = cli.run("list", str(jobs), "--json")
    assert done.returncode == 0, done.stderr
    import json

    listed = {job["name"]: job for job in json.loads(done.stdout)}
    assert listed["a"]["run"] == "echo base" and listed["a"]["env"] == {"A": "1"} and listed["a"]["timeout"] == 5
    assert listed["b"]["run"] == "echo own" and listed["b"]["retries"] == 2 and listed["b"]["timeout"] == 5


def test_a_duplicate_own_key_is_still_an_error(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - name: a\n    run: x\n    run: y\n")
    done = cli.run("validate", str(jobs))
    assert done.returncode == 2 and done.stderr.startswith(f"{jobs}:4: ") and "duplicate key 'run'" in done.stderr


def test_max_jobs_counts_every_job(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(f"  - {{name: j{i}, run: 'true'}}\n" for i in range(20)))
    done = cli.run("validate", str(jobs), "--max-jobs", "10")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"{jobs}:12: ") and "10" in done.stderr
    assert cli.run("validate", str(jobs), "--max-jobs", "20").returncode == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"env": {"A": None}}, "env value of 'A' must be a string"), ({"env": {"A": 1}}, "must be a string"),
     ({"run": "a\0b"}, "NUL"), ({"run": ["echo", "\0"]}, "NUL"), ({"cwd": "\0"}, "NUL"),
     ({"env": {"A=B": "1"}}, "invalid variable name"), ({"name": " "}, "non-empty string"),
     ({"name": ""}, "non-empty string")],
)
def test_the_api_refuses_the_same_values(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"name": "j", "run": "true", **fields}
    with pytest.raises((ValueError, TypeError), match=message):
        taskrunner.Job(**values)  # type: ignore[arg-type]
