"""taskrunner: run shell commands and Python callables in parallel, correctly when things go wrong.

    >>> import taskrunner
    >>> jobs = [taskrunner.Job(name="hello", run="echo hello")]
    >>> taskrunner.run(jobs, workers=2, progress=False, results="/tmp/doc.jsonl").ok
    True

Names are imported on first use, so ``import taskrunner`` (and the command's
start-up, before it can handle Ctrl-C) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Executor",
    "Job",
    "JobFailed",
    "JobResult",
    "ResultsFileBusy",
    "ResultsFileError",
    "ResultsWriteError",
    "RunReport",
    "Runner",
    "SpecError",
    "SpecProblem",
    "Status",
    "TaskrunnerError",
    "WorkerCrashed",
    "WorkerError",
    "__version__",
    "load_jobs",
    "run",
]

_MODULE_OF = {
    "Executor": "executor.executor",
    "JobFailed": "errors",
    "WorkerCrashed": "errors",
    "Job": "model",
    "JobResult": "model",
    "RunReport": "results.report",
    "Status": "model",
    "Runner": "engine.runner",
    "run": "engine.runner",
    "ResultsFileBusy": "errors",
    "ResultsFileError": "errors",
    "ResultsWriteError": "errors",
    "SpecError": "errors",
    "SpecProblem": "errors",
    "TaskrunnerError": "errors",
    "WorkerError": "errors",
    "load_jobs": "jobfile.spec",
    "__version__": "version",
}

if TYPE_CHECKING:
    from .engine.runner import Runner, run
    from .errors import (
        JobFailed,
        ResultsFileBusy,
        ResultsFileError,
        ResultsWriteError,
        SpecError,
        SpecProblem,
        TaskrunnerError,
        WorkerCrashed,
        WorkerError,
    )
    from .executor.executor import Executor
    from .jobfile.spec import load_jobs
    from .model import Job, JobResult, Status
    from .results.report import RunReport
    from .version import __version__


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'taskrunner' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
