"""What a new run keeps of the results file, read from disk (``--resume``,
selections, ``--dry-run``); the decision itself is ``retention``'s."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ..errors import ResultsFileError
from ..model import Job, JobResult
from .journal import check_replaceable, read_result_lines
from .lazyresults import ResultLines
from .retention import Retention, retain

__all__ = ["RunPreview", "preview_run", "read_quietly"]


@dataclass(frozen=True)
class RunPreview:
    """What a run would do (``Runner.preview``, ``--dry-run``): the jobs it
    would run, and the earlier results it would keep."""

    to_run: Sequence[Job]
    retention: Retention
    notes: tuple[str, ...]
    #: Each job's last line in the results file, when it was read and the
    #: run needs it (for the up-to-date check and the critical-path estimate).
    last: Mapping[str, JobResult] = dataclasses.field(default_factory=dict)


def preview_run(
    results_path: str,
    jobs: Sequence[Job],
    select: Collection[str] | None,
    *,
    resume: bool,
    source: str | None,
    force: bool = False,
) -> RunPreview:
    """Read the results file at ``results_path`` (if the run keeps any of it)
    and decide what a run of ``jobs`` would run and keep. Changes nothing.

    Raises ``ResultsFileError`` for a results file that cannot be used (the
    caller has checked the path itself: ``check_results_path``).
    """
    notes: list[str] = []
    previous = ResultLines([])
    # Jobs with outputs are up to date only if their last line agrees.
    wants_last = not force and any(job.outputs for job in jobs)
    read = (resume or select is not None or wants_last) and os.path.exists(results_path)
    if read:
        previous = read_result_lines(results_path, on_warning=notes.append)  # (its one warning: a torn last line)
    else:
        check_replaceable(results_path)
    retention = retain(previous, jobs, resume=resume, select=select,
                       whole_lines=len(previous) if read and not notes else None)
    if not previous and any(job.depends_on for job in jobs) and os.path.exists(results_path):
        previous = read_quietly(results_path)  # only the durations, to order by critical path
    if retention.foreign:
        notes.append(f"kept {retention.foreign} result{'' if retention.foreign == 1 else 's'} of jobs not in {source or 'the job list'}")
    to_run = retention.to_run(jobs, select)
    # (A resume that keeps every job of a matrix needs no table of them.)
    last = previous.by_name() if wants_last or to_run else {}
    return RunPreview(to_run, retention, tuple(notes), last)


def read_quietly(path: str) -> ResultLines:
    """The file's results, or none if it cannot be read (a run replaces it anyway)."""
    try:
        return read_result_lines(path)
    except ResultsFileError:
        return ResultLines([])
