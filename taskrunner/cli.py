"""The ``taskrunner`` command: click options → runner → exit code.

Exit codes: 0 every job ok; 1 some job not ok; 2 usage error or invalid job
file; 129, 130, 143 interrupted by SIGHUP, SIGINT, SIGTERM.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import click

from .backend import BACKENDS
from .errors import ResultsWriteError, TaskrunnerError, WorkerError
from .fields import as_json as job_as_json
from .journal import read_results
from .model import Job, RunReport
from .progress import TerminalReporter, bar_wanted, format_summary
from .runner import Runner, RunPreview, default_paths
from .selection import dependency_order, select_jobs, unmatched
from .spec import MAX_JOBS, JobFile, load_job_file
from .timeline import render_timeline
from .version import DISTRIBUTION

__all__ = ["main"]

EXIT_OK, EXIT_NOT_OK, EXIT_USAGE = 0, 1, 2
EXIT_SIGNAL = {"SIGHUP": 129, "SIGINT": 130, "SIGTERM": 143}


def _resume_command(job_file: str, results_path: str | None, log_dir: str | None) -> str:
    parts = ["taskrunner", "run", job_file, "--resume"]
    parts += ["--results", results_path] if results_path else []
    parts += ["--log-dir", log_dir] if log_dir else []
    return " ".join(shlex.quote(part) for part in parts)


def _fail(error: Exception) -> NoReturn:
    click.echo(str(error), err=True)
    sys.exit(EXIT_USAGE)


def _load(path: str, max_jobs: int = MAX_JOBS) -> JobFile:
    try:
        spec = load_job_file(path, max_jobs=max_jobs)
    except TaskrunnerError as error:
        _fail(error)
    # The jobs live until the command ends: keep the cyclic garbage collector
    # from walking them again and again (with 50,000 jobs, ordering them for
    # `list` took 1.5 s, nearly all of it in collections). The command owns
    # this process, so freezing is safe here (the Python API does not do it).
    gc.freeze()
    return spec


def _selected(spec: JobFile, only: tuple[str, ...], tags: tuple[str, ...]) -> list[Job]:
    missing = unmatched(spec.jobs, only, tags)
    if missing:
        click.echo(f"{spec.path}: --only/--tag {missing[0]!r} matches no job", err=True)
        sys.exit(EXIT_USAGE)
    return select_jobs(spec.jobs, only, tags)


def _selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--only, --tag and --max-jobs, shared by run and list."""
    command = click.option("--max-jobs", type=click.IntRange(min=1), default=MAX_JOBS, show_default=True,
                           help="Refuse a file that expands (matrices) to more jobs.")(command)
    command = click.option("--tag", "tags", multiple=True, metavar="TAG",
                           help="Only jobs carrying TAG, plus their dependencies (repeatable).")(command)
    command = click.option("--only", multiple=True, metavar="GLOB",
                           help="Only jobs whose name matches GLOB, plus their dependencies (repeatable).")(command)
    return command


def _describe(job: Job) -> str:
    """One line for list/--dry-run: name, run or call, what, [tags], (after: deps)."""
    if job.is_command:
        what, kind = (job.run if isinstance(job.run, str) else " ".join(job.run or ())), "run"
    else:
        what, kind = str(job.call), "call"
    tags = f"  [{', '.join(job.tags)}]" if job.tags else ""
    after = f"  (after: {', '.join(job.depends_on)})" if job.depends_on else ""
    return f"{job.name}\t{kind}\t{what}{tags}{after}"


def main(args: list[str] | None = None, prog_name: str = "taskrunner") -> NoReturn:
    """Console entry point: click, except that Ctrl-C exits 130 (click says 1)."""
    try:
        code = cli.main(args, prog_name=prog_name, standalone_mode=False)
    except click.ClickException as error:
        error.show()
        code = error.exit_code
    except click.Abort:  # KeyboardInterrupt outside a run's own signal handling
        code = EXIT_SIGNAL["SIGINT"]
    sys.exit(code if isinstance(code, int) else EXIT_OK)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION)
@click.option("-v", "--verbose", count=True,
              help="Show what the supervisor does (worker deaths, replacements, repairs) on stderr; -vv: more.")
