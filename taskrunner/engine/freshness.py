"""Up-to-date checks (make's rule): a job whose outputs are all newer than its
inputs need not run, and is recorded ``uptodate``.

A job with ``outputs`` is up to date when every output pattern matches an
existing path, the oldest output is at least as new as the newest input (as
new counts, as in make), no dependency of it ran in this run, and — when the
results file has a line for it — that line is a success whose ``job_hash``
is the job's (a changed command reruns). Its inputs are its ``inputs`` plus
the ``outputs`` of the jobs it depends on; a dependency's output folder is
order-only (that it exists counts, not when it changed). A folder changes
when its newest file does. A file dated in the future (clock skew) never
lets a job skip, and is named in a warning. Paths and globs (``**``
recursive) are relative to the job's working directory.

    >>> import os, tempfile, time
    >>> from taskrunner.model import Job
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("in.txt", "out.txt"):
    ...     open(os.path.join(folder, name), "w").close()
    >>> job = Job(name="a", run="x", cwd=folder, inputs=("in.txt",), outputs=("out.txt",))
    >>> Freshness([job], {}).fresh_result(job, now=0.0).status.value
    'uptodate'
    >>> os.utime(os.path.join(folder, "in.txt"), (time.time() + 5, time.time() + 5))
    >>> Freshness([job], {}).fresh_result(job, now=0.0) is None
    True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence

from ..fields import Depfile
from ..jobhash import job_hash
from ..model import Job, JobResult, Status
from ..results.resume import RunPreview
from .depfile import read_prerequisites
from .filelook import FileLook, files_under, matches
from .selection import dependency_order

__all__ = ["Freshness", "job_folder", "without_stale"]

#: How far in the future a file's time may be before it counts as clock skew
#: (file servers' clocks and timestamp rounding differ by a little).
SKEW_TOLERANCE = 1.0


def job_folder(job: Job) -> str:
    """The folder a job runs in: its ``cwd`` (relative to its job file's folder), else that folder."""
    base = job.base_dir or os.getcwd()
    return os.path.join(base, job.cwd) if job.cwd else base


class Freshness:
    """Answers, for the jobs of one run, whether each is up to date and
    whether it produced its declared outputs. ``list``, ``--dry-run`` and the
    run all ask ``fresh_result``, so they agree.

    ``last``: each job's last line in the results file, if any. ``force``:
    nothing is up to date (``--force``). ``now``: the time files are checked
    against (a file newer than it, past ``SKEW_TOLERANCE``, is from the
    future: a warning in ``warnings``, and no job using it is up to date).
    """

    def __init__(self, jobs: Sequence[Job], last: Mapping[str, JobResult], force: bool = False,
                 now: float | None = None) -> None:
        self._jobs = jobs
        self._last = last
        self._force = force
        # Nanoseconds, as the file system keeps them (a float of seconds since
        # 1970 cannot tell two nanoseconds apart).
        self._now = time.time_ns() if now is None else int(now * 1e9)
        #: One line per file found to be from the future (clock skew), once each.
        self.warnings: list[str] = []
        self._future: set[str] = set()
        # Each pattern globbed and each file's time read once (a no-op build
        # of 3,000 objects sharing a header glob was quadratic), until a job runs.
        self._look = FileLook()
        self._newest_seen: dict[tuple[str, str, bool], int | None] = {}

    def forget(self) -> None:
        """A job ran: look at the files again (it may have written some it did not declare)."""
        self._look.forget()
        self._newest_seen.clear()

    def fresh_result(self, job: Job, now: float, dependency_ran: bool = False) -> JobResult | None:
        """The ``uptodate`` result of ``job`` if it need not run, else None.
        ``dependency_ran``: a dependency of it ran in this run."""
        if self._force or not job.outputs or dependency_ran:
            return None
        previous = self._last.get(job.name)
        definition = job_hash(job)
        if previous is not None and (not previous.ok or previous.job_hash != definition):
            return None
        content_hash = None
        if job.freshness == "content":
            # Up to date while its files hash as they did when it last ran.
            if previous is None or previous.content_hash is None:
                return None
            content_hash = self.content_digest(job)
            if content_hash != previous.content_hash:
                return None
        elif not self._newer_than_inputs(job):
            return None
        # Its duration is the last real run's, which the critical path of the
        # next clean build needs (this line replaces that run's).
        last_duration = previous.duration if previous is not None and previous.duration is not None else 0.0
        return JobResult(name=job.name, status=Status.UPTODATE, started=now, finished=now, duration=last_duration,
                         job_hash=definition, content_hash=content_hash)

    def _newer_than_inputs(self, job: Job) -> bool:
        """make's rule: every output exists and is at least as new as every input."""
        oldest_output = self._oldest(job.outputs, job_folder(job))
        if oldest_output is None:
            return False
        for patterns, folder, order_only in self._inputs_of(job):
            for pattern in patterns:
                newest = self._newest(pattern, folder, order_only)
                if newest is None or newest > oldest_output:
                    return False
        return True

    def _newest(self, pattern: str, folder: str, order_only: bool) -> int | None:
        """The newest time among the paths an input names (0 for none but
        folders, if ``order_only``: that they exist is what counts); None if
        it names nothing, or a path that has no time (gone, from the future).
        Remembered per pattern (until ``forget``): the jobs of a build share
        header globs, and each comparing itself with every header was quadratic."""
        # (A depfile is read each time: it is a job's own, and equal as a
        # string to a plain pattern of the same name, which must not share its entry.)
        key = (pattern, folder, order_only)
        remember = not isinstance(pattern, Depfile)
        if remember and key in self._newest_seen:
            return self._newest_seen[key]
        found = self._paths(pattern, folder)
        times = [self._time(path) for path in found if not (order_only and self._look.is_dir(path))]
        newest = None if not found or None in times else max((t for t in times if t is not None), default=0)
        if remember:
            self._newest_seen[key] = newest
        return newest

    def up_to_date(self, jobs: Sequence[Job], now: float = 0.0) -> set[str]:
        """The names of ``jobs`` (in dependency order) that are up to date now
        and would stay so: none of their dependencies among ``jobs`` would run
        (for ``list`` and ``--dry-run``: the rule the run applies)."""
        fresh: set[str] = set()
        names = {job.name for job in jobs}
        for job in jobs:
            would_run = any(dep in names and dep not in fresh for dep in job.depends_on)
            if self.fresh_result(job, now, dependency_ran=would_run) is not None:
                fresh.add(job.name)
        return fresh

    def content_digest(self, job: Job) -> str | None:
        """The digest of what ``job`` read and made: the names and contents of
        its outputs and inputs (dependency files' prerequisites and the
        dependencies' output files included; folders by the files in them).
        None if an output or an input is missing."""
        digest = hashlib.sha256()
        folder = job_folder(job)
        groups = [(job.outputs, folder)] + [(patterns, where) for patterns, where, _ in self._inputs_of(job)]
        for patterns, where in groups:
            for pattern in patterns:
                found = self._paths(pattern, where)
                if not found:
                    return None
                for path in sorted(found):
                    for file in sorted(files_under(path)):
                        content = _file_digest(file)
                        if content is None:
                            return None
                        digest.update(os.path.relpath(file, folder).encode("utf-8", "surrogateescape") + b"\0")
                        digest.update(content)
        return digest.hexdigest()[:32]

    def remove_outputs(self, job: Job) -> list[str]:
        """Remove the files ``job`` declared as outputs (after it failed: a
        partial file must never be up to date later, as make's
        ``.DELETE_ON_ERROR``); folders are left. The paths removed."""
        removed = []
        for pattern in job.outputs:
            for path in matches(pattern, job_folder(job)):
                if not os.path.isdir(path) or os.path.islink(path):
                    try:
                        os.unlink(path)
                    except OSError:
                        continue
                    removed.append(path)
        return removed

    def missing_outputs(self, job: Job) -> list[str]:
        """The declared output patterns of ``job`` that match nothing."""
        folder = job_folder(job)
        return [pattern for pattern in job.outputs if not matches(pattern, folder)]

    @functools.cached_property
    def _by_name(self) -> dict[str, Job]:
        # Made when a job with outputs first looks at its dependencies' outputs:
        # a large run without outputs never pays for it.
        return {job.name: job for job in self._jobs}

    def _inputs_of(self, job: Job) -> Iterable[tuple[tuple[str, ...], str, bool]]:
        """(patterns, folder, order-only) of what the job's outputs must be newer than."""
        yield job.inputs, job_folder(job), False
        for name in job.depends_on:
            dependency = self._by_name.get(name)
            if dependency is not None and dependency.outputs:
                yield dependency.outputs, job_folder(dependency), True

    def _oldest(self, patterns: Iterable[str], folder: str) -> int | None:
        """The oldest modification time among the outputs; None if one is missing."""
        oldest: int | None = None
        for pattern in patterns:
            found = self._look.matches(pattern, folder)
            if not found:
                return None
            for path in found:
                changed = self._time(path)
                if changed is None:
                    return None
                oldest = changed if oldest is None else min(oldest, changed)
        return oldest

    def _time(self, path: str) -> int | None:
        """When ``path`` last changed: a file's modification time, a folder's
        newest file's (rewriting a file in place leaves its folder's alone).
        None if it is gone or from the future (it then never counts as up to date)."""
        changed = self._look.time(path)
        if changed is not None and changed > self._now + SKEW_TOLERANCE * 1e9:
            if path not in self._future:
                self._future.add(path)
                self.warnings.append(f"warning: {os.path.relpath(path)} has modification time "
                                     f"{(changed - self._now) / 1e9:.0f} s in the future (clock skew?): "
                                     "the jobs using it run")
            return None
        return changed

    def _paths(self, pattern: str, folder: str) -> list[str]:
        """The paths an input names: a pattern's matches, or the prerequisites
        a dependency file lists (relative ones to the job's folder, where its
        compiler ran; none while the file is missing: never built, not up to
        date; a prerequisite that is gone stays listed, and has no time)."""
        if not isinstance(pattern, Depfile):
            return self._look.matches(pattern, folder)
        listed = read_prerequisites(os.path.join(folder, pattern))
        return [] if listed is None else [os.path.join(folder, path) for path in listed] or [os.path.join(folder, pattern)]


def _file_digest(path: str) -> bytes | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):  # (a block at a time: files may be huge)
                digest.update(block)
    except OSError:
        return None
    return digest.digest()


def without_stale(preview: RunPreview, jobs: Sequence[Job], force: bool = False) -> RunPreview:
    """``preview`` (of a ``--resume`` run) with the kept successes that are no
    longer up to date run again: a job with outputs older than an input (make's
    rule, as a plain run applies it), and a kept job depending on one that runs
    again. A job without outputs keeps its success unless a dependency reruns."""
    done = preview.retention.done
    # (``outputs`` first: most large runs have none, and then no name is looked up.)
    if not done or not any(job.outputs and job.name in done for job in jobs):
        return preview
    freshness = Freshness(jobs, preview.last, force)
    running = {job.name for job in preview.to_run}
    stale: set[str] = set()
    for job in dependency_order(jobs):
        if job.name not in done:
            continue
        rerun = any(dep in stale or dep in running for dep in job.depends_on)
        if (job.outputs or rerun) and freshness.fresh_result(job, 0.0, dependency_ran=rerun) is None:
            stale.add(job.name)
    if not stale:
        return preview
    return dataclasses.replace(preview, retention=preview.retention.without(stale),
                               to_run=[job for job in jobs if job.name in stale or job.name in running])
