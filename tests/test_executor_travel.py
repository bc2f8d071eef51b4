"""What cannot travel fails its own future, with its own error, at once, and
nothing waits for ever (issue 26, item 7)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import REPO_DIR, TESTS_DIR
from taskrunner import Executor, JobFailed, WorkerCrashed


class BadReduce:
    def __reduce__(self) -> object:
        raise ValueError("cannot reduce")


def fail_to_load() -> None:
    raise RuntimeError("cannot load here")


class BadLoad:
    def __reduce__(self) -> object:
        return (fail_to_load, ())


class ExitWhilePickled:
    def __reduce__(self) -> object:
        sys.exit(3)


def identity(value: object) -> object:
    return value


def make(kind: str) -> object:
    return {"lock": threading.Lock, "bad load": BadLoad, "exit": ExitWhilePickled}[kind]()


def test_an_argument_that_fails_to_pickle_fails_its_future_and_the_executor_goes_on(no_leftovers: None) -> None:
    with Executor(1) as executor:
        with pytest.raises(ValueError, match="cannot reduce"):
            executor.submit(identity, BadReduce()).result(timeout=30)
        with pytest.raises(SystemExit):
            executor.submit(identity, ExitWhilePickled()).result(timeout=30)
        assert executor.submit(identity, 7).result(timeout=30) == 7


def test_what_fails_to_load_or_pickle_on_either_side_is_its_own_error(no_leftovers: None) -> None:
    with Executor(1) as executor:
        loaded = executor.submit(identity, BadLoad()).exception(timeout=30)
        assert type(loaded) is RuntimeError and "cannot load here" in str(loaded)
        assert "worker could not load the job" in str(loaded.__cause__)
        sent = executor.submit(make, "lock").exception(timeout=30)
        assert isinstance(sent, (TypeError, pickle.PicklingError)) and "pickle" in str(sent)
        back = executor.submit(make, "bad load").exception(timeout=30)
        assert type(back) is RuntimeError and isinstance(back.__cause__, JobFailed)
        exited = executor.submit(make, "exit").exception(timeout=30)
        assert type(exited) is SystemExit
        assert executor.submit(identity, 8).result(timeout=30) == 8


def test_submit_once_the_interpreter_began_to_exit_is_a_runtime_error() -> None:
    script = (
        "import atexit, taskrunner, operator\n"
        "def late():\n"
        "    try:\n"
        "        executor.submit(operator.neg, 1)\n"
        "    except RuntimeError as error:\n"
        "        print('refused:', error)\n"
        "if __name__ == '__main__':\n"
        "    executor = taskrunner.Executor(1)\n"
        "    print(executor.submit(operator.neg, 2).result())\n"
        "    atexit.register(late)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                          env={"PYTHONPATH": f"{TESTS_DIR}:{REPO_DIR}", "PATH": "/usr/bin:/bin"})
    assert done.stdout.splitlines() == ["-2", "refused: cannot schedule new futures after interpreter shutdown"], (
        done.stdout, done.stderr)


def fail_once(marker: str) -> str:
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise ValueError("first try")
    return "second try"


def crash() -> None:
    os._exit(9)


def test_an_executors_results_lines_hold_every_attempt(tmp_path: Path, no_leftovers: None) -> None:
    """Issue 26, item 5: the same history a run records, for retries and crashes."""
    results = tmp_path / "calls.jsonl"
    with Executor(1, retries=2, results=str(results)) as executor:
        assert executor.submit(fail_once, str(tmp_path / "tried")).result(timeout=60) == "second try"
        assert isinstance(executor.submit(crash).exception(timeout=60), WorkerCrashed)
    lines = {line["name"]: line for line in map(json.loads, results.read_text().splitlines())}
    retried, crashed = lines["fail_once-1"], lines["crash-2"]
    assert retried["attempts"] == 2 and [entry[3] for entry in retried["history"]] == ["failed", "ok"]
    assert crashed["attempts"] == 3 and [entry[3] for entry in crashed["history"]] == ["crashed"] * 3
    assert all(entry[0] <= entry[1] for line in (retried, crashed) for entry in line["history"])
