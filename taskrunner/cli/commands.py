"""The ``taskrunner`` command: click options → runner → exit code.

Exit codes: 0 every job ok; 1 some job not ok; 2 usage error or invalid job
file; 129, 130, 143 interrupted by SIGHUP, SIGINT, SIGTERM (see ``clirun``,
which ``run`` and ``exec`` share).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any, NoReturn

import click

from ..display.showtext import plural
from ..display.summary import format_failures, format_live, format_summary
from ..engine.freshness import Freshness
from ..engine.selection import default_selection, dependency_order, select_jobs, unmatched
from ..errors import SpecError, TaskrunnerError
from ..jobfile.spec import MAX_JOBS, JobFile, load_job_file
from ..model import Job
from ..owner import own_the_process
from ..paths import default_results, logs_for
from ..results.journal import read_results
from ..results.livefile import read_live
from ..results.report import RunReport
from ..results.resume import read_quietly
from ..suggest import did_you_mean
from ..version import DISTRIBUTION
from .clirun import (
    EXIT_NOT_OK,
    EXIT_OK,
    EXIT_SIGNAL,
    EXIT_USAGE,
    RunSettings,
    check_results_is_not,
    describe,
    echo_lines,
    fail,
    quoted,
    run_jobs,
    run_options,
    start_helpers,
)
from .execcmd import exec_command

__all__ = ["main"]



def _load(path: str, max_jobs: int = MAX_JOBS) -> JobFile:
    try:
        spec = load_job_file(path, max_jobs=max_jobs)
    except TaskrunnerError as error:
        fail(error)
    # The jobs live until the command ends: keep the cyclic garbage collector
    # from walking them again and again (with 50,000 jobs, ordering them for
    # `list` took 1.5 s, nearly all of it in collections). The command owns
    # this process, so freezing is safe here (the Python API does not do it).
    own_the_process()
    return spec


def _selected(spec: JobFile, only: tuple[str, ...], tags: tuple[str, ...]) -> list[Job]:
    missing = unmatched(spec.jobs, only, tags)
    if missing:
        word = missing[0]
        if word in only:
            hint = did_you_mean(word, (job.name for job in spec.jobs), glob=True)
            click.echo(f"{spec.path}: --only {word!r} matches no job{hint}", err=True)
        else:
            hint = did_you_mean(word, sorted({tag for job in spec.jobs for tag in job.tags}))
            click.echo(f"{spec.path}: --tag {word!r} is no job's tag{hint}", err=True)
        sys.exit(EXIT_USAGE)
    return select_jobs(spec.jobs, only, tags)


def _complete_selection(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion for --only (job names) and --tag (tags) from the job file on the command line."""
    # (Before an option's value, click leaves the file among the unparsed words.)
    job_file = ctx.params.get("job_file") or next(iter(ctx.args), None)
    if not job_file or job_file == "-":
        return []
    try:
        jobs = load_job_file(job_file).jobs
    except TaskrunnerError:
        return []
    words = [job.name for job in jobs] if param.name == "only" else sorted({t for job in jobs for t in job.tags})
    return [word for word in dict.fromkeys(words) if word.startswith(incomplete)]


