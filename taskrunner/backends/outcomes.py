"""Outcomes the coordinator records itself, shared by every backend.

    >>> from taskrunner.model import Attempt, Job
    >>> attempt = Attempt(1, Job(name="a", run="true"), 1, "/nonexistent/a.out", "/nonexistent/a.err")
    >>> coordinator_result(attempt, Status.CANCELLED, "cancelled").stdout_log is None
    True
"""

from __future__ import annotations

from typing import Any

from ..execution.logfiles import drop_if_empty
from ..model import Attempt, JobResult, Status
from ..signals import signal_name

__all__ = ["coordinator_result"]


def coordinator_result(attempt: Attempt, status: Status, error: str, **fields: Any) -> JobResult:
    """The outcome recorded for an attempt whose worker could not report one
    (it died, was cancelled, or never got the attempt). Its log fields name
    the files the attempt left, as a worker's result does (None: none; an
    empty file the dead worker left is removed)."""
    fields.setdefault("attempts", attempt.number)
    return JobResult(
        name=attempt.job.name,
        status=status,
        error=error,
        stdout_log=drop_if_empty(attempt.stdout_log),
        stderr_log=drop_if_empty(attempt.stderr_log),
        **fields,
    )


def exit_reason(exitcode: int | None) -> str:
    """Why a process of a backend's (a worker, a call process) ended, in a few words."""
    if exitcode is not None and exitcode < 0:
        return f"signal {signal_name(-exitcode)}"
    return f"exit code {exitcode}"
