"""What ``taskrunner run`` and ``taskrunner exec`` share: the run options,
the exit codes, and running a list of jobs to a summary and an exit code.

Exit codes: 0 every job ok; 1 some job not ok; 2 usage error or invalid job
file; 129, 130, 143 interrupted by SIGHUP, SIGINT, SIGTERM.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from ..backends.backend import BACKENDS
from ..display.progress import TerminalReporter, bar_wanted
from ..display.showtext import plural, shell_word
from ..display.summary import format_summary
from ..engine.freshness import Freshness
from ..engine.runner import Runner, RunPreview
from ..engine.selection import dependency_order
from ..errors import ResultsWriteError, TaskrunnerError, WorkerError
from ..fields import MAX_SECONDS, parse_duration
from ..model import Job
from ..resources import parse_resources

__all__ = [
    "EXIT_NOT_OK",
    "EXIT_OK",
    "EXIT_SIGNAL",
    "EXIT_USAGE",
    "RunSettings",
    "check_results_is_not",
    "describe",
    "echo_lines",
    "fail",
    "quoted",
    "run_jobs",
    "run_options",
    "start_helpers",
]

EXIT_OK, EXIT_NOT_OK, EXIT_USAGE = 0, 1, 2
#: A run stopped by a signal exits 128 + its number, as a shell reports it;
#: SIGPIPE is also how a run stops when the reader of its output left.
EXIT_SIGNAL = {"SIGHUP": 129, "SIGINT": 130, "SIGPIPE": 141, "SIGTERM": 143}


def fail(error: Exception) -> NoReturn:
    """Bad input: one line on stderr, exit 2."""
    click.echo(str(error), err=True)
    sys.exit(EXIT_USAGE)


class Duration(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """Seconds as a number, or a duration such as ``90s``, ``5m``, ``1h30m``, ``250ms``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        seconds = parse_duration(value)
        if seconds is None or seconds <= 0:
            self.fail(f"{value!r} is not a duration > 0 (seconds, or such as 90s, 5m, 1h30m, 250ms)", param, ctx)
        if seconds > MAX_SECONDS:
            self.fail(f"{value!r} is more than 10 years ({MAX_SECONDS:.0f} s)", param, ctx)
        return seconds


