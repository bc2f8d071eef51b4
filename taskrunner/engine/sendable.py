"""Checks, before anything runs, that every job can reach a worker.

    >>> check_names([Job(name="a", run="true"), Job(name="a", run="false")])
    Traceback (most recent call last):
    ...
    ValueError: duplicate job name 'a'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..backends.outcomes import coordinator_result
from ..backends.sending import dumps
from ..model import Attempt, Job, JobResult, Status

__all__ = ["check_names", "check_sendable", "unsendable_result"]


def check_names(jobs: Sequence[Job]) -> None:
    """Refuse jobs that share a name (a name is what the results file, the
    dependencies and ``--resume`` know a job by)."""
    if len({job.name for job in jobs}) < len(jobs):  # (a set: a third of the time of a Counter)
        duplicates = [name for name, n in Counter(job.name for job in jobs).items() if n > 1]
        raise ValueError(f"duplicate job name {duplicates[0]!r}")


def check_sendable(jobs: Sequence[Job]) -> None:
    """Refuse, before anything runs, what could only fail later: functions
    or arguments of ``jobs`` (those that will run: a kept job is never sent)
    that cannot be pickled."""
    checked: set[int] = set()
    for job in jobs:
        if job.call is None:
            continue
        # Pickling every job twice would cost more than a tiny job: check each
        # function once, and arguments only when they are not plain data.
        sendable = [] if isinstance(job.call, str) or id(job.call) in checked else [job.call]
        sendable += [value for value in (*job.args, *job.kwargs.values()) if not _plain(value)]
        checked.add(id(job.call))
        if not sendable:
            continue
        try:
            dumps(sendable)
        except Exception as error:  # noqa: BLE001 - pickling raises many types
            raise TypeError(
                f"job {job.name!r}: its function or arguments cannot be sent to a worker process "
                f"({type(error).__name__}: {error}), not even by value"
            ) from None


_PLAIN_SCALARS = (str, int, float, bool, bytes, type(None))


def _plain(value: Any, depth: int = 0) -> bool:
    """True for data that always pickles: scalars, and lists/tuples/dicts of them."""
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if depth > 3 or type(value) not in (list, tuple, dict):
        return False
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in items)


def unsendable_result(attempt: Attempt, error: BaseException) -> JobResult:
    """The ``failed`` outcome of an attempt that could not be pickled after all."""
    return coordinator_result(
        attempt,
        Status.FAILED,
        f"cannot send job to a worker ({type(error).__name__}: {error}); "
        "use a module-level function and picklable arguments",
    )
