"""taskrunner.Executor: a concurrent.futures executor that survives its workers.

Everything here runs real worker processes; each test checks that none is
left behind (``no_leftovers`` in process, ``cli``'s tag for scripts).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import itertools
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jobs
import psutil
import pytest

import taskrunner
from conftest import REPO_DIR, CliRunner, write
from taskrunner import Executor, JobFailed, WorkerCrashed


def kill_on(value: int, target: int) -> int:
    """Return ``value``, but SIGKILL the worker when it is ``target``."""
    if value == target:
        os.kill(os.getpid(), signal.SIGKILL)
    return value


def fail_once(marker: str) -> str:
    """Fail the first time (no marker file yet), succeed the next."""
    if not os.path.exists(marker):
        Path(marker).write_text("tried")
        raise RuntimeError("first try fails")
    return "second try"


class NeedsTwoArguments(Exception):
    """Pickles, but does not unpickle (its __init__ wants two arguments)."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


def raise_unloadable() -> None:
    raise NeedsTwoArguments("x", "y")


def return_unpicklable() -> object:
    return lambda: None


def raise_unpicklable() -> None:
    raise ValueError("carries a lock", threading.Lock())


def worker_pid() -> int:
    return os.getpid()


def run_script(cli: CliRunner, source: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    script = write(cli.workdir / "script.py", textwrap.dedent(source))
    env = {**cli.env, "PYTHONPATH": f"{Path(__file__).parent}:{REPO_DIR}"}
    return subprocess.run([sys.executable, str(script)], cwd=cli.workdir, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


SWAP_SCRIPT = """
    import concurrent.futures
    from concurrent.futures import ProcessPoolExecutor
    import jobs

    def square(x):
        return x * x

    if __name__ == "__main__":
        with ProcessPoolExecutor(max_workers=2) as pool:
            print(list(pool.map(square, range(10))))
            print(list(pool.map(jobs.add, [1, 2], [10, 20], chunksize=4)))
            future = pool.submit(jobs.add, 2, b=3)
            print(future.result(timeout=30))
            failing = pool.submit(jobs.fail, "nope")
            error = failing.exception()
            print(type(error).__name__, error, "jobs.py" in str(error.__cause__))
            try:
                failing.result()
            except ValueError as caught:
                print("caught", caught)
            done = {f.result() for f in concurrent.futures.as_completed([pool.submit(square, i) for i in range(5)])}
            print(sorted(done))
            finished, pending = concurrent.futures.wait([pool.submit(square, 7)], timeout=30)
            print(len(finished), len(pending), [f.result() for f in finished])
        try:
            pool.submit(square, 1)
        except RuntimeError as caught:
            print("after shutdown:", caught)
        # Results read after the with block (more inputs than a map submits ahead).
        with ProcessPoolExecutor(max_workers=2) as pool:
            later = pool.map(square, range(5000))
        print(sum(later))
"""


def test_a_processpoolexecutor_script_runs_unchanged_on_taskrunner(cli: CliRunner) -> None:
    expected = run_script(cli, SWAP_SCRIPT)
    assert expected.returncode == 0, expected.stderr
    swapped = SWAP_SCRIPT.replace(
        "from concurrent.futures import ProcessPoolExecutor", "from taskrunner import Executor as ProcessPoolExecutor"
    )
    assert swapped != SWAP_SCRIPT
    ours = run_script(cli, swapped)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == expected.stdout
    assert "ValueError nope True" in ours.stdout  # the worker's traceback is the cause


def test_a_killed_worker_fails_only_its_own_future(no_leftovers: None) -> None:
    with Executor(2) as executor:
        futures = [executor.submit(kill_on, i, 7) for i in range(20)]
        concurrent.futures.wait(futures, timeout=60)
        failed = [i for i, f in enumerate(futures) if f.exception() is not None]
        assert failed == [7]
        error = futures[7].exception()
        assert isinstance(error, WorkerCrashed) and isinstance(error, JobFailed)
        # A BrokenProcessPool too, for code written for ProcessPoolExecutor, though the pool is not broken.
        assert isinstance(error, concurrent.futures.process.BrokenProcessPool)
        assert "SIGKILL" in str(error)
        assert [f.result() for i, f in enumerate(futures) if i != 7] == [i for i in range(20) if i != 7]
        # The executor goes on: a replacement worker takes new calls.
        assert executor.submit(jobs.add, 1, 2).result(timeout=30) == 3


def test_a_hung_call_times_out_and_the_next_call_succeeds(no_leftovers: None) -> None:
    with Executor(1, timeout=0.5) as executor:
        first_worker = executor.submit(worker_pid).result(timeout=30)
        hung = executor.submit(jobs.sleep, 60)
        error = hung.exception(timeout=30)
        assert isinstance(error, TimeoutError), error
        assert isinstance(error, concurrent.futures.TimeoutError)  # also before Python 3.11
        assert "timed out after 0.5s" in str(error)
        assert executor.submit(jobs.add, 2, 2).result(timeout=30) == 4
        # The hung call's worker was replaced, not reused.
        assert executor.submit(worker_pid).result(timeout=30) != first_worker
        assert not psutil.pid_exists(first_worker) or psutil.Process(first_worker).status() == psutil.STATUS_ZOMBIE


def test_retries_apply_before_a_future_fails(tmp_path: Path, no_leftovers: None) -> None:
    with Executor(1, retries=1) as executor:
        assert executor.submit(fail_once, str(tmp_path / "marker")).result(timeout=30) == "second try"
    with Executor(1, retries=2) as executor:
        error = executor.submit(jobs.fail, "always").exception(timeout=30)
    assert isinstance(error, ValueError) and str(error) == "always"


def test_shutdown_with_cancel_futures_cancels_the_queued_calls(no_leftovers: None) -> None:
    executor = Executor(1)
    futures = [executor.submit(jobs.sleep, 0.3) for _ in range(12)]
    time.sleep(0.1)  # the first call has started
    executor.shutdown(wait=True, cancel_futures=True)
    cancelled = [f for f in futures if f.cancelled()]
    ran = [f for f in futures if not f.cancelled()]
    assert len(cancelled) >= 9, [f._state for f in futures]
    assert ran and all(f.result() == 0.3 for f in ran)
    assert futures[0] in ran


def test_as_completed_over_a_thousand_futures(no_leftovers: None) -> None:
    with Executor(2) as executor:
        futures = {executor.submit(jobs.add, i, 1): i for i in range(1000)}
        seen = {futures[f]: f.result() for f in concurrent.futures.as_completed(futures, timeout=60)}
    assert seen == {i: i + 1 for i in range(1000)}


def test_map_reads_its_input_lazily_and_cancels_on_an_early_exit(no_leftovers: None) -> None:
    consumed = 0

    def numbers():  # type: ignore[no-untyped-def]
        nonlocal consumed
        for i in range(1_000_000):
            consumed += 1
            yield i

    with Executor(2) as executor:
        results = executor.map(jobs.add, numbers(), numbers())
        assert consumed < 10_000  # only a bounded window was submitted
        assert [next(results) for _ in range(5)] == [0, 2, 4, 6, 8]
        results.close()  # leaving the loop early
        assert consumed < 20_000


def test_shutdown_with_cancel_futures_cuts_a_map_short(no_leftovers: None) -> None:
    executor = Executor(1)
    results = executor.map(jobs.sleep, [0.2] * 3000)
    assert next(results) == 0.2
    executor.shutdown(cancel_futures=True)
    taken = list(itertools.takewhile(lambda value: value == 0.2, _until_error(results)))
    assert len(taken) < 5  # what had started; the rest was cancelled
    with pytest.raises(StopIteration):
        next(results)


def _until_error(results: Iterator[float]) -> Iterator[float]:
    """The results up to the first exception, which must be CancelledError."""
    while True:
        try:
            yield next(results)
        except concurrent.futures.CancelledError:
            return


def test_map_raises_the_first_failure_in_order_and_honours_its_timeout(no_leftovers: None) -> None:
    with Executor(2) as executor:
        results = executor.map(jobs.fail, ["a", "b"])
        with pytest.raises(ValueError, match="^a$"):
            next(results)
        with pytest.raises(StopIteration):  # the failure ended the map, as it ends a generator
            next(results)
        with pytest.raises(concurrent.futures.TimeoutError):  # the built-in one from Python 3.11
            list(executor.map(jobs.sleep, [1.5, 1.5], timeout=0.3))  # (the exit then waits for them)
        with pytest.raises(ValueError, match="chunksize"):
            executor.map(jobs.add, [1], [2], chunksize=0)


def test_exceptions_and_values_that_cannot_travel_fail_with_their_own_error(no_leftovers: None) -> None:
    with Executor(1) as executor:
        unloadable = executor.submit(raise_unloadable).exception(timeout=30)
        unpicklable = executor.submit(return_unpicklable).exception(timeout=30)
        unpicklable_error = executor.submit(raise_unpicklable).exception(timeout=30)
        assert executor.submit(jobs.add, 1, 1).result(timeout=30) == 2
    assert type(unloadable) is JobFailed and "NeedsTwoArguments: x y" in str(unloadable)
    # The pickling error itself, as ProcessPoolExecutor gives it (what failed, in its cause).
    # (AttributeError "Can't pickle/get local object" up to 3.13; PicklingError from 3.14)
    assert isinstance(unpicklable, (AttributeError, pickle.PicklingError)) and "local object" in str(unpicklable)
    assert "the return value cannot be sent back" in str(unpicklable.__cause__)
    assert type(unpicklable_error) is JobFailed and "ValueError: ('carries a lock'" in str(unpicklable_error)


def test_results_file_records_every_call(tmp_path: Path, no_leftovers: None) -> None:
    results = tmp_path / "calls.jsonl"
    with Executor(2, results=str(results), log_dir=str(tmp_path / "logs")) as executor:
        list(executor.map(jobs.add, range(5), range(5)))
        executor.submit(jobs.fail, "bad").exception(timeout=30)
        executor.submit(jobs.print_both, "hi").result(timeout=30)
        assert executor.submit(lambda: threading.Lock()).exception(timeout=30) is not None  # its value cannot come back
        with pytest.raises(taskrunner.ResultsFileBusy):
            Executor(1, results=str(results))
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    by_name = {line["name"]: line for line in lines}
    assert len(lines) == 8
    assert by_name["<lambda>-8"]["status"] == "failed" and "cannot be sent back" in by_name["<lambda>-8"]["error"]
    assert [by_name[f"add-{i}"]["value"] for i in range(1, 6)] == [0, 2, 4, 6, 8]
    assert by_name["fail-6"]["status"] == "failed" and "ValueError: bad" in by_name["fail-6"]["error"]
    assert by_name["print_both-7"]["value"] == "hi"
    assert Path(by_name["print_both-7"]["stdout_log"]).read_text() == "out: hi\n"
    assert not (tmp_path / "calls.jsonl.lock").exists()  # released at shutdown


def test_bad_use_is_a_clear_error(no_leftovers: None) -> None:
    with pytest.raises(ValueError, match="max_workers"):
        Executor(0)
    with pytest.raises(ValueError, match="timeout"):
        Executor(1, timeout=-1)
    with pytest.raises(ValueError, match="retries"):
        Executor(1, retries=-1)
    executor = Executor(1, timeout="1m")
    with pytest.raises(TypeError, match="not callable"):
        executor.submit(42)  # type: ignore[arg-type]
    executor.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(jobs.add, 1, 2)


CTRL_C_SCRIPT = """
    import sys
    import taskrunner, jobs

    if __name__ == "__main__":
        # Two quick calls, then long ones: Ctrl-C comes while two of them run.
        durations = [0.1, 0.1] + [30] * 100
        if sys.argv[1] == "with":
            with taskrunner.Executor(2) as executor:
                for value in executor.map(jobs.sleep, durations):
                    print("got", value, flush=True)
        else:
            executor = taskrunner.Executor(2)
            for value in executor.map(jobs.sleep, durations):
                print("got", value, flush=True)
"""


@pytest.mark.parametrize("form", ["with", "bare"])
def test_ctrl_c_during_map_in_a_script_leaves_no_process(cli: CliRunner, form: str) -> None:
    script = write(cli.workdir / "script.py", textwrap.dedent(CTRL_C_SCRIPT))
    env = {**cli.env, "PYTHONPATH": f"{Path(__file__).parent}:{REPO_DIR}"}
    process = subprocess.Popen([sys.executable, str(script), form], cwd=cli.workdir, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("got")  # the map is under way
        time.sleep(0.3)  # the long calls have started
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode in (1, -signal.SIGINT, 130), stderr
    assert "KeyboardInterrupt" in stderr
    # The running calls were cancelled, not waited for (30 s each).
    assert time.monotonic() - started < 10


MEMORY_SCRIPT = """
    import resource, sys
    import taskrunner, jobs

    def numbers():
        yield from range(1_000_000)

    def rss_mb():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20

    if __name__ == "__main__":
        limit = int(sys.argv[1])
        with taskrunner.Executor(2) as executor:
            for count, value in enumerate(executor.map(jobs.add, numbers(), numbers()), start=1):
                assert value == 2 * (count - 1)
                if count == 20_000:
                    early = rss_mb()
                if count == limit:
                    break
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{early:.1f} {rss_mb():.1f} {peak:.1f}")
"""


def test_map_over_a_million_item_generator_keeps_the_coordinator_small(cli: CliRunner) -> None:
    # 100,000 of the million run here (all of them: benchmarks/compare.py
    # --only executor); a map that took its input eagerly would hold a
    # million futures and jobs (over a gigabyte) before the first result.
    done = run_script(cli, MEMORY_SCRIPT.replace('int(sys.argv[1])', '100_000'), timeout=110)
    assert done.returncode == 0, done.stderr
    early, late, peak = map(float, done.stdout.split())
    assert peak < 200, f"coordinator peak {peak:.0f} MB"
    assert late - early < 20, f"the coordinator grew {late - early:.1f} MB over 80,000 calls"


def test_an_unguarded_script_runs_its_own_functions_lambdas_and_closures(cli: CliRunner) -> None:
    """Issue 26, item 3: what a worker could not import travels by value; the
    script is never imported by a worker, so it needs no guard."""
    done = run_script(cli, """
        import taskrunner, jobs

        print("body ran")  # once: workers never import this script
        OFFSET = 10

        class Point:
            def __init__(self, x):
                self.x = x

        def mine(point):
            return point.x + OFFSET

        def adder(k):
            return lambda x: x + k

        executor = taskrunner.Executor(2)
        print(list(executor.map(jobs.add, [1, 2], [3, 4])))
        print(executor.submit(mine, Point(1)).result(timeout=60), executor.submit(lambda: 7).result(timeout=60),
              list(executor.map(adder(100), [1, 2])))
        executor.shutdown()
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["body ran", "[4, 6]", "11 7 [101, 102]"]
