"""taskrunner: run shell commands and Python callables in parallel, correctly when things go wrong.

    >>> import taskrunner
    >>> jobs = [taskrunner.Job(name="hello", run="echo hello")]
    >>> taskrunner.run(jobs, workers=2, progress=False, results="/tmp/doc.jsonl").ok
    True
"""

from __future__ import annotations

from .errors import SpecError, SpecProblem, TaskrunnerError, WorkerError
from .model import Job, JobResult, RunReport, Status
from .runner import Runner, run
from .spec import load_jobs

__all__ = [
    "Job",
    "JobResult",
    "RunReport",
    "Runner",
    "SpecError",
    "SpecProblem",
    "Status",
    "TaskrunnerError",
    "WorkerError",
    "load_jobs",
    "run",
]
