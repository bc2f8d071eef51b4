"""The ``taskrunner`` command: click options → runner → exit code.

Exit codes: 0 every job ok; 1 some job not ok; 2 usage error or invalid job
file; 129, 130, 143 interrupted by SIGHUP, SIGINT, SIGTERM.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from .errors import TaskrunnerError
from .progress import format_summary
from .runner import Runner, default_paths
from .spec import JobFile, load_job_file

__all__ = ["main"]

EXIT_OK, EXIT_NOT_OK, EXIT_USAGE = 0, 1, 2
EXIT_SIGNAL = {"SIGHUP": 129, "SIGINT": 130, "SIGTERM": 143}


def _fail(error: TaskrunnerError) -> NoReturn:
    click.echo(str(error), err=True)
    sys.exit(EXIT_USAGE)


def _load(path: str) -> JobFile:
    try:
        return load_job_file(path)
    except TaskrunnerError as error:
        _fail(error)


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
@click.version_option(package_name="taskrunner")
def cli() -> None:
    """Run shell commands and Python callables from a YAML job file, in parallel.

    \b
    Example:
      taskrunner run jobs.yaml --workers 8
    """


@cli.command("run")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("-w", "--workers", type=click.IntRange(min=1), help="Worker processes (default: the file's 'workers', else the CPU count).")
@click.option("--results", "results_path", type=click.Path(dir_okay=False), help="Results file (JSON Lines). Default: .taskrunner/<file>.results.jsonl")
@click.option("--log-dir", type=click.Path(file_okay=False), help="Folder for per-job output. Default: .taskrunner/<file>.logs")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds, for jobs without their own timeout.")
@click.option("--retries", type=click.IntRange(min=0), help="Extra attempts, for jobs without their own retries.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failure; cancel running jobs.")
@click.option("--max-failures", type=click.IntRange(min=1), help="Stop after N jobs failed; cancel running jobs.")
@click.option("--resume", is_flag=True, help="Skip jobs the results file already records as ok; run the rest.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: only on a terminal).")
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
) -> None:
    """Run every job in JOB_FILE.

    \b
    Example:
      taskrunner run jobs.yaml -w 8 --timeout 600 --retries 1
    """
    spec = _load(job_file)
    default_results, default_logs = default_paths(job_file)
    runner = Runner(
        workers or spec.workers,
        results=results_path or default_results,
        log_dir=log_dir or default_logs,
        progress=progress,
        fail_fast=fail_fast,
        max_failures=max_failures,
        timeout=timeout,
        retries=retries,
        resume=resume,
    )
    try:
        report = runner.run(spec.jobs)
    except TaskrunnerError as error:
        _fail(error)
    click.echo(format_summary(report), err=True)
    if report.interrupted_by:
        sys.exit(EXIT_SIGNAL.get(report.interrupted_by, EXIT_NOT_OK))
    sys.exit(EXIT_OK if report.ok else EXIT_NOT_OK)


@cli.command("validate")
@click.argument("job_file", type=click.Path(dir_okay=False))
def validate_command(job_file: str) -> None:
    """Check JOB_FILE and report every problem (exit 0 if valid, 2 if not)."""
    spec = _load(job_file)
    click.echo(f"{job_file}: valid, {len(spec.jobs)} jobs")


@cli.command("list")
@click.argument("job_file", type=click.Path(dir_okay=False))
def list_command(job_file: str) -> None:
    """Print the jobs of JOB_FILE, one per line: name, kind, what it runs, tags, dependencies."""
    for job in _load(job_file).jobs:
        if job.is_command:
            what = job.run if isinstance(job.run, str) else " ".join(job.run or ())
            kind = "run"
        else:
            what, kind = str(job.call), "call"
        tags = f"  [{', '.join(job.tags)}]" if job.tags else ""
        after = f"  (after: {', '.join(job.depends_on)})" if job.depends_on else ""
        click.echo(f"{job.name}\t{kind}\t{what}{tags}{after}")


if __name__ == "__main__":  # pragma: no cover
    main()
