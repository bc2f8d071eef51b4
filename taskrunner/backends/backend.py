"""The one interface between the run loop and whatever executes attempts.

The runner plans, retries, skips dependents, writes the results file and
drives the progress display; a backend only runs attempts and reports their
outcomes. Two implement it: ``LocalPool`` (``local/``, the JoinableQueue of
local worker processes) and ``DaskBackend`` (``dask/``, a Dask
cluster). Neither knows about plans or files, and the runner does not know
which one it drives. This module sits above both (``open_backend`` is their
registry); what they share sits below them (``outcomes.py``), so no import
runs in a circle.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import BackendUnavailable
from ..model import Attempt, JobResult
from .workersetup import WorkerSetup

__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "check_backend", "open_backend"]

BACKENDS = ("local", "dask")


class Backend(Protocol):
    """Runs attempts; every submitted attempt gets exactly one outcome."""

    def __enter__(self) -> Backend:
        """Start the workers (or connect to them)."""

    def __exit__(self, *exc: object) -> None:
        """Stop the workers (or disconnect) and free what was started."""

    def capacity(self) -> int:
        """How many more attempts to submit now (0: wait for outcomes first)."""

    def submit(self, attempt: Attempt) -> None:
        """Start ``attempt`` soon; raise ``pickle.PicklingError``/``TypeError`` if it
        cannot be sent to a worker."""

    def poll(self, timeout: float | None) -> list[tuple[int, JobResult]]:
        """Wait up to ``timeout`` seconds; return ``(attempt_id, outcome)`` pairs.
        A worker's death is an outcome (``crashed``), not an exception."""

    def running(self) -> list[tuple[int, str, float | None]]:
        """``(attempt_id, worker, started)`` of each attempt running right now, as
        far as the backend knows without asking far away (``started``: epoch
        seconds, or None if unknown)."""

    def cancel(self) -> list[tuple[int, JobResult]]:
        """Stop everything outstanding and return its outcomes (``cancelled``
        for what was stopped or never started)."""

    def stop_starting(self) -> None:
        """Start no more attempts (a stop was decided; ``cancel()`` follows);
        safe in a signal handler."""

    def kill_now(self) -> None:
        """Kill everything at once (a second Ctrl-C); safe in a signal handler."""


def check_backend(name: str, scheduler: object = None) -> None:
    """Raise ``BackendUnavailable`` (one clear line) for an unknown or unusable
    backend: meant to run before anything else does."""
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    if scheduler is not None and name != "dask":
        raise BackendUnavailable("a scheduler address goes with the dask backend (--backend dask)")
    if name == "dask":
        from .dask import check_scheduler, require_dask

        require_dask()
        check_scheduler(scheduler)


def open_backend(name: str, workers: int, scheduler: object = None, setup: WorkerSetup | None = None) -> Backend:
    """A backend by name: ``local`` (``workers`` processes) or ``dask`` (the
    cluster at ``scheduler`` (an address, a Dask cluster object or a
    ``distributed.Client``), else an embedded one with ``workers`` processes).
    ``setup``: each local worker's initializer and task limit (the Dask
    backend takes none: ``BackendUnavailable``)."""
    check_backend(name, scheduler)
    if name == "dask":
        if setup is not None:
            raise BackendUnavailable("initializer and max_tasks_per_child go with the local backend, not dask")
        from .dask import DaskBackend

        return DaskBackend(workers, scheduler)
    from .local import LocalPool

    return LocalPool(workers, setup)