def cli(verbose: int) -> None:
    """Run shell commands and Python callables from a YAML job file, in parallel.

    \b
    Example:
      taskrunner run jobs.yaml --workers 8
    """
    if verbose:
        # The library configures no logging; the command shows its records.
        logging.basicConfig(stream=sys.stderr, format="taskrunner: %(name)s: %(message)s",
                            level=logging.DEBUG if verbose > 1 else logging.INFO)


@cli.command("run")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("-w", "--workers", type=click.IntRange(min=1), help="Worker processes (default: the file's 'workers', else the CPU count).")
@click.option("--results", "results_path", type=click.Path(), help="Results file (JSON Lines). Default: .taskrunner/<file>.results.jsonl")
@click.option("--log-dir", type=click.Path(file_okay=False), help="Folder for per-job output. Default: .taskrunner/<file>.logs")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds, for jobs without their own timeout.")
@click.option("--retries", type=click.IntRange(min=0), help="Extra attempts, for jobs without their own retries.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failure; cancel running jobs.")
@click.option("--max-failures", type=click.IntRange(min=1), help="Stop after N jobs failed; cancel running jobs.")
@click.option("--resume", is_flag=True, help="Skip jobs the results file already records as ok; run the rest.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: only on a terminal).")
@click.option("--dry-run", is_flag=True, help="Print the jobs that would run, in order, and run nothing.")
@click.option("--output", "show_output", is_flag=True, help="Print each job's output when it finishes, grouped per job.")
@click.option("--prefix", is_flag=True, help="With --output: start each output line with the job name.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout (everything else goes to stderr).")
@click.option("--backend", type=click.Choice(BACKENDS), default="local", show_default=True,
              help="Who runs the jobs: local worker processes, or a Dask cluster (needs Dask: pip install '.[dask]' from this repository).")
@click.option("--scheduler", metavar="ADDRESS",
              help="With --backend dask: the scheduler, e.g. tcp://host:8786 (default: an embedded cluster of --workers processes).")
@_selection_options
def run_command(
    job_file: str,
    workers: int | None,
    results_path: str | None,
    log_dir: str | None,
    timeout: float | None,
    retries: int | None,
    fail_fast: bool,
    max_failures: int | None,
    resume: bool,
    progress: bool | None,
    dry_run: bool,
    show_output: bool,
    prefix: bool,
    as_json: bool,
    backend: str,
    scheduler: str | None,
    only: tuple[str, ...],
    tags: tuple[str, ...],
    max_jobs: int,
) -> None:
    """Run the jobs in JOB_FILE (all, or those --only/--tag select).

    \b
    Examples:
      taskrunner run jobs.yaml -w 8 --timeout 600 --retries 1
      taskrunner run jobs.yaml --only 'resize-*' --dry-run
      taskrunner run jobs.yaml --backend dask --scheduler tcp://host:8786
    """
    if not dry_run and backend == "local":
        # The fork server starts (a new interpreter importing the worker
        # code) while we read the job file, rather than after. Imported
        # here: list, validate and report need no multiprocessing (~35 ms).
        from .local import start_fork_server, stop_helpers

        start_fork_server()
        # However the command ends (sys.exit included): stop the fork server
        # and resource tracker and wait for them, so no process outlives it.
        click.get_current_context().call_on_close(stop_helpers)
    spec = _load(job_file, max_jobs)
    select = {job.name for job in _selected(spec, only, tags)} if only or tags else None
    default_results, default_logs = default_paths(job_file)
    results = results_path or default_results
    if os.path.exists(results) and os.path.exists(job_file) and os.path.samefile(results, job_file):
        _fail(TaskrunnerError(f"results file {results} is the job file {job_file}; give another --results"))
    reporter = TerminalReporter(
        bar=bar_wanted(progress), show_output=show_output, prefix=prefix, output=sys.stderr if as_json else sys.stdout
    )
    try:
        runner = Runner(
            workers or spec.workers,
            results=results,
            log_dir=log_dir or default_logs,
            progress=progress,
            fail_fast=fail_fast,
            max_failures=max_failures,
            timeout=timeout,
            retries=retries,
            resume=resume,
            reporter=reporter,
            backend=backend,
            scheduler=scheduler,
            source=job_file,
            raise_interrupt=False,  # the summary, then exit 130
        )
        if dry_run:
            _dry_run(runner.preview(spec.jobs, select))
        report = runner.run(spec.jobs, select)
    except (WorkerError, ResultsWriteError) as error:
        # The run started (a lost Dask scheduler, a full disk): not bad input.
        finish = _resume_command(job_file, results_path, log_dir)
        click.echo(f"{error}; the run stopped; results recorded so far are in {runner.options.results_path} "
                   f"(to finish: {finish})", err=True)
        sys.exit(EXIT_NOT_OK)
    except (TaskrunnerError, ValueError, TypeError) as error:
        _fail(error)
    summary = format_summary(report, resume_command=_resume_command(job_file, results_path, log_dir), resumed=resume)
    click.echo(summary, err=True)
    if as_json:
        click.echo(report.to_json())
    if report.interrupted_by:
        sys.exit(EXIT_SIGNAL.get(report.interrupted_by, EXIT_NOT_OK))
    sys.exit(EXIT_OK if report.ok else EXIT_NOT_OK)


