"""``validate --check`` (issue 27, item 5): jobs that cannot work are found
before a run: call targets that do not import, programs not on PATH."""

from __future__ import annotations

import pytest

from conftest import CliRunner, write

pytestmark = pytest.mark.timeout(120)


def test_a_typo_in_a_call_target_is_found_with_the_module_meant(cli: CliRunner) -> None:
    (cli.workdir / "stats.py").write_text("print('imported!')\ndef summarise(x):\n    return x\n")
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: good, call: 'stats:summarise', args: [1]}
  - {name: typo-module, call: 'stat:summarise', args: [1]}
  - {name: typo-function, call: 'stats:sumarise', args: [1]}
  - {name: no-module, call: 'nosuchmodule_xyz:f'}
""")
    plain = cli.run("validate", "jobs.yaml")
    assert plain.returncode == 0 and "imported!" not in plain.stdout + plain.stderr  # plain validate imports nothing
    done = cli.run("validate", "--check", "jobs.yaml")
    assert done.returncode == 2, done.stdout
    lines = done.stderr.strip().splitlines()
    assert lines == [
        ("jobs.yaml:3: job 'typo-module': cannot import 'stat:summarise': 'stat' has no 'summarise' "
        "(did you mean 'stats:summarise'?)"),
        ("jobs.yaml:4: job 'typo-function': cannot import 'stats:sumarise': 'stats' has no 'sumarise' "
        "(did you mean 'summarise'?)"),
        "jobs.yaml:5: job 'no-module': cannot import 'nosuchmodule_xyz:f': No module named 'nosuchmodule_xyz'",
    ], done.stderr


def test_a_program_not_on_path_is_found_with_the_program_meant(cli: CliRunner) -> None:
    (cli.workdir / "bin").mkdir()
    for name in ("zstd", "mytool"):
        tool = cli.workdir / "bin" / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    write(cli.workdir / "jobs.yaml", f"""defaults: {{env: {{PATH: "{cli.workdir}/bin:/usr/bin:/bin"}}}}
jobs:
  - {{name: ok-string, run: 'zstd -q x | cat'}}
  - {{name: ok-argv, run: [mytool, a]}}
  - {{name: typo, run: 'zstdd -q x'}}
  - {{name: typo-argv, run: [mytol, a]}}
  - {{name: shell-syntax, run: 'for f in *; do echo $f; done'}}
  - {{name: builtin, run: 'cd sub && ls'}}
  - {{name: relative, run: './missing.sh'}}
""")
    done = cli.run("validate", "--check", "jobs.yaml")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "jobs.yaml:5: job 'typo': program 'zstdd' not found on PATH (did you mean 'zstd'?)",
        "jobs.yaml:6: job 'typo-argv': program 'mytol' not found on PATH (did you mean 'mytool'?)",
        "jobs.yaml:9: job 'relative': program './missing.sh' not found",
    ], done.stderr


def test_a_file_whose_jobs_can_all_work_is_valid_with_check(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n  - {name: b, call: 'os.path:join', args: [a]}\n")
    done = cli.run("validate", "--check", "jobs.yaml")
    assert done.returncode == 0 and "valid, 2 jobs (programs and call targets found)" in done.stdout, done.stderr


def test_a_matrix_jobs_problems_name_its_line_and_so_do_the_jobs_after_it(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", """jobs:
  - {name: fine, run: 'true'}
  - name: "c-{p}"
    run: ["{p}", x]
    matrix: {p: ["true", nosuchprog_a, nosuchprog_b]}
  - {name: after, run: [nosuchprog_c]}
""")
    done = cli.run("validate", "--check", "jobs.yaml")
    assert done.returncode == 2
    assert [line.split(": job ")[0] + " " + line.split("'")[1] for line in done.stderr.strip().splitlines()] == [
        "jobs.yaml:3 c-nosuchprog_a", "jobs.yaml:3 c-nosuchprog_b", "jobs.yaml:6 after",
    ], done.stderr
