"""ProcessPoolExecutor's signature (issue 26, item 4): ``mp_context``,
``initializer``/``initargs`` (also for ``run()``/``Runner``) and
``max_tasks_per_child``, with real worker processes."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import jobs
import pytest

import taskrunner
from conftest import REPO_DIR, TAG_VARIABLE, wait_until_gone
from taskrunner import Executor, Job, JobFailed


def test_the_initializer_runs_once_in_each_worker(no_leftovers: None) -> None:
    with Executor(2, multiprocessing.get_context("spawn"), jobs.remember, ("model",)) as executor:
        values = [executor.submit(jobs.remembered).result(timeout=60) for _ in range(6)]
    assert values == [["model"]] * 6


def test_an_initializer_that_raises_fails_that_workers_calls_and_the_executor_goes_on(no_leftovers: None) -> None:
    with Executor(1, initializer=jobs.refuse_to_start) as executor:
        for _ in range(2):
            error = executor.submit(jobs.add, 1, 2).exception(timeout=60)
            assert isinstance(error, JobFailed)
            assert "the worker's initializer failed: ValueError: no model here" in str(error)


def test_a_worker_retires_after_max_tasks_per_child_calls(no_leftovers: None) -> None:
    with Executor(1, max_tasks_per_child=2) as executor:
        pids = [executor.submit(os.getpid).result(timeout=60) for _ in range(6)]
        assert executor.submit(jobs.add, 2, 3).result(timeout=60) == 5
    assert len(set(pids)) >= 3 and max(Counter(pids).values()) <= 2, pids


def test_bad_setup_values_are_refused() -> None:
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        Executor(0)
    with pytest.raises(ValueError, match="max_tasks_per_child must be an int >= 1"):
        Executor(1, max_tasks_per_child=0)
    with pytest.raises(TypeError, match="initializer must be callable"):
        Executor(1, initializer=42)  # type: ignore[arg-type]


def test_run_and_runner_take_an_initializer(tmp_path: object, no_leftovers: None) -> None:
    report = taskrunner.run([Job(name="r", call=jobs.remembered)], workers=1, progress=False,
                            results=os.path.join(str(tmp_path), "r.jsonl"), initializer=jobs.remember,
                            initargs=("loaded",))
    assert report["r"].value == ["loaded"]


SCRIPT_WITH_AN_INITIALIZER = """
import multiprocessing, taskrunner

model = None
queue = None

def load(name, to_parent):
    global model, queue
    model, queue = name, to_parent

def describe(x):
    queue.put(x)
    return f"{model}:{helper(x)}"

def helper(x):
    return x * 2

to_parent = multiprocessing.get_context("forkserver").Queue()
with taskrunner.Executor(2, initializer=load, initargs=("big-model", to_parent)) as executor:
    print(list(executor.map(describe, [1, 2, 3])), sorted(to_parent.get(timeout=30) for _ in range(3)))
with taskrunner.Executor(1, initializer=lambda: load("lambda-model", None)) as executor:
    print(executor.submit(lambda: model).result())
"""


def test_a_scripts_initializer_sets_the_globals_its_calls_read(tmp_path: Path) -> None:
    # The pattern ProcessPoolExecutor users write (load a model once per
    # worker into a global): the initializer, the calls and the helpers they
    # use are the script's own functions, so they travel by value, and
    # still share one namespace in each worker. No __main__ guard.
    script = tmp_path / "script.py"
    script.write_text(SCRIPT_WITH_AN_INITIALIZER)
    tag = f"init-script-{uuid.uuid4().hex}"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO_DIR), TAG_VARIABLE: tag})
    assert not wait_until_gone(tag)
    assert done.stdout.splitlines() == ["['big-model:2', 'big-model:4', 'big-model:6'] [1, 2, 3]", "lambda-model"], (
        done.stdout, done.stderr)
