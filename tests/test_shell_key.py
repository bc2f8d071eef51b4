"""The ``shell`` key (issue 27, item 4): strict shells, chosen once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CliRunner, write
from taskrunner import Job
from taskrunner.jobhash import job_hash

pytestmark = pytest.mark.timeout(120)

RESULTS = ".taskrunner/jobs.results.jsonl"


def statuses(path: Path) -> dict[str, str]:
    return {line["name"]: line["status"] for line in map(json.loads, path.read_text().splitlines())}


def test_a_failing_pipeline_fails_under_a_strict_shell_and_passes_under_sh(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """shell: [bash, -euo, pipefail, -c]
jobs:
  - {name: strict, run: 'false | cat'}
  - {name: unset, run: 'echo "$NOT_SET_ANYWHERE" | cat'}
  - {name: plain-sh, run: 'false | cat', shell: sh}
  - {name: fine, run: 'true | cat'}
""")
    done = cli.run("run", "jobs.yaml")
    assert done.returncode == 1
    assert statuses(cli.workdir / RESULTS) == {"strict": "failed", "unset": "failed", "plain-sh": "ok", "fine": "ok"}


def test_defaults_and_a_job_choose_the_shell_and_the_job_wins(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """shell: sh
defaults: {shell: bash}
jobs:
  - {name: bash-test, run: '[[ a == a ]] && echo "$BASH_VERSION" > by-bash.txt'}
  - {name: own, run: 'echo $0 > own.txt', shell: [sh, -c]}
""")
    done = cli.run("run", "jobs.yaml")
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "by-bash.txt").read_text().strip() and (cli.workdir / "own.txt").read_text() == "sh\n"


def test_plain_words_skip_a_strict_shell_but_not_a_login_shell(cli: CliRunner) -> None:
    # A "bash" that notes each time it is started, then is bash.
    (cli.workdir / "bin").mkdir()
    fake = cli.workdir / "bin" / "bash"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {cli.workdir}/started.txt\nexec /bin/bash "$@"\n')
    fake.chmod(0o755)
    write(cli.workdir / "jobs.yaml", f"""jobs:
  - {{name: strict-words, run: 'touch strict.txt', shell: [{fake}, -euo, pipefail, -c]}}
  - {{name: strict-pipe, run: 'echo x | cat > pipe.txt', shell: [{fake}, -euo, pipefail, -c]}}
  - {{name: login-words, run: 'touch login.txt', shell: [{fake}, -l, -c]}}
""")
    assert cli.run("run", "jobs.yaml", "-j", "1").returncode == 0
    started = sorted((cli.workdir / "started.txt").read_text().splitlines())
    assert started == ["-euo pipefail -c echo x | cat > pipe.txt", "-l -c touch login.txt"]
    assert all((cli.workdir / name).exists() for name in ("strict.txt", "pipe.txt", "login.txt"))


def test_the_shell_is_part_of_a_commands_hash_only_for_strings() -> None:
    plain = Job(name="a", run="make")
    assert job_hash(plain) == job_hash(Job(name="a", run="make", shell=None))
    assert job_hash(plain) != job_hash(Job(name="a", run="make", shell="bash"))
    assert job_hash(Job(name="a", run=["make"])) == job_hash(Job(name="a", run=["make"], shell="bash"))


@pytest.mark.parametrize("value", ["''", "'bash -e'", "[]", "[bash, 3]", "{a: 1}"])
def test_a_bad_shell_is_one_line_naming_the_file_and_key(cli: CliRunner, value: str) -> None:
    write(cli.workdir / "jobs.yaml", f"jobs:\n  - name: a\n    run: 'true'\n    shell: {value}\n")
    done = cli.run("validate", "jobs.yaml")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("jobs.yaml:4: job 'a': 'shell' must be a program"), done.stderr
