"""Where a run keeps its files by default, and safe log file names.

Each front door has its own default results file, so that none meets
another's: a job file's CLI run ``.taskrunner/<file>.results.jsonl``, an
``exec`` run one per command (``exec-<hash>``), a Python script one named
after the script, under ``.taskrunner/python/`` (no job file's name can
reach there). A run's log folder is derived from its results file, so two
runs with different results files never share a log file.

    >>> default_results("jobs.yaml")
    '.taskrunner/jobs.results.jsonl'
    >>> logs_for("out/r.jsonl"), logs_for("r"), logs_for(".taskrunner/jobs.results.jsonl")
    ('out/r.logs', 'r.logs', '.taskrunner/jobs.logs')
    >>> exec_results(["gzip", "-k", "{}"])
    '.taskrunner/exec-f2962bca.results.jsonl'
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Sequence

__all__ = [
    "STATE_DIR",
    "default_results",
    "exec_results",
    "keep_out_of_git",
    "log_file_stem",
    "log_paths",
    "logs_for",
    "script_results",
    "shown_path",
]

STATE_DIR = ".taskrunner"


def default_results(job_file: str) -> str:
    """A job file's default results path, under ./.taskrunner/ (its log folder: ``logs_for``)."""
    stem = "stdin" if job_file == "-" else os.path.splitext(os.path.basename(job_file))[0] or "jobs"
    return os.path.join(STATE_DIR, f"{stem}.results.jsonl")


def logs_for(results: str) -> str:
    """The log folder of a run recording into ``results``: beside it, named after it."""
    for suffix in (".results.jsonl", ".jsonl", ".json"):
        if results.endswith(suffix) and len(results) > len(suffix):
            return results[: -len(suffix)] + ".logs"
    return results + ".logs"


def exec_results(command: Sequence[str]) -> str:
    """``exec``'s default results file: one per command (a short hash of its words)."""
    digest = hashlib.sha1(os.fsencode("\0".join(command))).hexdigest()[:8]
    return os.path.join(STATE_DIR, f"exec-{digest}.results.jsonl")


def script_results() -> str:
    """The Python API's default results file: named after the running script
    (``interactive`` for a notebook or a prompt), under ``.taskrunner/python/``."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(script)) if script else "interactive"
    return os.path.join(STATE_DIR, "python", f"{stem}.results.jsonl")


def keep_out_of_git(folder: str) -> None:
    """Give the ``.taskrunner`` folder that holds ``folder`` (if one does) a
    ``.gitignore`` of ``*``, so a run's files never show in ``git status``
    (as ``.pytest_cache`` does). Best effort: a folder we cannot write to is
    reported by whoever writes there next."""
    here = os.path.abspath(folder)
    while os.path.basename(here) and os.path.basename(here) != STATE_DIR:
        here = os.path.dirname(here)
    if os.path.basename(here) != STATE_DIR:
        return
    try:
        fd = os.open(os.path.join(here, ".gitignore"), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError:  # there already (or not ours to write)
        return
    try:
        os.write(fd, b"# Written by taskrunner: its results and logs stay out of git.\n*\n")
    finally:
        os.close(fd)


def shown_path(path: str) -> str:
    """``path`` as printed: relative to the current folder when it is inside it
    (as ``results:`` is given), else as it is.

    >>> shown_path(os.path.join(os.getcwd(), "a", "b.err")), shown_path("/elsewhere/x")
    ('a/b.err', '/elsewhere/x')
    """
    try:
        here = os.getcwd()
    except OSError:  # the folder was removed under us
        return path
    absolute = os.path.abspath(path)
    if os.path.commonpath([here, absolute]) != here or absolute == here:
        return path
    return os.path.relpath(absolute, here)


def log_file_stem(name: str) -> str:
    """A file name for a job's logs that cannot leave the log folder.

    >>> log_file_stem("compress"), log_file_stem("../x")
    ('compress', 'x-72e4d01d')
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:80]
    if safe != name:
        # Keep distinct names distinct after cleaning ("a/b" vs "a_b").
        safe = f"{safe or 'job'}-{hashlib.sha1(os.fsencode(name)).hexdigest()[:8]}"
    return safe


def log_paths(log_dir: str, name: str) -> tuple[str, str]:
    """The stdout and stderr log files of job ``name`` in ``log_dir``.

    >>> log_paths("/logs", "../x")
    ('/logs/x-72e4d01d.out', '/logs/x-72e4d01d.err')
    """
    stem = os.path.join(log_dir, log_file_stem(name))
    return f"{stem}.out", f"{stem}.err"