def _dry_run(preview: RunPreview) -> NoReturn:
    """Print the jobs that would run (stdout) and what would be kept (stderr)."""
    _echo_lines(_describe(job) for job in dependency_order(preview.to_run))
    for note in preview.notes:
        click.echo(note, err=True)
    kept = len(preview.retention.lines)
    click.echo(f"{len(preview.to_run)} jobs would run; {kept} results kept; nothing was run (--dry-run)", err=True)
    sys.exit(EXIT_OK)


@cli.command("validate")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--max-jobs", type=click.IntRange(min=1), default=MAX_JOBS, show_default=True,
              help="Refuse a file that expands (matrices) to more jobs.")
def validate_command(job_file: str, max_jobs: int) -> None:
    """Check JOB_FILE and report every problem (exit 0 if valid, 2 if not).

    \b
    Example:
      taskrunner validate jobs.yaml
    """
    spec = _load(job_file, max_jobs)
    click.echo(f"{job_file}: valid, {len(spec.jobs)} jobs")


@cli.command("list")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="A JSON array of the jobs, for tools.")
@_selection_options
def list_command(job_file: str, as_json: bool, only: tuple[str, ...], tags: tuple[str, ...], max_jobs: int) -> None:
    """Print the jobs of JOB_FILE (matrices expanded) in dependency order.

    One line per job: name, run/call, what it runs, [tags], (after: dependencies).

    \b
    Examples:
      taskrunner list jobs.yaml --tag nightly
      taskrunner list jobs.yaml --json | jq '.[].name'
    """
    jobs = dependency_order(_selected(_load(job_file, max_jobs), only, tags))
    if as_json:
        click.echo(json.dumps([job_as_json(job) for job in jobs], indent=2))
        return
    _echo_lines(_describe(job) for job in jobs)


def _echo_lines(lines: Iterable[str]) -> None:
    """Print lines with one write (50,000 click.echo calls cost 0.4 s)."""
    text = "\n".join(lines)
    if text:
        click.echo(text)


@cli.command("report")
@click.argument("results_file", type=click.Path(dir_okay=False))
@click.option("--timeline", type=click.Path(dir_okay=False), help="Also write a self-contained HTML timeline here.")
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON instead of text.")
def report_command(results_file: str, timeline: str | None, as_json: bool) -> None:
    """Summarise a results file (also of an interrupted run); exit 0 if all ok, else 1.

    \b
    Example:
      taskrunner report .taskrunner/jobs.results.jsonl --timeline timeline.html
    """
    try:
        results = read_results(results_file, on_warning=lambda warning: click.echo(warning, err=True))
    except TaskrunnerError as error:
        _fail(error)
    times = [t for r in results for t in (r.started, r.finished) if t is not None]
    logs = next((os.path.dirname(r.stderr_log) for r in results if r.stderr_log), None)
    report = RunReport(tuple(results), wall_time=(max(times) - min(times)) if times else 0.0,
                       results_path=results_file, log_dir=logs)
    click.echo(report.to_json() if as_json else format_summary(report))
    if timeline:
        try:
            with open(timeline, "w", encoding="utf-8") as page:
                page.write(render_timeline(results, title=os.path.basename(results_file)))
        except OSError as error:
            click.echo(f"cannot write timeline {timeline}: {error.strerror}", err=True)
            sys.exit(EXIT_USAGE)
        click.echo(f"timeline: {timeline}", err=True)
    sys.exit(EXIT_OK if report.ok else EXIT_NOT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
