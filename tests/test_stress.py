"""Repeats the failure scenarios many times. Not part of the default run:

    python -m pytest -m stress            # STRESS_ROUNDS=N to change the count (default 20)
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import CliRunner, wait_until_gone, write

ROUNDS = int(os.environ.get("STRESS_ROUNDS", "20"))
pytestmark = [pytest.mark.stress, pytest.mark.timeout(60 * ROUNDS)]

MIXED = "jobs:\n" + "".join(
    f'  - {{name: crash{i}, call: "jobs:{"kill_self" if i % 2 else "exit_hard"}"}}\n'
    f'  - {{name: slow{i}, run: "sleep 5", timeout: 0.2}}\n'
    f'  - {{name: spin{i}, call: "jobs:spin", args: [5], timeout: 0.2}}\n'
    f'  - {{name: ok{i}, call: "jobs:add", args: [{i}, 1]}}\n'
    for i in range(5)
)


def statuses(path: Path) -> dict[str, str]:
    return {line["name"]: line["status"] for line in map(json.loads, path.read_text().splitlines())}


def test_crash_and_timeout_storm(cli: CliRunner) -> None:
    jobs = write(cli.workdir / "jobs.yaml", MIXED)
    for _ in range(ROUNDS):
        done = cli.run("run", str(jobs), "-w", "2", timeout=120)
        assert done.returncode == 1
        found = statuses(cli.workdir / ".taskrunner/jobs.results.jsonl")
        assert len(found) == 20
        for name, status in found.items():
            expected = {"crash": "crashed", "slow": "timeout", "spin": "timeout", "ok": "ok"}[name.rstrip("0123456789")]
            assert status == expected, (name, status)
    assert not wait_until_gone(cli.tag, timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_interrupt_at_random_moments(cli: CliRunner, signum: int) -> None:
    jobs = write(cli.workdir / "jobs.yaml", "jobs:\n" + "".join(
        f'  - {{name: j{i}, run: "sleep 0.{i % 7}"}}\n' for i in range(40)))
    results = cli.workdir / ".taskrunner/jobs.results.jsonl"
    for round_number in range(ROUNDS):
        proc = cli.start("run", str(jobs), "-w", "4", start_new_session=True)
        time.sleep(0.3 + (round_number % 10) * 0.15)
        os.killpg(proc.pid, signum) if signum == signal.SIGINT else proc.kill()
        proc.communicate(timeout=30)
        assert not wait_until_gone(cli.tag, timeout=10)
        if signum == signal.SIGINT:
            assert proc.returncode in (0, 130)
            assert len(statuses(results)) == 40
        resumed = cli.run("run", str(jobs), "-w", "4", "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert set(statuses(results).values()) == {"ok"} and len(results.read_text().splitlines()) == 40
