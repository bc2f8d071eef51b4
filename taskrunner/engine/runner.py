"""The run loop: ask the plan, submit to the pool, record outcomes, report.

The runner owns the results file and the signals: SIGINT/SIGTERM handlers
only set a flag (the loop then cancels running jobs gracefully and records
them); a second signal kills every worker and job at once. Before anything
runs it checks the results path, takes the file's lock, decides which
earlier lines stay (``retention``), checks the log folder, and only then
rewrites the file; a failed write stops the run.

    >>> import taskrunner
    >>> report = taskrunner.run([taskrunner.Job(name="hi", run="true")],
    ...                         workers=1, progress=False, results="/tmp/doc.jsonl")
    >>> report.ok
    True
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import time
import weakref
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from typing import Any

from ..backends.backend import Backend, open_backend
from ..backends.workersetup import checked_setup
from ..display.progress import Reporter, SilentReporter, TerminalReporter, bar_wanted
from ..execution.logfiles import prepare_log_dir, remove_stale_logs
from ..model import Job, JobResult
from ..paths import log_file_stem, logs_for
from ..resources import ResourcePool, capacity, demand, gpu_devices
from ..results.journal import (
    Journal,
    check_results_path,
    replace_results,
)
from ..results.lazyresults import KeptByName
from ..results.livefile import LiveFile
from ..results.report import RunReport
from ..results.resultslock import ResultsLock
from ..results.resultstore import ResultsView
from ..results.resume import RunPreview, preview_run
from ..signals import SignalGuard
from .depgraph import dependency_problems
from .fileorder import with_file_dependencies
from .freshness import Freshness, without_stale
from .options import RunOptions
from .plan import Plan
from .runloop import RunLoop
from .selection import default_selection
from .sendable import check_names, check_sendable

__all__ = ["RunIteration", "RunOptions", "RunPreview", "Runner", "run"]

log = logging.getLogger("taskrunner.run")

#: Runs not finished yet: closed (cancelled, recorded, workers stopped) at
#: interpreter exit, before multiprocessing's own exit hook would wait forever
#: for workers that nobody told to stop.
_LIVE_RUNS: weakref.WeakSet[RunIteration] = weakref.WeakSet()


def _close_live_runs() -> None:
    for execution in list(_LIVE_RUNS):
        try:
            execution.close()
        except ValueError:  # exiting from inside the run (an on_result callback)
            pass


_exit_hook_registered = False


def _track(execution: RunIteration) -> None:
    global _exit_hook_registered
    if not _exit_hook_registered:
        # Registered after multiprocessing's hook (imported first), so it runs
        # before it: atexit calls hooks last-registered first.
        import multiprocessing.util  # noqa: F401

        atexit.register(_close_live_runs)
        _exit_hook_registered = True
    _LIVE_RUNS.add(execution)


class RunIteration(Iterator[JobResult]):
    """One run's final results as they are recorded; its ``report`` once it ends.

    What ``Runner.iter_results`` returns and ``Runner.run`` consumes.
    ``close()`` (also on garbage collection, and at interpreter exit for a
    run still going) cancels what still runs, records it and stops the
    workers; ``report`` stays None for a run that did not end by itself.
    """

    def __init__(self, execution: Generator[JobResult, None, RunReport]) -> None:
        self._execution = execution
        #: The run's report, set when the iteration ends.
        self.report: RunReport | None = None
        _track(self)

    def __next__(self) -> JobResult:
        try:
            return next(self._execution)
        except StopIteration as ended:
            self.report = ended.value
            raise StopIteration from None

    def close(self) -> None:
        """Cancel and record what still runs, and stop the workers (idempotent)."""
        self._execution.close()
        _LIVE_RUNS.discard(self)

    def __del__(self) -> None:
        self.close()


class Runner:
    """Runs jobs on a local worker pool and records every result.

    ``timeout`` and ``retries`` apply to jobs that do not set their own.
    A run holds the results file's lock (``<results>.lock``) while it runs;
    another run on the same file raises ``ResultsFileBusy`` before anything
    runs. A run of all jobs starts a fresh results file; with ``select=``
    (see ``run``) the lines of the other jobs stay. ``resume`` also keeps the
    ``ok`` results whose job is unchanged (same ``job_hash``) and runs only
    the other jobs; the file then holds exactly one line per job, plus the
    kept lines of jobs not in the list. ``source`` names where the jobs came
    from (a job file), for messages. After a run stopped by SIGINT (Ctrl-C)
    has recorded every job and stopped its workers, ``KeyboardInterrupt`` is
    raised in the caller, unless ``raise_interrupt=False`` (the report then
    says ``interrupted_by="SIGINT"``, as for SIGTERM and SIGHUP). A run left
    unfinished (an ``iter_results`` loop abandoned, the program exiting) is
    cancelled and recorded at interpreter exit at the latest.
    ``fail_fast`` is ``max_failures=1``. ``progress=None`` shows a bar only
    when stderr is a terminal. ``on_result`` is called with each final
    ``JobResult`` as it is recorded. ``reporter`` replaces the progress
    display altogether (see ``taskrunner.progress.Reporter``). ``backend``
    is ``"local"`` (worker processes here) or ``"dask"`` (the cluster at
    ``scheduler``: an address, a Dask cluster object such as dask-jobqueue's
    ``SLURMCluster``, or a ``distributed.Client``, each left open; else an
    embedded one of ``workers`` processes), or a
    ``Backend`` object (e.g. ``InProcessBackend`` for tests).

    >>> with Runner(workers=2, results="/tmp/doc.jsonl", progress=False) as runner:
    ...     for result in runner.iter_results([Job(name="a", run="true")]):
    ...         print(result.name, result.status.value)
    a ok
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        results: str | None = None,
        log_dir: str | None = None,
        progress: bool | None = None,
        fail_fast: bool = False,
        max_failures: int | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        resume: bool = False,
        on_result: Callable[[JobResult], None] | None = None,
        reporter: Reporter | None = None,
        backend: str | Backend = "local",
        scheduler: object = None,
        source: str | None = None,
        raise_interrupt: bool = True,
        force: bool = False,
        resources: Mapping[str, float | str] | None = None,
        memfree: float | str | None = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.options = RunOptions.create(
            workers, results=results, log_dir=log_dir, progress=progress, fail_fast=fail_fast,
            max_failures=max_failures, timeout=timeout, retries=retries, resume=resume, backend=backend,
            scheduler=scheduler, source=source, raise_interrupt=raise_interrupt, force=force,
            resources=resources, memfree=memfree, setup=checked_setup(initializer, initargs, None),
        )
        self.on_result = on_result
        self.reporter = reporter
        self._active: weakref.WeakSet[RunIteration] = weakref.WeakSet()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop any ``iter_results`` still running: cancel its jobs, stop its workers."""
        for execution in list(self._active):
            execution.close()

    def _reporter(self) -> Reporter:
        if self.reporter is not None:
            return self.reporter
        return TerminalReporter(bar=True) if bar_wanted(self.options.progress) else SilentReporter()

    def run(self, jobs: Sequence[Job], select: Collection[str] | None = None) -> RunReport:
        """Run ``jobs`` to completion (or interruption) and return the report.

        ``select``: names of the jobs to run (None: all); the results-file
        lines of the others stay. A selected job's dependencies must be
        selected too, or already ``ok`` on file with ``resume``.

        Raises ``ValueError``/``TypeError`` before anything runs if the jobs
        are inconsistent (duplicate names, unknown or cyclic dependencies, a
        function that cannot be sent to a worker), ``ResultsFileError`` if
        the results file cannot be used (``ResultsFileBusy``: another run
        holds it), ``TaskrunnerError`` for an unusable log folder; and
        ``ResultsWriteError`` if writing results fails mid-run (the run was
        stopped; the file holds whole lines).
        """
        execution = self.iter_results(jobs, select)
        for _ in execution:
            pass
        assert execution.report is not None  # the iteration ran to its end
        return execution.report

    def iter_results(self, jobs: Sequence[Job], select: Collection[str] | None = None) -> RunIteration:
        """Run ``jobs`` (``select`` as for ``run``), yielding each final
        ``JobResult`` as it is recorded; the returned iterator's ``report``
        is set once it is exhausted.

        Leaving the loop early (``break``, an exception) cancels what still
        runs and stops the workers; so does ``close()`` or leaving the
        ``with Runner(...)`` block.
        """
        execution = RunIteration(self._execute(jobs, select))
        self._active.add(execution)
        return execution

    def preview(self, jobs: Sequence[Job], select: Collection[str] | None = None) -> RunPreview:
        """What ``run(jobs, select)`` would run and keep, reading the results
        file but changing nothing (``--dry-run``).

        Raises ``ResultsFileError`` for a results file that cannot be used.
        """
        check_results_path(self.options.results_path)
        jobs = with_file_dependencies(jobs)[0]
        return self._preview(jobs, default_selection(jobs) if select is None else select)

    def _preview(self, jobs: Sequence[Job], select: Collection[str] | None) -> RunPreview:
        options = self.options
        preview = preview_run(options.results_path, jobs, select, resume=options.resume, source=options.source,
                              force=options.force)
        return without_stale(preview, jobs, options.force) if options.resume else preview

    def _execute(
        self, jobs: Sequence[Job], select: Collection[str] | None
    ) -> Generator[JobResult, None, RunReport]:
        options = self.options
        jobs, by_file = with_file_dependencies(options.apply_to(jobs))  # (order from files)
        select = default_selection(jobs) if select is None else select  # (default: false jobs stay out)
        check_names(jobs)
        started = time.monotonic()
        # Signals first: from here on a Ctrl-C is recorded (every job gets a
        # line), never a KeyboardInterrupt that leaves the results file empty.
        # A second one while workers shut down kills at once.
        signals = SignalGuard()
        check_results_path(options.results_path)
        real_path = os.path.realpath(options.results_path)
        log_lock = ResultsLock(options.log_dir, options.log_dir, what="log folder", option="--log-dir")
        with signals, ResultsLock(real_path, options.results_path), log_lock:
            # (The path was checked before the lock.)
            preview = self._preview(jobs, select)
            check_sendable(preview.to_run)  # (a resume of 100,000 kept calls pickles none of them: 60 ms)
            done = preview.retention.done
            dependency_errors = dependency_problems(preview.to_run, known=done, edge_files=by_file)
            if dependency_errors:
                raise ValueError(dependency_errors[0][1])
            resources = self._resource_pool(preview.to_run)  # (refuses a demand that can never fit)
            prepare_log_dir(options.log_dir)
            if select is None and not options.resume and _is_derived(options.log_dir, options.results_path):
                remove_stale_logs(options.log_dir, lambda: {log_file_stem(job.name) for job in jobs})
            # Nothing has changed yet; from here on the file is ours.
            kept = preview.retention
            if not kept.keeps_the_whole_file:  # (else it already is the new file: it is appended to)
                replace_results(real_path, kept.lines, options.results_path, numbers=kept.numbers)
            journal = Journal(real_path, options.results_path)
            pool = self._open_backend(preview.to_run)
            signals.on_first, signals.on_second = pool.stop_starting, pool.kill_now
            durations = _earlier_durations(preview.to_run, preview.last)
            plan = Plan(preview.to_run, max_failures=options.max_failures, satisfied=done, durations=durations,
                        resources=resources)
            freshness = Freshness(jobs, preview.last, options.force)
            loop = RunLoop(
                plan, pool, journal, signals,
                seqs=_places(jobs, preview.to_run),
                freshness=freshness,
                reporter=self._reporter(), log_dir=options.log_dir, on_result=self.on_result,
                memfree=options.memfree, live=LiveFile(options.results_path, len(preview.to_run)),
            )
            with journal, pool:
                yield from loop.results()
            if journal.failed is not None:
                raise journal.failed
        if signals.received == signal.SIGINT and options.raise_interrupt:
            raise KeyboardInterrupt
        return RunReport(
            results=_in_job_order(jobs, plan, done),
            wall_time=time.monotonic() - started,
            interrupted_by=signal.Signals(signals.received).name if signals.received else None,
            results_path=options.results_path,
            log_dir=options.log_dir,
            kept=len(done),
            notes=preview.notes + tuple(freshness.warnings),
            output_lost=loop.output_lost,
        )

    def _resource_pool(self, to_run: Sequence[Job]) -> ResourcePool | None:
        """The run's resources, if it counts any; ``ValueError`` for a job that can never fit."""
        options = self.options
        if options.resources is None and not any(job.resources for job in to_run):
            return None  # the worker count is the only limit
        devices = gpu_devices(os.environ)
        counted = "gpu" in (options.resources or {}) or any(dict(job.resources).get("gpu") for job in to_run)
        pool = ResourcePool(capacity(options.workers, options.resources or {}, devices), devices, counted)
        for job in to_run:
            why = pool.never_fits(demand(dict(job.resources)))
            if why:
                raise ValueError(f"job {job.name!r} {why} (give the run more with --resources)")
        return pool

    def _open_backend(self, to_run: Sequence[Job]) -> Backend:
        options = self.options
        if not isinstance(options.backend, str):
            return options.backend
        if not to_run and options.backend == "local":
            # A resume that keeps every job: no queues, no helper processes
            # to start and stop. (Imported here: a run does not need it.)
            from ..backends.inprocess import InProcessBackend

            return InProcessBackend()
        workers = min(options.workers, max(1, len(to_run)))
        return open_backend(options.backend, workers, options.scheduler, setup=options.setup)


