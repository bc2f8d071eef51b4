"""ProcessPoolExecutor's signature (issue 26, item 4): ``mp_context``,
``initializer``/``initargs`` (also for ``run()``/``Runner``) and
``max_tasks_per_child``, with real worker processes."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter

import jobs
import pytest

import taskrunner
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
