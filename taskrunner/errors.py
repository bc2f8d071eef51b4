"""Exceptions raised by taskrunner.

Every error a user can cause is a ``TaskrunnerError``; the CLI prints its
message as is (one line per problem) and exits with code 2.

    TaskrunnerError
     ├── SpecError          the job file (or a Job value) is invalid;
     │                      carries every problem found, each with file and line
     ├── WorkerError        the worker pool cannot run at all (e.g. a worker
     │                      cannot be started)
     ├── BackendUnavailable the backend asked for cannot be used here
     └── ResultsFileError   a results file cannot be used: a bad line
          │                 (``FILE:LINE: what``), a path that is not a
          │                 regular file, the job file itself
          ├── ResultsFileBusy    another run holds its lock
          └── ResultsWriteError  writing it failed mid-run (disk full, I/O
                                 error); the run stopped, the file holds
                                 whole lines only (the CLI exits 1)

A ``taskrunner.Executor`` future fails with the call's own exception, or
with one of these (a job's failure, not the user's mistake, so no
``TaskrunnerError``)::

    JobFailed               the call failed and its exception cannot be given
     │                      back as itself (its text is the message)
     └── WorkerCrashed      the worker running the call died (only that
                            future fails: the pool is not broken); also a
                            ``concurrent.futures.process.BrokenProcessPool``
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

__all__ = [
    "BackendUnavailable",
    "JobFailed",
    "ResultsFileBusy",
    "ResultsFileError",
    "ResultsWriteError",
    "SpecError",
    "SpecProblem",
    "TaskrunnerError",
    "WorkerCrashed",
    "WorkerError",
]


class TaskrunnerError(Exception):
    """Base class of every error taskrunner raises on purpose.

    >>> issubclass(SpecError, TaskrunnerError) and issubclass(WorkerError, TaskrunnerError)
    True
    """


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a job file: where it is and what is wrong.

    >>> str(SpecProblem("jobs.yaml", 7, "job 'b': unknown key 'rnu' (did you mean 'run'?)"))
    "jobs.yaml:7: job 'b': unknown key 'rnu' (did you mean 'run'?)"
    """

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class SpecError(TaskrunnerError):
    """A job file or job definition is invalid.

    ``problems`` lists every problem found (at least one); ``str()`` gives one
    line per problem, so a single mistake prints as a single line.

    >>> error = SpecError(SpecProblem("jobs.yaml", 3, "job 'a': 'timeout' must be > 0"))
    >>> str(error), error.line
    ("jobs.yaml:3: job 'a': 'timeout' must be > 0", 3)
    """

    def __init__(self, problems: list[SpecProblem] | SpecProblem) -> None:
        if isinstance(problems, SpecProblem):
            problems = [problems]
        if not problems:
            raise ValueError("SpecError needs at least one problem")
        self.problems: list[SpecProblem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def path(self) -> str:
        """The file of the first problem."""
        return self.problems[0].path

    @property
    def line(self) -> int | None:
        """The line of the first problem (1-based), if known."""
        return self.problems[0].line


class WorkerError(TaskrunnerError):
    """The worker pool could not be started or kept alive.

    >>> str(WorkerError("workers keep dying before running any job"))
    'workers keep dying before running any job'
    """


class ResultsFileError(TaskrunnerError):
    """A results file cannot be used as one (read, locked or written).

    >>> str(ResultsFileError("r.jsonl:3: 'status' must be one of ok, failed, ..."))
    "r.jsonl:3: 'status' must be one of ok, failed, ..."
    """


class ResultsFileBusy(ResultsFileError):
    """Another run holds the results file's lock (``pid`` names it, if known)."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class ResultsWriteError(ResultsFileError):
    """Writing the results file failed during a run (no space, an I/O error).

    The run was stopped as by ``--fail-fast``; the file holds whole lines only,
    so ``--resume`` finishes the run once the cause is fixed.
    """


class BackendUnavailable(TaskrunnerError):
    """The backend asked for cannot be used here (e.g. its extra is not installed)."""


class JobFailed(Exception):
    """A call on a ``taskrunner.Executor`` failed, and its own exception could
    not travel back (it did not pickle, or not unpickle), or was no exception
    at all (a failure the worker reported as text). The message is the
    failure's text, traceback included.

    >>> str(JobFailed("ValueError: no"))
    'ValueError: no'
    """


class WorkerCrashed(JobFailed, BrokenProcessPool):
    """The worker process running a call died (killed by a signal, the OOM
    killer, ``os._exit``). Only that call's future fails; the executor
    replaces the worker and keeps going. It is a ``BrokenProcessPool`` too,
    so code written for ``ProcessPoolExecutor`` that catches one catches a
    crash (the executor itself is not broken: later calls still run)."""
