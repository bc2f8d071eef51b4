"""Which earlier results a new run keeps: pure logic, no files.

A run owns the lines of the jobs it runs and nothing else:

- a full run (no selection, no resume) starts a fresh file;
- a selection run (``--only``/``--tag``, ``select=``) replaces the lines of
  the selected jobs and keeps every other line;
- ``--resume`` also keeps the ``ok`` line of a selected job whose definition
  is unchanged (same ``job_hash``; a line without one is not trusted) and
  does not run that job again; lines of jobs that are not in the job list at
  all (another job file's, a removed job's) are kept and counted.

    >>> from taskrunner.model import Job, JobResult, Status
    >>> a, b = Job(name="a", run="true"), Job(name="b", run="true")
    >>> old = [JobResult("a", Status.OK), JobResult("b", Status.FAILED)]
    >>> [r.name for r in retain(old, [a, b], resume=False, select={"b"}).lines]
    ['a']
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from operator import attrgetter

from ..jobhash import job_hasher
from ..model import SUCCESSES, Job, JobResult
from .lazyresults import KeptByName, ResultLines

__all__ = ["Retention", "retain"]

_name_of = attrgetter("name")
_status_of = attrgetter("status")
_hash_of = attrgetter("job_hash")


@dataclass(frozen=True)
class Retention:
    """What a run keeps from the results file before it starts.

    ``lines``: the kept results, in file order (the new file starts with
    them); ``done``: the kept ``ok`` results of jobs the run would otherwise
    run (``--resume``: they do not run again); ``foreign``: how many kept
    lines belong to jobs that are not in the job list; ``numbers``: where
    each of ``lines`` is in the file (0-based line numbers, ascending), so
    that the new file can start with those lines' own bytes;
    ``whole_lines``: how many lines the file had, when it was read and all
    of them were whole (None: not read, or it ended in a torn line).
    ``lines`` and ``done`` make each ``JobResult`` as it is read.
    """

    lines: ResultLines
    done: KeptByName
    foreign: int
    numbers: array[int]
    whole_lines: int | None = None

    @property
    def keeps_the_whole_file(self) -> bool:
        """Whether ``lines`` are every line of the file as it was read: then
        the new file is that file as it is (nothing to copy)."""
        return self.whole_lines is not None and len(self.numbers) == self.whole_lines

    def without(self, names: Collection[str]) -> Retention:
        """The same, less the lines and kept successes of ``names``."""
        records = self.lines.records
        numbers = array("q", [number for number in self.numbers if records[number].name not in names])
        return Retention(self.lines.at(numbers), self.done.without(names), self.foreign, numbers, self.whole_lines)

    def to_run(self, jobs: Sequence[Job], select: Collection[str] | None) -> Sequence[Job]:
        """The jobs that run: the selected ones without a kept success."""
        if select is None and not self.done:
            return jobs  # all of them (no copy: a run may have a million jobs)
        if select is None and len(self.done) == len(jobs):
            return []  # none of them (``done`` holds only names of ``jobs``)
        done = self.done.numbers
        return [job for job in jobs if (select is None or job.name in select) and job.name not in done]


def retain(
    previous: Sequence[JobResult], jobs: Sequence[Job], *, resume: bool, select: Collection[str] | None,
    whole_lines: int | None = None,
) -> Retention:
    """Decide which of ``previous`` (the file's lines: best its
    ``ResultLines``, not made into results) a run of ``jobs`` keeps.

    ``select``: the names of the jobs that run (None: all of them);
    ``whole_lines``: see ``Retention``.
    """
    lines = previous if isinstance(previous, ResultLines) else ResultLines(list(previous))
    if not resume and select is None:
        return Retention(lines.at(()), KeptByName(lines, {}), 0, array("q"))
    records = lines.records
    by_name = dict(zip(map(_name_of, jobs), jobs))
    job_hash = job_hasher()
    hashed: dict[str, str] = {}  # (the jobs' hashes, when ``_all_kept`` worked them out and not every line was kept)
    if resume and select is None:
        kept = _all_kept(lines, by_name, job_hash, hashed)
        if kept is not None:
            numbers = array("q", kept.values())
            return Retention(lines.at(numbers), KeptByName(lines, kept), 0, numbers, whole_lines)
    numbers = array("q")
    done: dict[str, int] = {}
    foreign = 0
    for name, number in lines.latest.items():
        job = by_name.get(name)
        if job is None:
            foreign += 1
        elif select is not None and name not in select:
            pass
        else:
            record = records[number]
            if not (resume and record.status in SUCCESSES and record.job_hash is not None
                    and record.job_hash == (hashed.get(name) or job_hash(job))):
                continue
            done[name] = number
        numbers.append(number)
    return Retention(lines.at(numbers), KeptByName(lines, done), foreign, numbers, whole_lines)


def _all_kept(
    lines: ResultLines, by_name: dict[str, Job], job_hash: Callable[[Job], str], hashed: dict[str, str]
) -> dict[str, int] | None:
    """``--resume``'s common case, checked a column at a time (a resume of a
    million jobs that all succeeded hashes each one, and does little else):
    each name's last line, if every one is a success of a job in the list
    with its job's hash; else None (then each line is decided on its own),
    with the hashes it worked out put in ``hashed`` (by name)."""
    latest = lines.latest
    if not all(map(by_name.__contains__, latest)):
        return None  # (lines of jobs not in the list: foreign)
    last_lines = list(map(lines.records.__getitem__, latest.values()))
    if not SUCCESSES.issuperset(map(_status_of, last_lines)):
        return None
    hashes = list(map(job_hash, map(by_name.__getitem__, latest)))
    if list(map(_hash_of, last_lines)) != hashes:
        hashed.update(zip(latest, hashes))  # (a changed job, or a line without a hash: None is no job's hash)
        return None
    return dict(latest)  # (its own: ``latest`` is the lines' and stays as it is)
