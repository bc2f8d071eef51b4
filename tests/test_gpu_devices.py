"""GPUs the run was given (issue 27, item 6), with a fake ``CUDA_VISIBLE_DEVICES``
(a Slurm or container allocation): jobs get only those devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CliRunner, write

pytestmark = pytest.mark.timeout(120)

SHOW = "echo \"$CUDA_VISIBLE_DEVICES|$TASKRUNNER_GPUS\" > {n}.env; sleep {s}"


def jobs_file(folder: Path, gpu_jobs: int, seconds: float = 0.3, head: str = "") -> list[str]:
    names = [f"g{i}" for i in range(gpu_jobs)]
    write(folder / "jobs.yaml", head + "jobs:\n" + "".join(
        f"  - {{name: {n}, run: '{SHOW.format(n=n, s=seconds)}', resources: {{gpu: 1}}}}\n" for n in names)
        + f"  - {{name: plain, run: '{SHOW.format(n='plain', s=0)}'}}\n")
    return names


def seen(folder: Path, name: str) -> str:
    return (folder / f"{name}.env").read_text().strip()


def test_gpu_jobs_get_only_the_inherited_devices_and_the_others_get_none(cli: CliRunner) -> None:
    names = jobs_file(cli.workdir, 4)
    cli.env = {**cli.env, "CUDA_VISIBLE_DEVICES": "4,5"}
    done = cli.run("run", "jobs.yaml", "-j", "4", "--resources", "gpu=2")
    assert done.returncode == 0, done.stderr
    assert {seen(cli.workdir, n) for n in names} <= {"4|4", "5|5"}
    assert seen(cli.workdir, "plain") == "|"  # no gpu asked: none seen, not the run's 4,5


def test_the_gpu_capacity_defaults_to_the_inherited_devices(cli: CliRunner) -> None:
    names = jobs_file(cli.workdir, 3)
    cli.env = {**cli.env, "CUDA_VISIBLE_DEVICES": "GPU-a1b2, GPU-c3d4"}
    done = cli.run("run", "jobs.yaml", "-j", "3")
    assert done.returncode == 0, done.stderr
    assert {seen(cli.workdir, n) for n in names} <= {"GPU-a1b2|GPU-a1b2", "GPU-c3d4|GPU-c3d4"}


@pytest.mark.parametrize(("inherited", "shown"), [("", "none"), ("7", "7")])
def test_more_gpus_than_the_run_was_given_is_an_error_before_anything_runs(
    cli: CliRunner, inherited: str, shown: str
) -> None:
    jobs_file(cli.workdir, 1)
    cli.env = {**cli.env, "CUDA_VISIBLE_DEVICES": inherited}
    done = cli.run("run", "jobs.yaml", "--resources", "gpu=2")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"gpu=2 but CUDA_VISIBLE_DEVICES gives it {len(inherited.split(',')) if inherited else 0} device(s) ({shown})" \
        in done.stderr
    assert not (cli.workdir / "g0.env").exists() and not (cli.workdir / ".taskrunner/jobs.results.jsonl").exists()


def test_without_an_inherited_list_devices_are_counted_from_zero(cli: CliRunner) -> None:
    names = jobs_file(cli.workdir, 2, head="resources: {gpu: 1}\n")
    cli.env = {k: v for k, v in cli.env.items() if k != "CUDA_VISIBLE_DEVICES"}
    assert cli.run("run", "jobs.yaml", "-j", "2").returncode == 0
    assert {seen(cli.workdir, n) for n in names} == {"0|0"} and seen(cli.workdir, "plain") == "|"


def test_a_run_that_counts_no_gpus_leaves_the_inherited_devices_alone(cli: CliRunner) -> None:
    write(cli.workdir / "jobs.yaml", f"jobs:\n  - {{name: plain, run: '{SHOW.format(n='plain', s=0)}', "
                                     "resources: {mem: 1M}}\n")
    cli.env = {**cli.env, "CUDA_VISIBLE_DEVICES": "4,5"}
    assert cli.run("run", "jobs.yaml").returncode == 0
    assert seen(cli.workdir, "plain") == "4,5|"
