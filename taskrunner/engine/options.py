"""A run's options as one frozen, checked value (``Runner`` keeps one).

    >>> options = RunOptions.create(2, results="/tmp/r.jsonl", fail_fast=True)
    >>> options.workers, options.max_failures, options.log_dir
    (2, 1, '/tmp/r.logs')
    >>> RunOptions.create(0)
    Traceback (most recent call last):
    ...
    ValueError: workers must be >= 1
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..backends.backend import Backend, check_backend
from ..backends.workersetup import WorkerSetup
from ..execution.memwatch import format_size, total_memory
from ..fields import MAX_SECONDS
from ..model import Job
from ..paths import logs_for, script_results
from ..resources import parse_amount

__all__ = ["RunOptions"]


@dataclass(frozen=True)
class RunOptions:
    """Everything that shapes a run except the jobs and the callbacks.

    Made by ``create``, which checks each value and fills in the defaults
    (see ``Runner`` for what each one means).
    """

    workers: int
    results_path: str
    log_dir: str
    progress: bool | None = None
    max_failures: int | None = None
    timeout: float | None = None
    retries: int | None = None
    resume: bool = False
    backend: str | Backend = "local"
    scheduler: object = None
    source: str | None = None
    raise_interrupt: bool = True
    force: bool = False
    #: The run's resource capacity as given (see ``taskrunner.resources``).
    resources: Mapping[str, float] | None = None
    #: No new job starts while the machine's available memory is below this (bytes).
    memfree: float | None = None
    #: What each local worker runs first (``initializer``/``initargs``).
    setup: WorkerSetup | None = None

    @classmethod
    def create(
        cls,
        workers: int | None = None,
        *,
        results: str | None = None,
        log_dir: str | None = None,
        fail_fast: bool = False,
        max_failures: int | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        backend: str | Backend = "local",
        scheduler: object = None,
        resources: Mapping[str, float | str] | None = None,
        memfree: float | str | None = None,
        **rest: Any,
    ) -> RunOptions:
        """Check the values a ``Runner`` was given; raise ``ValueError`` for a bad one."""
        if workers is not None and (isinstance(workers, bool) or workers < 1):
            raise ValueError("workers must be >= 1")
        if max_failures is not None and max_failures < 1:
            raise ValueError("max_failures must be >= 1")
        if timeout is not None and not timeout > 0:
            raise ValueError("timeout must be > 0")
        if timeout is not None and timeout > MAX_SECONDS:
            raise ValueError(f"timeout must be at most 10 years ({MAX_SECONDS:.0f} s), got {timeout!r}")
        if retries is not None and retries < 0:
            raise ValueError("retries must be >= 0")
        if isinstance(backend, str):
            check_backend(backend, scheduler)
        amounts = None
        if resources is not None:
            try:
                amounts = {name: parse_amount(amount) for name, amount in resources.items()}
            except ValueError as error:
                raise ValueError(f"resources: {error}") from None
        results = results or script_results()
        return cls(
            workers=workers or os.cpu_count() or 1,
            results_path=results,
            log_dir=log_dir or logs_for(results),
            max_failures=1 if fail_fast else max_failures,
            timeout=timeout,
            retries=retries,
            backend=backend,
            scheduler=scheduler,
            resources=amounts,
            memfree=None if memfree is None else _memfree(memfree),
            **rest,
        )

    def apply_to(self, jobs: Sequence[Job]) -> Sequence[Job]:
        """The jobs with the run's ``timeout``/``retries`` where they set none.

        >>> options = RunOptions.create(1, timeout=5)
        >>> [job.timeout for job in options.apply_to([Job(name="a", run="true"),
        ...                                           Job(name="b", run="true", timeout=1)])]
        [5.0, 1.0]
        """
        if self.timeout is None and self.retries is None:
            return jobs  # (no copy: a run may have a million jobs)
        updated = []
        for job in jobs:
            changes: dict[str, Any] = {}
            if self.timeout is not None and job.timeout is None:
                changes["timeout"] = self.timeout
            if self.retries is not None and job.retries == 0:
                changes["retries"] = self.retries
            updated.append(dataclasses.replace(job, **changes) if changes else job)
        return updated


def _memfree(value: float | str) -> float:
    """``memfree``: a size this machine can ever have free (more would hold every job back for ever)."""
    size = _size(value, "memfree")
    total = total_memory()
    if total is not None and size > total:
        raise ValueError(f"memfree {value} is more than this machine's memory ({format_size(total)}): "
                         "no job could ever start")
    return size


def _size(value: float | str, name: str) -> float:
    try:
        return parse_amount(value)
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None
