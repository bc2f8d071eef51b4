"""CPython's own ``test_concurrent_futures``, process-pool tests, against
``taskrunner.Executor`` (``cpython_futures.py`` is the adapter: a rebind of
``ProcessPoolExecutor``, nothing more).

Every test passes except the ones in ``DIFFERENCES``: deliberate, documented
differences (the README lists them with these reasons). A test that starts to
pass must leave the list, and one that starts to fail is a regression.

The interpreter's own copy of the suite runs: the 3.13 package (its
fork-server variants take about 45 s, so they run in CI) or the 3.10 file
(about 65 s: ``-m stress``); 3.11 and 3.12 builds here ship no test package,
so there it skips. Every context's variants run under ``-m stress``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import TAG_VARIABLE, TESTS_DIR, wait_until_gone

ADAPTER = TESTS_DIR / "cpython_futures.py"

#: "<test class without its ProcessPool<Context> prefix>.<test>": why it fails.
DIFFERENCES = {
    "ProcessPoolExecutorTest.test_killed_child":
        "a killed worker fails only the call it ran (WorkerCrashed, a BrokenProcessPool) and is replaced; "
        "the executor is not broken and later submit() calls run",
    "ProcessPoolExecutorTest.test_idle_process_reuse_one":
        "all max_workers workers start with the executor, not one at a time on demand",
    "ProcessPoolExecutorTest.test_idle_process_reuse_multiple":
        "all max_workers workers start with the executor, not one at a time on demand",
    "ProcessPoolExecutorTest.test_python_finalization_error":
        "a call whose sending fails gets that error (here the RuntimeError of a thread that cannot start); "
        "the executor is not broken",
    "FailingInitializerTest.test_initializer":
        "an initializer that raises fails the calls of its worker (JobFailed saying so); the executor is not "
        "broken. Under the fork context the test's fork-context queue cannot reach the workers at all",
    "FailingInitializerResourcesTest.test_forkserver":
        "it runs FailingInitializerTest.test_initializer (above) and stops the resource tracker at once; the "
        "error that test ends with holds its queue in a reference cycle, so the tracker sees 3 semaphores "
        "alive (with a gc pass before the stop it passes)",
    "FailingInitializerResourcesTest.test_spawn": "the same, with the spawn context",
    "ExecutorDeadlockTest.test_error_at_task_unpickle":
        "an argument that fails to unpickle in the worker fails its future with that error (UnpicklingError), "
        "not BrokenProcessPool; the executor goes on",
    "ExecutorDeadlockTest.test_error_during_result_unpickle_in_result_handler":
        "a return value that fails to unpickle fails its future with that error (UnpicklingError), "
        "not BrokenProcessPool; the executor goes on",
    "ExecutorDeadlockTest.test_exit_during_result_unpickle_in_result_handler":
        "a return value whose unpickling raises SystemExit fails its future with that SystemExit, "
        "not BrokenProcessPool; the executor goes on",
}
#: Differences of one context's variants only.
_ON_DEMAND = {
    "ProcessPoolShutdownTest.test_processes_terminate":
        "all max_workers workers start with the executor, not one at a time on demand (the fork variant "
        "expects all of them, and passes)",
}
CONTEXT_DIFFERENCES = {
    "forkserver": _ON_DEMAND,
    "spawn": _ON_DEMAND,
    "fork": {
        "ProcessPoolExecutorTest.test_max_tasks_per_child":
            "max_tasks_per_child works whatever mp_context says (workers start from taskrunner's fork server), "
            "where ProcessPoolExecutor refuses it with the fork context (ValueError)",
    },
}

CONTEXTS = ("fork", "forkserver", "spawn")


def _has_suite() -> bool:
    try:
        return importlib.util.find_spec("test.test_concurrent_futures") is not None
    except ImportError:
        return False


HAS_SUITE = _has_suite()
IS_PACKAGE = sys.version_info >= (3, 12)  # the 3.10 file takes over a minute

pytestmark = pytest.mark.skipif(not HAS_SUITE, reason="this Python has no test.test_concurrent_futures "
                                                     "(pyenv's 3.11 and 3.12 builds here ship without it)")


def _key(test_id: str) -> tuple[str, str]:
    """(context, "<class without its context prefix>.<test>") of a unittest id."""
    class_name, method = test_id.split(".")[-2:]
    if class_name == "FailingInitializerResourcesTest":  # one test a context: test_spawn, test_forkserver
        return method.removeprefix("test_"), f"{class_name}.{method}"
    rest = class_name.removeprefix("ProcessPool")
    for context in ("Forkserver", "Fork", "Spawn"):
        if rest.startswith(context):
            return context.lower(), f"{rest.removeprefix(context)}.{method}"
    raise AssertionError(f"not a process-pool test: {test_id}")


def _run_suite(tmp_path: Path, contexts: tuple[str, ...], timeout: float) -> dict[str, list[str]]:
    tag = f"cpython-futures-{uuid.uuid4().hex}"
    out = tmp_path / "outcomes.json"
    env = {**os.environ, TAG_VARIABLE: tag, "CPYTHON_FUTURES_TIMEOUT": str(timeout - 20)}
    try:
        completed = subprocess.run([sys.executable, str(ADAPTER), str(out), *contexts], check=False, cwd=tmp_path,
                                   env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        left = wait_until_gone(tag)
        for process in left:
            process.kill()
    assert not left, f"processes left behind: {[process.cmdline() for process in left]}"
    assert completed.returncode == 0, completed.stderr[-5000:]
    outcomes: dict[str, list[str]] = json.loads(out.read_text())
    return outcomes


def _check(outcomes: dict[str, list[str]], contexts: tuple[str, ...]) -> None:
    unexpected_failures, unexpected_passes, ran = [], [], 0
    for test_id, (outcome, text) in sorted(outcomes.items()):
        context, key = _key(test_id)
        expected = key in DIFFERENCES or key in CONTEXT_DIFFERENCES.get(context, {})
        if outcome in ("fail", "error") and not expected:
            unexpected_failures.append(f"{test_id}: {text.splitlines()[-1]}")
        elif outcome == "ok":
            ran += 1
            if expected:
                unexpected_passes.append(f"{test_id} passes: take it off DIFFERENCES and the README")
    assert not unexpected_failures, "\n".join(unexpected_failures)
    assert not unexpected_passes, "\n".join(unexpected_passes)
    # The suite really ran (an import that broke would otherwise pass): the
    # 3.13 package has 46 passing fork-server tests, the 3.10 file 42.
    assert ran >= 40 * len(contexts), f"only {ran} tests passed"


@pytest.mark.skipif(HAS_SUITE and not IS_PACKAGE, reason="the 3.10 file takes over a minute: it runs under -m stress")
def test_cpython_process_pool_tests_pass_but_the_documented_differences(tmp_path: Path) -> None:
    _check(_run_suite(tmp_path, ("forkserver",), timeout=110), ("forkserver",))


@pytest.mark.stress
@pytest.mark.timeout(600)
@pytest.mark.parametrize("contexts", [("forkserver",), CONTEXTS], ids=["forkserver", "every-context"])
def test_cpython_process_pool_tests_of_every_context(tmp_path: Path, contexts: tuple[str, ...]) -> None:
    _check(_run_suite(tmp_path, contexts, timeout=560), contexts)
