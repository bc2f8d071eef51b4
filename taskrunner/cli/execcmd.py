"""``taskrunner exec``: a command and its inputs on the command line, no job file.

As GNU parallel reads them::

    taskrunner exec -j 4 -- gzip -k {} ::: data/*.log
    taskrunner exec -- convert {} {.}.jpg :::: images.txt
    ls *.wav | taskrunner exec -- 'lame {} {/.}.mp3'
    taskrunner exec -- echo {1} {2} ::: a b ::: 1 2      # every combination

The command words are joined with spaces into one shell command (so a
quoted ``'cmd > {.}.out'`` works); each input value is data, never code
(see ``shellvalues``). ``:::`` gives values, ``::::`` a file of values (``-``:
standard input); without either, values are read from standard input, one
per line. Several sources give every combination, the last varying fastest.
Without a replacement string the values are appended as the last arguments;
``{}`` with several sources is each source's value as its own word. No
input values: nothing runs.
Each combination is one job named ``<seq> <values>``, run and recorded by
the same engine as ``taskrunner run``.

    >>> split_inputs(["echo", "{}", ":::", "a", "b", "::::", "f.txt"])
    (['echo', '{}'], [('values', ['a', 'b']), ('file', ['f.txt'])])
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click

from ..errors import TaskrunnerError
from ..jobfile import matrix
from ..jobfile.inputs import resolve
from ..jobfile.matrixfill import expand
from ..jobfile.shellvalues import UnsafePlaceholder
from ..jobfile.spec import MAX_JOBS
from ..model import Job
from ..paths import exec_results, logs_for
from ..sources import Source, SourceError
from .clirun import RunSettings, fail, quoted, run_jobs, run_options, start_helpers

__all__ = ["command_template", "exec_command", "jobs_for", "split_inputs"]

_MARKERS = {":::": "values", "::::": "file"}


def split_inputs(words: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(the command words, the sources: ``("values", [...])`` or ``("file", [path, ...])``)."""
    command: list[str] = []
    sources: list[tuple[str, list[str]]] = []
    for word in words:
        if word in _MARKERS:
            sources.append((_MARKERS[word], []))
        elif sources:
            sources[-1][1].append(word)
        else:
            command.append(word)
    return command, sources


def _values(sources: list[tuple[str, list[str]]], limit: int) -> list[list[Any]]:
    """One list of values per input source (a ``::::`` with several files is
    one source each). A source may be empty: then nothing runs, as in parallel."""
    lists: list[list[Any]] = []
    for kind, items in sources:
        if kind == "values":
            lists.append(items)
            continue
        if not items:
            raise TaskrunnerError(":::: needs a file (or - for standard input) after it")
        for path in items:
            lists.append(_read(Source("lines", path, allow_empty=True), limit))
    if not lists:  # neither: standard input
        lists.append(_read(Source("lines", "-", allow_empty=True), limit))
    return lists


def _read(source: Source, limit: int) -> list[Any]:
    try:
        return resolve(source, os.getcwd(), limit)
    except SourceError as error:
        raise TaskrunnerError(f"exec: {error}") from None


_FORMS = r"(/\.|//|/|\.)?"
#: ``{}`` and its forms: with several sources, each source's value as its own word.
_ALL_VALUES = re.compile(r"\{" + _FORMS + r"\}")
_NUMBERED = re.compile(r"\{([0-9]+)" + _FORMS + r"\}")


def command_template(command: list[str], sources: int) -> str:
    """The shell string of ``command`` (words, as typed) for ``sources`` input
    sources, as GNU parallel reads it: ``{}`` (and ``{.}``...) is every
    source's value, each its own word; without any replacement string the
    values are appended.

    >>> command_template(["touch", "{}"], 2), command_template(["echo", "{#}"], 1), command_template(["gzip"], 1)
    ('touch {1} {2}', 'echo {#}', 'gzip {1}')
    """
    if not command:
        raise TaskrunnerError("exec: give a command, e.g. taskrunner exec -- gzip {} ::: a.log b.log")
    text = " ".join(command)
    for found in _NUMBERED.finditer(text):
        if not 1 <= int(found[1]) <= sources:
            raise TaskrunnerError(f"exec: {found[0]} names input source {found[1]}, but there "
                                  f"{'is 1' if sources == 1 else f'are {sources}'} (one per ::: or :::: file)")
    numbers = [str(n) for n in range(1, sources + 1)]
    if not matrix.placeholder_pattern(["", *numbers]).search(text):
        text += " {}"  # as parallel and xargs do: the values become the last arguments
    return _ALL_VALUES.sub(lambda found: " ".join("{" + n + (found[1] or "") + "}" for n in numbers), text)


def jobs_for(command: list[str], values: list[list[Any]], limit: int = MAX_JOBS) -> list[Job]:
    """One job per combination of ``values`` for ``command`` (words, as typed),
    named ``<seq> <values>``; see ``command_template``."""
    text = command_template(command, len(values))
    numbers = [str(n) for n in range(1, len(values) + 1)]
    variables = dict(zip(numbers, values, strict=True))
    if matrix.count(variables) > limit:
        raise TaskrunnerError(f"exec: the inputs make more than the limit of {limit:,} jobs (raise it with --max-jobs)")
    template = {"name": "{#} " + " ".join("{" + n + "}" for n in numbers), "run": text}
    try:
        here = os.getcwd()  # (once, not once a job)
        return [Job(base_dir=here, **fields) for fields in expand(template, variables)]
    except UnsafePlaceholder as error:
        message = str(error)
        if error.placeholder == "1" and "{1}" not in " ".join(command):
            message = message.replace("{1}", "{}", 1)  # the user wrote {}
        raise TaskrunnerError(f"exec: {message}") from None


@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.argument("words", nargs=-1, type=click.UNPROCESSED, required=True)
@run_options("exec")
@click.option("--max-jobs", type=click.IntRange(min=1), default=MAX_JOBS, show_default=True,
              help="Refuse inputs that make more jobs.")
def exec_command(words: tuple[str, ...], settings: RunSettings, max_jobs: int) -> None:
    """Run COMMAND once per input value, as GNU parallel does, without a job file.

    \b
    COMMAND ::: VALUES...      the values (repeat ::: for every combination)
    COMMAND :::: FILE          one value per line of FILE (- is standard input)
    COMMAND                    one value per line of standard input
    {} the value, {.} without extension, {/} basename, {//} dirname,
    {/.} basename without extension, {#} job number, {%} worker slot,
    {1} {2} ... the value of each source. Without any, the value is appended.

    \b
    Examples:
      taskrunner exec -j 4 -- gzip -k {} ::: data/*.log
      taskrunner exec -- convert {} {.}.jpg :::: images.txt
      find . -name '*.wav' | taskrunner exec -- lame {} {.}.mp3
    """
    start_helpers(settings)
    command, sources = split_inputs(list(words))
    try:
        jobs = jobs_for(command, _values(sources, max_jobs), max_jobs)
    except (TaskrunnerError, ValueError) as error:
        fail(error)
    results = settings.results_path or exec_results(command)
    run_jobs(jobs, None, settings, results=results, log_dir=settings.log_dir or logs_for(results), source="exec",
             resume_command=_resume_command())


def _resume_command() -> str:
    """This command line with --resume added (the inputs must be the same)."""
    argv = sys.argv[1:]
    at = argv.index("exec") + 1 if "exec" in argv else 0
    options = argv[: argv.index("--")] if "--" in argv else argv
    if "--resume" not in options:
        argv = [*argv[:at], "--resume", *argv[at:]]
    return quoted(["taskrunner", *argv])