def _is_derived(log_dir: str, results: str) -> bool:
    """Whether ``log_dir`` is the folder named after ``results`` (the run's own; never one given elsewhere)."""
    return os.path.abspath(log_dir) == os.path.abspath(logs_for(results))


def _places(jobs: Sequence[Job], to_run: Sequence[Job]) -> Sequence[int]:
    """The 1-based place in ``jobs`` (``{#}``) of each job of ``to_run``."""
    if len(to_run) == len(jobs):  # all of them, in order: no table needed
        return range(1, len(jobs) + 1)
    if not to_run:  # (a resume that keeps every job)
        return ()
    place = {job.name: seq for seq, job in enumerate(jobs, start=1)}
    return [place[job.name] for job in to_run]


def _earlier_durations(to_run: Sequence[Job], last: Mapping[str, JobResult]) -> dict[str, float]:
    """How long each job of ``to_run`` took when it last ran, where its line says
    (for the critical path; a resume may keep a million lines and run none)."""
    durations = {}
    for job in to_run:
        result = last.get(job.name)
        if result is not None and result.duration is not None:
            durations[job.name] = result.duration
    return durations


def _in_job_order(jobs: Sequence[Job], plan: Plan, done: Mapping[str, JobResult]) -> Sequence[JobResult]:
    """The final results of the run and those kept from earlier (``done``), in ``jobs`` order."""
    if not done and len(plan.jobs) == len(jobs):  # every job was planned, in order
        return ResultsView(plan.final)
    if not plan.jobs and isinstance(done, KeptByName):  # (a resume that keeps every job: made as read)
        return done.in_order([job.name for job in jobs])
    finals = {result.name: result for result in plan.results() if result is not None}
    finals.update(done)
    return tuple(finals[job.name] for job in jobs if job.name in finals)


def run(jobs: Sequence[Job], workers: int | None = None, **options: Any) -> RunReport:
    """Run ``jobs`` with a ``Runner(workers, **options)`` and return the report.

    >>> report = run([Job(name="a", run="true")], workers=1, progress=False, results="/tmp/doc.jsonl")
    >>> report.ok, report["a"].status.value
    (True, 'ok')
    """
    return Runner(workers, **options).run(jobs)
