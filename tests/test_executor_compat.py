"""``taskrunner.Executor`` where code written for ``ProcessPoolExecutor`` looks:
the exception types it catches, the attributes it reads, ``cancel_futures``,
and executors opened and closed from different threads (what CPython's own
``test_concurrent_futures`` found; see ``test_cpython_futures``)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool, _RemoteTraceback

import jobs
import pytest

from taskrunner import Executor, WorkerCrashed


def test_a_crashed_worker_is_a_broken_process_pool_to_code_that_catches_one(no_leftovers: None) -> None:
    with Executor(max_workers=1) as executor:
        future = executor.submit(os._exit, 3)
        with pytest.raises(BrokenProcessPool) as caught:
            future.result(timeout=60)
        assert isinstance(caught.value, WorkerCrashed)
        # ... and yet the executor is not broken: the next call runs.
        assert executor.submit(pow, 2, 5).result(timeout=60) == 32


def test_the_remote_traceback_is_process_pool_executors_own(no_leftovers: None) -> None:
    with Executor(max_workers=1) as executor:
        error = executor.submit(jobs.fail, "boom").exception(timeout=60)
    assert type(error.__cause__) is _RemoteTraceback
    assert "boom" in error.__cause__.tb


def test_processes_and_max_workers_read_as_on_process_pool_executor(no_leftovers: None) -> None:
    with Executor(max_workers=2) as executor:
        assert executor._max_workers == 2
        pids = {executor.submit(os.getpid).result(timeout=60) for _ in range(4)}
        processes = executor._processes
        assert pids <= set(processes) and len(processes) == 2
        assert all(process.is_alive() for process in processes.values())
    for process in processes.values():
        process.join(10)
        assert not process.is_alive()


def test_cancel_futures_cancels_what_no_worker_was_given_and_finishes_the_rest(no_leftovers: None) -> None:
    # Submitted just before the shutdown, before the loop could wake: the calls
    # the workers have room for still start, as on ProcessPoolExecutor.
    executor = Executor(max_workers=2)
    futures = [executor.submit(time.sleep, 0.1) for _ in range(50)]
    executor.shutdown(cancel_futures=True)
    cancelled = [future for future in futures if future.cancelled()]
    others = [future for future in futures if not future.cancelled()]
    assert len(cancelled) > 20 and others
    assert all(future.done() and future.exception() is None for future in others)
    with pytest.raises(CancelledError):
        cancelled[0].result()


def test_an_executor_closing_in_another_thread_never_stops_the_next_ones_fork_server(no_leftovers: None) -> None:
    # A pool closing in one thread (an executor dropped without shutdown is
    # closed by its own thread) while another thread opens the next pool: the
    # closing one must not stop the fork server the new one just started.
    for _ in range(8):
        old = Executor(max_workers=1)
        assert old.submit(abs, -1).result(timeout=60) == 1
        closing = threading.Thread(target=old.shutdown)
        closing.start()
        with Executor(max_workers=1) as new:
            assert new.submit(abs, -2).result(timeout=60) == 2
        closing.join(60)


def test_every_worker_is_there_once_a_call_is_submitted(no_leftovers: None) -> None:
    """As CPython's test_saturation asks: ``_processes`` holds every worker
    right after ``submit`` returns (a run's pool starts its workers lazily,
    the Executor's at once)."""
    with Executor(3) as executor:
        executor.submit(os.getpid)
        assert len(executor._processes) == 3
