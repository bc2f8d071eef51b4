"""The results file of an ``Executor``: the run's rules, one line per call.

An executor holds the file's lock from its start to its shutdown, starts it
fresh (as a run of every job does) and appends each call's final result as
it arrives, through the same ``Journal`` a run writes with. A call's value
travels pickled (``callvalue``); the line holds it as a run's would: JSON
as is, else its ``repr``.
"""

from __future__ import annotations

import os
import pickle

from ..execution.callvalue import recordable
from ..jobhash import job_hash
from ..model import Job, JobResult, Status
from ..results.journal import Journal, check_replaceable, check_results_path, replace_results
from ..results.resultslock import ResultsLock

__all__ = ["CallJournal"]


class CallJournal:
    """Lock ``path``, start it empty, and append results until ``close()``.

    Raises ``ResultsFileError`` (``ResultsFileBusy``: another run or
    executor holds it) before anything is written.
    """

    def __init__(self, path: str) -> None:
        check_results_path(path)
        real_path = os.path.realpath(path)
        self._lock = ResultsLock(real_path, path)
        self._lock.acquire()
        try:
            check_replaceable(path)  # notes given as results= are never replaced
            replace_results(real_path, [], path)
            self._journal = Journal(real_path, path)
        except BaseException:
            self._lock.release()
            raise

    def write_all(self, finals: list[tuple[Job, JobResult]]) -> None:
        """Append a line per (job, final result) (``ResultsWriteError`` if the write fails)."""
        self._journal.write_all([_as_recorded(job, result) for job, result in finals])

    def close(self) -> None:
        """fsync, close and unlock (idempotent)."""
        try:
            self._journal.close()
        finally:
            self._lock.release()


def _as_recorded(job: Job, result: JobResult) -> JobResult:
    """The result of ``job`` as a run would record it: its hash, its value as
    JSON (no pickled bytes)."""
    result = result.evolve(name=job.name, job_hash=job_hash(job))
    if not isinstance(result.value, bytes):
        return result
    if result.status is not Status.OK:
        return result.evolve(value=None)  # an exception: its text is in ``error``
    try:
        value = pickle.loads(result.value)
    except Exception as problem:  # noqa: BLE001 - recorded as the future reports it
        return result.evolve(value=None, error=f"the return value cannot be loaded: {problem}")
    status, _, value, error = recordable(value)
    return result.evolve(status=status, value=value, error=error)
