"""The `taskrunner` command, run as a real child process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner as ClickRunner

from conftest import REPO_DIR, CliRunner, write
from taskrunner.cli.commands import cli as taskrunner_cli
from taskrunner.engine.freshness import Freshness

pytestmark = pytest.mark.timeout(120)


def test_example_file_runs_green(cli: CliRunner) -> None:
    done = cli.run("run", str(REPO_DIR / "jobs.example.yaml"), "--workers", "8")
    assert done.returncode == 0, done.stderr
    lines = (cli.workdir / ".taskrunner/jobs.example.results.jsonl").read_text().splitlines()
    statuses = {json.loads(line)["name"]: json.loads(line)["status"] for line in lines}
    assert set(statuses.values()) == {"ok"} and len(statuses) >= 5
    assert "jobs in" in done.stderr and "ok" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_failing_and_crashing_jobs_exit_1_with_a_summary(cli: CliRunner) -> None:
    jobs = write(
        cli.workdir / "jobs.yaml",
        """
jobs:
  - {name: good, run: "true"}
  - {name: bad, run: "echo the disk is full >&2; exit 3"}
  - {name: crash, call: "jobs:exit_hard"}
  - {name: raises, call: "jobs:fail", args: [kaput]}
""",
    )
    done = cli.run("run", str(jobs), "-w", "2")
    assert done.returncode == 1
    assert "FAILED bad: exited with status 3" in done.stderr
    assert "the disk is full" in done.stderr
    assert "CRASHED crash: worker" in done.stderr
    assert "FAILED raises: ValueError: kaput" in done.stderr
    assert ".taskrunner/jobs.results.jsonl" in done.stderr
    results = [json.loads(line) for line in (cli.workdir / ".taskrunner/jobs.results.jsonl").read_text().splitlines()]
    assert {r["name"]: r["status"] for r in results} == {"good": "ok", "bad": "failed", "crash": "crashed", "raises": "failed"}


def test_bad_job_file_is_one_line_exit_2_and_writes_nothing(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - name: b\n    rnu: echo\n    run: echo\n")
    done = cli.run("run", str(jobs))
    assert done.returncode == 2
    assert done.stderr == f"{jobs}:3: job 'b': unknown key 'rnu' (did you mean 'run'?)\n"
    assert not (cli.workdir / ".taskrunner").exists()


@pytest.mark.parametrize(
    "args",
    [("--workers", "0"), ("--workers", "-3"), ("--timeout", "0"), ("--retries", "-1"), ("--workers", "many"),
     ("--backend", "ray"), ("--scheduler", "tcp://127.0.0.1:8786")],
)
def test_bad_options_exit_2(cli: CliRunner, args: tuple[str, ...]) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    done = cli.run("run", str(jobs), *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not (cli.workdir / ".taskrunner").exists()


def test_a_scheduler_without_the_dask_backend_is_one_line(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'true'}\n")
    done = cli.run("run", str(jobs), "--scheduler", "tcp://127.0.0.1:8786")
    assert done.returncode == 2
    assert done.stderr == "a scheduler address goes with the dask backend (--backend dask)\n"


def test_missing_file_exit_2(cli: CliRunner) -> None:
    done = cli.run("run", "nope.yaml")
    assert done.returncode == 2 and done.stderr.strip() == "nope.yaml: cannot read job file: No such file or directory"


def test_results_and_log_dir_options(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: hi, run: 'echo hello'}\n")
    done = cli.run("run", str(jobs), "--results", "out/r.jsonl", "--log-dir", "mylogs")
    assert done.returncode == 0, done.stderr
    assert json.loads((cli.workdir / "out/r.jsonl").read_text())["status"] == "ok"
    assert (cli.workdir / "mylogs/hi.out").read_text() == "hello\n"


def test_file_workers_default_and_override(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "workers: 1\njobs:\n" + "".join(
        f"  - {{name: p{i}, call: 'os:getpid'}}\n" for i in range(4)))
    assert cli.run("run", str(jobs)).returncode == 0
    pids = {json.loads(line)["value"] for line in (cli.workdir / ".taskrunner/jobs.results.jsonl").read_text().splitlines()}
    assert len(pids) == 1


def test_no_progress_bar_in_a_pipe_unless_forced(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'sleep 0.3'}\n  - {name: b, run: 'exit 1'}\n")
    plain = cli.run("run", str(jobs))
    assert plain.returncode == 1 and "job/s" not in plain.stderr and " done, ok=" not in plain.stderr
    # Forced onto a pipe: plain lines (a CI log), not a bar; a bar under a terminal is test_display's.
    forced = cli.run("run", str(jobs), "--progress")
    assert forced.returncode == 1 and "job/s" not in forced.stderr and "1/2 done, ok=0 failed=1" in forced.stderr
    assert " done, ok=" not in cli.run("run", str(jobs), "--no-progress").stderr


def test_validate(cli: CliRunner) -> None:
    good = write(cli.workdir / "good.yaml", "jobs:\n  - {name: a, run: 'true'}\n  - {name: b, call: 'm:f'}\n")
    done = cli.run("validate", str(good))
    assert done.returncode == 0 and done.stdout == f"{good}: valid, 2 jobs\n"
    bad = write(cli.workdir / "bad.yaml", "jobs:\n  - {name: a, run: 'true', timeout: 0}\n  - {name: b}\n")
    done = cli.run("validate", str(bad))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 2


def test_list(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: a, run: 'echo 1', tags: [x]}\n  - {name: b, call: 'm:f', depends_on: a}\n")
    done = cli.run("list", str(jobs))
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["a\trun\techo 1  [x]", "b\tcall\tm:f  (after: a)"]


def test_python_dash_m_and_help(cli: CliRunner) -> None:
    done = cli.run("--help")
    assert done.returncode == 0 and "taskrunner run jobs.yaml" in done.stdout
    assert "Example" in cli.run("run", "--help").stdout


WORKFLOW = """
jobs:
  - {name: gen-{n}, run: "echo gen {n} >> log", matrix: {n: [1, 2]}}
  - {name: resize, run: "echo resize >> log", depends_on: "gen-{n}", tags: [images]}
  - {name: docs, run: "echo docs >> log", tags: [docs]}
  - {name: publish, run: "echo publish >> log", depends_on: [resize, docs]}