class ResourceList(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """``cpu=8,mem=32G,gpu=2``."""

    name = "resources"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, float]:
        if isinstance(value, dict):
            return value
        try:
            return parse_resources(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _run_option_list(command: str) -> list[Callable[[Any], Any]]:
    """The run options, their help in ``command``'s words (``exec`` has no job file,
    and shows the jobs' output unless ``--quiet``)."""
    has_file = command == "run"
    results_default = ".taskrunner/<file>.results.jsonl" if has_file else \
        ".taskrunner/exec-<hash of the command>.results.jsonl"
    output = (click.option("--output", "show_output", is_flag=True,
                           help="Print each job's output when it finishes, grouped per job.") if has_file else
              click.option("--output/--quiet", "show_output", default=True,
                           help="Print each job's output when it finishes, grouped per job (default), or not "
                                "(it stays in the log files)."))
    return [
        click.option("-w", "-j", "--workers", type=click.IntRange(min=1),
                     help="Worker processes (default: " + ("the file's 'workers', else " if has_file else "")
                          + "the CPU count)."),
        click.option("--results", "results_path", type=click.Path(),
                     help=f"Results file (JSON Lines). Default: {results_default}"),
        click.option("--log-dir", type=click.Path(file_okay=False),
                     help="Folder for per-job output. Default: beside the results file, named after it (.logs)."),
        click.option("--timeout", type=Duration(),
                     help="Seconds, or 90s, 5m, 1h30m" + ("; for jobs without their own timeout." if has_file else ".")),
        click.option("--retries", type=click.IntRange(min=0),
                     help="Extra attempts" + (", for jobs without their own retries." if has_file else ".")),
        click.option("--fail-fast", is_flag=True, help="Stop at the first failure; cancel running jobs."),
        click.option("--max-failures", type=click.IntRange(min=1), help="Stop after N jobs failed; cancel running jobs."),
        click.option("--resume", is_flag=True, help="Skip jobs the results file already records as ok; run the rest."),
        click.option("--force", is_flag=True, help="Run jobs whose outputs are up to date too."),
        click.option("--resources", type=ResourceList(), metavar="NAME=AMOUNT,...",
                     help="The run's capacity, e.g. cpu=8,mem=32G,gpu=2 (default cpu = workers, mem = the machine's)."),
        click.option("--memfree", metavar="SIZE",
                     help="Start no job while the machine has less memory available (e.g. 2G)."),
        click.option("--progress/--no-progress", default=None,
                     help="Show progress: a bar on a terminal (default there); elsewhere, when asked, a plain "
                          "line at most every 10 s and at each failure."),
        click.option("--dry-run", is_flag=True, help="Print the jobs that would run, in order, and run nothing."),
        output,
        click.option("--prefix", is_flag=True, help="With output shown: start each output line with the job name."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print a JSON summary on stdout (everything else goes to stderr)."),
        click.option("--backend", type=click.Choice(BACKENDS), default="local", show_default=True,
                     help="Who runs the jobs: local worker processes, or a Dask cluster "
                          "(needs Dask: pip install '.[dask]' from this repository)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="With --backend dask: the scheduler, e.g. tcp://host:8786 "
                          "(default: an embedded cluster of --workers processes)."),
    ]


def run_options(command_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of ``run`` that ``exec`` shares (help in ``command_name``'s
    words), gathered into one ``settings`` argument (a ``RunSettings``)."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)  # also keeps the options already on it (__click_params__)
        def gathered(**values: Any) -> Any:
            settings = RunSettings(**{name: values.pop(name) for name in RunSettings.__dataclass_fields__})
            return command(settings=settings, **values)

        for option in reversed(_run_option_list(command_name)):
            gathered = option(gathered)
        return gathered

    return decorate


@dataclass(frozen=True)
class RunSettings:
    """The run options as the command line gave them."""

    workers: int | None
    results_path: str | None
    log_dir: str | None
    timeout: float | None
    retries: int | None
    fail_fast: bool
    max_failures: int | None
    resume: bool
    force: bool
    resources: dict[str, float] | None
    memfree: str | None
    progress: bool | None
    dry_run: bool
    show_output: bool
    prefix: bool
    as_json: bool
    backend: str
    scheduler: str | None


def start_helpers(settings: RunSettings) -> None:
    """Start the fork server now, while the jobs are being read, rather than
    after; stop it (and the resource tracker) however the command ends."""
    if settings.dry_run or settings.backend != "local":
        return
    # Imported here: list, validate and report need no multiprocessing (~35 ms).
    from ..backends.local import start_fork_server, stop_helpers

    start_fork_server()
    click.get_current_context().call_on_close(stop_helpers)


def run_jobs(
    jobs: Sequence[Job],
    select: set[str] | None,
    settings: RunSettings,
    *,
    results: str,
    log_dir: str,
    source: str,
    resume_command: str,
    workers: int | None = None,
    resources: dict[str, float] | None = None,
    templates: Mapping[str, Sequence[str]] | None = None,
) -> NoReturn:
    """Run (or with --dry-run, preview) ``jobs``; print the summary; exit with the run's code."""
    reporter = TerminalReporter(bar=bar_wanted(settings.progress), show_output=settings.show_output,
                                prefix=settings.prefix, output=sys.stderr if settings.as_json else sys.stdout)
    try:
        runner = Runner(
            settings.workers or workers, results=results, log_dir=log_dir, progress=settings.progress,
            fail_fast=settings.fail_fast, max_failures=settings.max_failures, timeout=settings.timeout,
            retries=settings.retries, resume=settings.resume, force=settings.force, reporter=reporter,
            resources={**(resources or {}), **(settings.resources or {})} or None,  # the command line wins
            backend=settings.backend, memfree=settings.memfree,
            scheduler=settings.scheduler, source=source,
            raise_interrupt=False,  # the summary, then exit 130
        )
        if settings.dry_run:
            _dry_run(jobs, runner.preview(jobs, select), settings.force, templates)
        report = runner.run(jobs, select)
    except (WorkerError, ResultsWriteError) as error:
        # The run started (a lost Dask scheduler, a full disk): not bad input.
        click.echo(f"{error}; the run stopped; results recorded so far are in {runner.options.results_path} "
                   f"(to finish: {resume_command})", err=True)
        sys.exit(EXIT_NOT_OK)
    except (TaskrunnerError, ValueError, TypeError) as error:
        fail(error)
    lost = [say(format_summary(report, resume_command=resume_command, resumed=settings.resume), err=True)]
    if settings.as_json:
        lost.append(say(report.to_json()))
    if report.interrupted_by:
        sys.exit(EXIT_SIGNAL.get(report.interrupted_by, EXIT_NOT_OK))
    if any(error is not None and error.errno == errno.EPIPE for error in lost):
        sys.exit(EXIT_SIGNAL["SIGPIPE"])
    sys.exit(EXIT_OK if report.ok and not report.output_lost and not any(lost) else EXIT_NOT_OK)


def say(text: str, err: bool = False) -> OSError | None:
    """Print ``text``: output is best effort, so a closed pipe or a full disk
    is returned, not raised. (After a broken pipe the stream is pointed at
    /dev/null, so that Python's own flush at exit does not fail again.)"""
    try:
        click.echo(text, err=err)
    except OSError as error:
        stream = sys.stderr if err else sys.stdout
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        return error
    return None


def check_results_is_not(results: str, job_file: str) -> None:
    """Refuse a results path that is the job file itself."""
    if os.path.exists(results) and os.path.exists(job_file) and os.path.samefile(results, job_file):
        fail(TaskrunnerError(f"results file {results} is the job file {job_file}; give another --results"))


def quoted(parts: Iterable[str]) -> str:
    """A command line a shell reads back as ``parts`` (unprintable characters escaped, see ``showtext``)."""
    return " ".join(shell_word(part) for part in parts)


def describe(job: Job, fresh: Collection[str] = (), templates: Mapping[str, Sequence[str]] | None = None) -> str:
    """One line for list/--dry-run: name, run or call, what, [tags], (after: deps),
    and ``(up to date)`` for a name in ``fresh``. A dependency on every expansion
    of a matrix job (in ``templates``) is shown once: ``gz-{f} ×14``."""
    if job.is_command:
        what, kind = (job.run if isinstance(job.run, str) else " ".join(job.run or ())), "run"
    else:
        what, kind = str(job.call), "call"
    tags = f"  [{', '.join(job.tags)}]" if job.tags else ""
    after = f"  (after: {', '.join(_dependencies_shown(job.depends_on, templates or {}))})" if job.depends_on else ""
    mark = "  (up to date)" if job.name in fresh else ""
    mark += "" if job.default else "  (only when selected)"
    return f"{job.name}\t{kind}\t{what}{tags}{after}{mark}"


def _dependencies_shown(names: Sequence[str], templates: Mapping[str, Sequence[str]]) -> list[str]:
    """``names``, with each complete set of a matrix job's expansions as ``template ×N``."""
    chosen = set(names)
    complete = {template: expansions for template, expansions in templates.items()
                if len(expansions) > 1 and chosen.issuperset(expansions)}
    template_of = {name: template for template, expansions in complete.items() for name in expansions}
    shown: list[str] = []
    for name in names:
        template = template_of.get(name)
        if template is None:
            shown.append(name)
        elif template in complete:
            shown.append(f"{template} ×{len(complete.pop(template))}")
    return shown


def _dry_run(jobs: Sequence[Job], preview: RunPreview, force: bool,
             templates: Mapping[str, Sequence[str]] | None) -> NoReturn:
    """Print the jobs that would run (stdout; those up to date marked) and what would be kept (stderr)."""
    ordered = dependency_order(preview.to_run)
    freshness = Freshness(jobs, preview.last, force)  # the run's own rule (and the run's view of the file)
    fresh = freshness.up_to_date(ordered)
    echo_lines(describe(job, fresh, templates) for job in ordered)
    for note in (*preview.notes, *freshness.warnings):
        click.echo(note, err=True)
    kept = len(preview.retention.lines)
    up_to_date = f" ({len(fresh)} of them up to date)" if fresh else ""
    click.echo(f"{plural(len(preview.to_run), 'job')} would run{up_to_date}; {plural(kept, 'result')} kept; "
               "nothing was run (--dry-run)", err=True)
    sys.exit(EXIT_OK)


def echo_lines(lines: Iterable[str]) -> None:
    """Print lines with one write (50,000 click.echo calls cost 0.4 s)."""
    text = "\n".join(lines)
    if text:
        click.echo(text)
