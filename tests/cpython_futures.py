"""Run CPython's own ``test_concurrent_futures`` against ``taskrunner.Executor``.

The adapter is the smallest one possible: ``ProcessPoolExecutor`` is rebound
to ``taskrunner.Executor`` (in ``concurrent.futures`` and in
``concurrent.futures.process``, where the tests look it up), and only the
process-pool test classes run. Nothing else is changed, so a test that passes
here passes against the class a user gets.

    python tests/cpython_futures.py OUT.json [CONTEXT ...]

writes ``{test id: [outcome, the traceback or skip reason]}`` for every test,
outcome one of ``ok``, ``fail``, ``error``, ``skip``. ``CONTEXT`` names the
multiprocessing contexts whose variants run (``fork``, ``forkserver``,
``spawn``; default all). It runs the 3.13 package (``test/test_concurrent_futures/``)
or the 3.10 file (``test/test_concurrent_futures.py``), whichever the running
interpreter has; ``tests/test_cpython_futures.py`` drives it and compares with
the documented differences.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import faulthandler
import importlib
import json
import os
import sys
import unittest
from collections.abc import Iterator

import taskrunner

#: The modules of the 3.13 package that test process pools (test_future and
#: test_thread_pool do not).
PACKAGE_MODULES = ("test_process_pool", "test_init", "test_wait", "test_as_completed",
                   "test_deadlock", "test_shutdown")
#: Tests the rebind cannot reach or that look only at ``ProcessPoolExecutor``'s
#: private machinery: skipped, with the reason (the README lists them). They
#: would fail on an attribute taskrunner does not have, and leave their
#: executor open behind them.
NOT_APPLICABLE = {
    "test_interpreter_shutdown": "runs a fresh interpreter that imports the executor class by name from "
                                 "concurrent.futures, which the rebind does not reach (tests/test_executor.py "
                                 "holds this behaviour)",
    "test_submit_after_interpreter_shutdown": "the same (tests/test_executor.py holds this behaviour)",
    "test_del_shutdown": "joins ProcessPoolExecutor's _executor_manager_thread and _call_queue",
    "test_shutdown_no_wait": "joins ProcessPoolExecutor's _executor_manager_thread and _call_queue",
    "test_shutdown_deadlock_pickle": "joins ProcessPoolExecutor's _executor_manager_thread",
    "test_max_tasks_per_child_defaults_to_spawn_context": "reads ProcessPoolExecutor's _mp_context (taskrunner "
                                                          "always starts workers from its fork server)",
}
#: The class-name part of each context's variant (``ProcessPoolForkserver…``).
CONTEXT_NAMES = {"fork": "ProcessPoolFork", "forkserver": "ProcessPoolForkserver",
                 "spawn": "ProcessPoolSpawn"}


def rebind() -> None:
    """Make ``ProcessPoolExecutor`` mean ``taskrunner.Executor`` everywhere the tests look."""
    concurrent.futures.ProcessPoolExecutor = taskrunner.Executor  # type: ignore[misc]
    concurrent.futures.process.ProcessPoolExecutor = taskrunner.Executor  # type: ignore[misc]


def modules() -> list[object]:
    """The test modules of this interpreter's ``test_concurrent_futures``."""
    try:
        package = importlib.import_module("test.test_concurrent_futures")
    except ImportError as error:
        raise SystemExit(f"this Python has no test.test_concurrent_futures: {error}") from None
    if hasattr(package, "__path__"):  # 3.12+: a package
        return [importlib.import_module(f"test.test_concurrent_futures.{name}") for name in PACKAGE_MODULES]
    return [package]  # 3.10: one file


def cases(suite: unittest.TestSuite | unittest.TestCase) -> Iterator[unittest.TestCase]:
    """Every test case of ``suite``, flattened."""
    if isinstance(suite, unittest.TestCase):
        yield suite
        return
    for item in suite:
        yield from cases(item)


def selected(contexts: list[str]) -> unittest.TestSuite:
    """The process-pool tests of the given contexts' variants."""
    prefixes = tuple(CONTEXT_NAMES[context] for context in contexts)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for module in modules():
        for case in cases(loader.loadTestsFromModule(module)):
            name = type(case).__name__
            # "ProcessPoolForkserver..." starts with "ProcessPoolFork": compare the
            # context part exactly.
            if (any(name.startswith(prefix) and not name[len(prefix):].startswith("server") for prefix in prefixes)
                    # It runs a failing-initializer test of one context and checks that
                    # the resource tracker saw no leaked semaphore.
                    or (name == "FailingInitializerResourcesTest"
                        and case._testMethodName.removeprefix("test_") in contexts)):
                reason = NOT_APPLICABLE.get(case._testMethodName)
                if reason is not None:
                    setattr(case, case._testMethodName, unittest.skip(f"not applicable: {reason}")(lambda: None))
                suite.addTest(case)
    return suite


class Outcomes(unittest.TextTestResult):
    """Keeps each test's outcome and traceback by test id, in
    ``out_path`` after every test (a run that hangs still tells what ran)."""

    out_path = ""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.outcomes: dict[str, list[str]] = {}
        self.home = os.getpid()

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        if os.getpid() != self.home:  # a test's forked child must not write the report
            return
        with open(self.out_path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(self.outcomes, out, indent=1, sort_keys=True)
        os.replace(self.out_path + ".tmp", self.out_path)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self.outcomes[test.id()] = ["ok", ""]

    def addFailure(self, test: unittest.TestCase, err: object) -> None:
        super().addFailure(test, err)  # type: ignore[arg-type]
        self.outcomes[test.id()] = ["fail", self.failures[-1][1].strip()]

    def addError(self, test: unittest.TestCase, err: object) -> None:
        super().addError(test, err)  # type: ignore[arg-type]
        self.outcomes[test.id()] = ["error", self.errors[-1][1].strip()]

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self.outcomes[test.id()] = ["skip", reason]


def main() -> None:
    out_path, contexts = sys.argv[1], sys.argv[2:] or list(CONTEXT_NAMES)
    rebind()
    # A hang is a finding, not a reason to wait forever: dump every thread and exit.
    faulthandler.dump_traceback_later(float(os.environ.get("CPYTHON_FUTURES_TIMEOUT", "900")), exit=True)
    suite = selected(contexts)
    Outcomes.out_path = out_path
    unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=Outcomes).run(suite)


if __name__ == "__main__":
    main()
