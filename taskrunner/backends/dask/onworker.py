"""What runs on a Dask worker: one attempt per Dask task, and the stop of
every attempt running there (``client.run``, or the worker closing)."""

from __future__ import annotations

import pickle
from typing import Any

from ...execution.execute import AttemptControl, execute
from ...model import Attempt, JobResult
from .callchild import close_children, run_call
from .logshome import Shipped, pack, remove_scratch_folder, scratch_attempt

try:
    import distributed
except ImportError:  # pragma: no cover - exercised when the extra is missing
    distributed = None  # type: ignore[assignment]

__all__ = ["close_plugin", "run_attempt", "stop_attempts"]

# Attempts running in this worker process, so a cancel can reach them.
_running: dict[int, AttemptControl] = {}


def run_attempt(payload: bytes) -> tuple[JobResult, tuple[Shipped | None, Shipped | None]]:
    """The Dask task: run one pickled attempt on this worker (named by its
    address); return its result and its logs for the trip home."""
    attempt: Attempt = scratch_attempt(pickle.loads(payload))
    control = AttemptControl()
    _running[attempt.attempt_id] = control
    try:
        worker = distributed.get_worker()
        # {%}: an embedded cluster names its workers 0, 1, ...; others count as slot 1.
        slot = worker.name + 1 if isinstance(worker.name, int) else 1
        if attempt.job.is_command:
            result = execute(attempt, worker=worker.address, control=control, slot=slot)
        else:
            result = run_call(payload, attempt, worker.address, slot, control)
    finally:
        _running.pop(attempt.attempt_id, None)
    return result, (pack(result.stdout_log), pack(result.stderr_log))


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
            close_children()
            remove_scratch_folder()


def close_plugin() -> Any:
    """The worker plugin that stops a closing worker's jobs (needs Dask)."""
    return StopJobsOnClose()