def _selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--only, --tag and --max-jobs, shared by run and list."""
    command = click.option("--max-jobs", type=click.IntRange(min=1), default=MAX_JOBS, show_default=True,
                           help="Refuse a file that expands (matrices) to more jobs.")(command)
    command = click.option("--tag", "tags", multiple=True, metavar="TAG", shell_complete=_complete_selection,
                           help="Only jobs carrying TAG, plus their dependencies (repeatable).")(command)
    command = click.option("--only", multiple=True, metavar="GLOB", shell_complete=_complete_selection,
                           help="Only jobs whose name matches GLOB, plus their dependencies (repeatable).")(command)
    return command


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
@click.version_option(None, "-V", "--version", package_name=DISTRIBUTION)
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
@run_options("run")
@_selection_options
def run_command(
    job_file: str, settings: RunSettings, only: tuple[str, ...], tags: tuple[str, ...], max_jobs: int
) -> None:
    """Run the jobs in JOB_FILE (all, or those --only/--tag select); - reads it from standard input.

    \b
    Examples:
      taskrunner run jobs.yaml -w 8 --timeout 10m --retries 1
      taskrunner run jobs.yaml --only 'resize-*' --dry-run
      generate-jobs | taskrunner run -
      taskrunner run jobs.yaml --backend dask --scheduler tcp://host:8786
    """
    start_helpers(settings)
    spec = _load(job_file, max_jobs)
    select = {job.name for job in _selected(spec, only, tags)} if only or tags else default_selection(spec.jobs)
    results = settings.results_path or default_results(job_file)
    if job_file != "-":
        check_results_is_not(results, job_file)
    resume = ["taskrunner", "run", job_file, "--resume"]
    resume += ["--results", settings.results_path] if settings.results_path else []
    resume += ["--log-dir", settings.log_dir] if settings.log_dir else []
    run_jobs(spec.jobs, select, settings, results=results, log_dir=settings.log_dir or logs_for(results),
             source=spec.path, resume_command=quoted(resume), workers=spec.workers, resources=spec.resources,
             templates=spec.templates)


@cli.command("validate")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--max-jobs", type=click.IntRange(min=1), default=MAX_JOBS, show_default=True,
              help="Refuse a file that expands (matrices) to more jobs.")
@click.option("--check", "deep", is_flag=True,
              help="Also import each call target (in a child process) and look up each program on PATH.")
def validate_command(job_file: str, max_jobs: int, deep: bool) -> None:
    """Check JOB_FILE and report every problem (exit 0 if valid, 2 if not).

    Without --check nothing is imported or run.

    \b
    Examples:
      taskrunner validate jobs.yaml
      taskrunner validate --check jobs.yaml
    """
    spec = _load(job_file, max_jobs)
    for warning in spec.warnings:
        click.echo(warning, err=True)
    if deep:
        from ..jobfile.deepcheck import check_jobs_deeply  # only validate reads this deep: not at start-up

        problems = check_jobs_deeply(spec.path, spec.jobs, spec.lines)
        if problems:
            fail(SpecError(problems))
    click.echo(f"{spec.path}: valid, {plural(len(spec.jobs), 'job')}" + (" (programs and call targets found)" if deep else ""))


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
    every = _load(job_file, max_jobs)
    # Without filters every job is listed, those a run leaves out (default: false) marked.
    jobs = dependency_order(_selected(every, only, tags) if only or tags else list(every.jobs))
    if as_json:
        from .jobjson import echo_json_array  # imported by the one command that writes JSON

        echo_json_array(jobs)
        return
    # Marked as the run would decide: with the results file's last lines (a
    # changed command is not up to date), the whole file's jobs for the
    # dependencies' outputs.
    results = default_results(job_file)
    last = {result.name: result for result in read_quietly(results)} if os.path.exists(results) else {}
    freshness = Freshness(every.jobs, last)
    fresh = freshness.up_to_date(jobs)  # once: it looks at every job
    echo_lines(describe(job, fresh, every.templates) for job in jobs)
    for warning in freshness.warnings:
        click.echo(warning, err=True)


@cli.command("report")
@click.argument("results_file", type=click.Path(dir_okay=False))
@click.option("--failures", is_flag=True, help="Every job that is not ok, in full (the summary groups them).")
@click.option("--timeline", type=click.Path(dir_okay=False), help="Also write a self-contained HTML timeline here.")
@click.option("--trace", type=click.Path(dir_okay=False),
              help="Also write the run as Chrome trace events here (open in ui.perfetto.dev, chrome://tracing, "
                   "speedscope).")
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON instead of text.")
def report_command(results_file: str, failures: bool, timeline: str | None, trace: str | None, as_json: bool) -> None:
    """Summarise a results file (also of an interrupted run); exit 0 if all ok, else 1.

    \b
    Examples:
      taskrunner report .taskrunner/jobs.results.jsonl --timeline timeline.html
      taskrunner report .taskrunner/jobs.results.jsonl --failures
      taskrunner report .taskrunner/jobs.results.jsonl --trace run.json   # then open it in ui.perfetto.dev
    """
    _refuse_job_file(results_file)
    try:
        results = read_results(results_file, on_warning=lambda warning: click.echo(warning, err=True))
    except TaskrunnerError as error:
        fail(error)
    times = [t for r in results for t in (r.started, r.finished) if t is not None]
    logs = next((os.path.dirname(r.stderr_log) for r in results if r.stderr_log), None)
    report = RunReport(tuple(results), wall_time=(max(times) - min(times)) if times else 0.0,
                       results_path=results_file, log_dir=logs)
    live = read_live(results_file)
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(format_failures(report) if failures else format_summary(report))
        if live is not None:
            click.echo(format_live(live, results_file, time.time()))
    title = os.path.basename(results_file)
    # Imported here: the pictures are drawn by this command alone, and every
    # module imported at the top is paid for by each one-job run's start-up.
    from ..display.timeline import render_timeline
    from ..display.trace import write_trace

    if timeline:
        _write_picture("timeline", timeline, lambda out: out.write(render_timeline(results, title=title)))
    if trace:
        _write_picture("trace", trace, lambda out: write_trace(results, out, title=title))
    sys.exit(EXIT_OK if report.ok else EXIT_NOT_OK)


def _write_picture(what: str, path: str, write: Callable[[IO[str]], object]) -> None:
    try:
        with open(path, "w", encoding="utf-8") as out:
            write(out)
    except OSError as error:
        click.echo(f"cannot write {what} {path}: {error.strerror}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"{what}: {path}", err=True)


def _refuse_job_file(path: str) -> None:
    """``report jobs.yaml``: say it is a job file and where its results are (exit 2)."""
    if not path.endswith((".yaml", ".yml")) or not os.path.isfile(path):
        return
    results = default_results(path)
    where = (f"its results are in {results}: taskrunner report {quoted([results])}" if os.path.exists(results)
             else f"it has no results yet ({results}): taskrunner run {quoted([path])}")
    fail(TaskrunnerError(f"{path} is a job file, not a results file; {where}"))


cli.add_command(exec_command)


if __name__ == "__main__":  # pragma: no cover
    main()