""".replace("gen-{n},", "'gen-{n}',")


def test_dry_run_prints_in_dependency_order_and_runs_nothing(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", WORKFLOW)
    done = cli.run("run", str(jobs), "--dry-run")
    assert done.returncode == 0, done.stderr
    names = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert names == ["gen-1", "gen-2", "resize", "docs", "publish"]
    assert not (cli.workdir / "log").exists() and not (cli.workdir / ".taskrunner").exists()


def test_only_and_tag_select_jobs_plus_their_dependencies(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", WORKFLOW)
    assert cli.run("run", str(jobs), "--tag", "images").returncode == 0
    assert sorted((cli.workdir / "log").read_text().split("\n")[:-1]) == ["gen 1", "gen 2", "resize"]
    listed = cli.run("list", str(jobs), "--only", "doc*", "--only", "gen-2")
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["gen-2", "docs"]
    bad = cli.run("run", str(jobs), "--only", "nothing*")
    assert bad.returncode == 2 and "'nothing*' matches no job" in bad.stderr


def test_list_json(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", WORKFLOW)
    done = cli.run("list", str(jobs), "--json")
    data = json.loads(done.stdout)
    assert [d["name"] for d in data] == ["gen-1", "gen-2", "resize", "docs", "publish"]
    assert data[2]["depends_on"] == ["gen-1", "gen-2"] and data[2]["tags"] == ["images"]
    assert data[0]["run"] == "echo gen 1 >> log"


def test_list_json_writes_every_kind_of_value(cli: CliRunner) -> None:
    """Mappings (env, kwargs, nested ones in arguments), tuples, resources and
    depfiles, as the encoder writes them: one compact object a line."""
    jobs = write(cli.workdir / "jobs.yaml", """
jobs:
  - name: c
    call: os:getpid
    args: [1, [2, 3], {deep: {er: x}}]
    kwargs: {k: {v: [1]}}
    env: {A: "1"}
    resources: {cpu: 2}
  - {name: r, run: "true", inputs: [a.c, {depfile: a.d}], outputs: a.o, env: {B: "2"}}
""")
    (cli.workdir / "a.c").write_text("")
    done = cli.run("list", str(jobs), "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 4
    call, command = json.loads(done.stdout)
    assert call["args"] == [1, [2, 3], {"deep": {"er": "x"}}] and call["kwargs"] == {"k": {"v": [1]}}
    assert call["env"] == {"A": "1"} and call["resources"] == {"cpu": 2.0} and "run" not in call
    assert command["inputs"] == ["a.c", {"depfile": "a.d"}] and command["outputs"] == ["a.o"]
    assert command["env"] == {"B": "2"} and "call" not in command


def test_max_jobs_option(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n  - {name: m, run: 'true', matrix: {a: [1, 2, 3], b: [1, 2]}}\n")
    refused = cli.run("validate", str(jobs), "--max-jobs", "5")
    assert refused.returncode == 2 and "6 jobs, more than the limit of 5" in refused.stderr
    assert cli.run("validate", str(jobs), "--max-jobs", "6").stdout.endswith("valid, 6 jobs\n")


def test_list_looks_at_freshness_once_for_all_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It once did so for every job: quadratic, minutes for a 50,000-job file.
    calls = []
    real = Freshness.up_to_date
    monkeypatch.setattr(Freshness, "up_to_date", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    job_file = tmp_path / "jobs.yaml"
    job_file.write_text("jobs:\n" + "".join(f"  - {{name: j{n}, run: 'true'}}\n" for n in range(50)))
    done = ClickRunner().invoke(taskrunner_cli, ["list", str(job_file)])
    assert done.exit_code == 0, done.output
    assert len(done.output.splitlines()) == 50 and len(calls) == 1
