"""What runs on a Dask worker: one attempt per Dask task, and the stop of
every attempt running there (``client.run``, or the worker closing)."""

from __future__ import annotations

import os
import pickle
from typing import Any

from ...execution.execute import AttemptControl, execute
from ...model import Attempt, JobResult

try:
    import distributed
except ImportError:  # pragma: no cover - exercised when the extra is missing
    distributed = None  # type: ignore[assignment]

__all__ = ["close_plugin", "run_attempt", "stop_attempts"]

# Attempts running in this worker process, so a cancel can reach them.
_running: dict[int, AttemptControl] = {}
_log_dirs: set[str] = set()


def run_attempt(payload: bytes) -> JobResult:
    """The Dask task: run one pickled attempt on this worker (named by its address)."""
    attempt: Attempt = pickle.loads(payload)
    log_dir = os.path.dirname(attempt.stdout_log)
    if log_dir and log_dir not in _log_dirs:  # the coordinator made it on its own machine only
        os.makedirs(log_dir, exist_ok=True)
        _log_dirs.add(log_dir)
    control = AttemptControl()
    _running[attempt.attempt_id] = control
    try:
        worker = distributed.get_worker()
        # {%}: an embedded cluster names its workers 0, 1, ...; others count as slot 1.
        slot = worker.name + 1 if isinstance(worker.name, int) else 1
        return execute(attempt, worker=worker.address, control=control, slot=slot)
    finally:
        _running.pop(attempt.attempt_id, None)


def stop_attempts(kill: bool = False) -> int:
    """Run on every worker by ``client.run``: stop the attempts running there."""
    for control in list(_running.values()):
        if kill:
            control.kill()
        else:
            control.cancel()
    return len(_running)


if distributed is not None:

    class StopJobsOnClose(distributed.WorkerPlugin):
        """Kill the commands a worker runs when the worker closes: they run in
        their own sessions, and would outlive it otherwise."""

        idempotent = True
        name = "taskrunner-stop-jobs-on-close"

        def teardown(self, worker: Any) -> None:
            stop_attempts(kill=True)


def close_plugin() -> Any:
    """The worker plugin that stops a closing worker's jobs (needs Dask)."""
    return StopJobsOnClose()
