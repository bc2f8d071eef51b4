"""Where a run keeps its files by default, and safe log file names.

    >>> default_paths("jobs.yaml")
    ('.taskrunner/jobs.results.jsonl', '.taskrunner/jobs.logs')
"""

from __future__ import annotations

import hashlib
import os
import re

__all__ = ["STATE_DIR", "default_paths", "log_file_stem", "log_paths"]

STATE_DIR = ".taskrunner"


def default_paths(job_file: str) -> tuple[str, str]:
    """Default (results path, log folder) for a job file: under ./.taskrunner/."""
    stem = "stdin" if job_file == "-" else os.path.splitext(os.path.basename(job_file))[0] or "jobs"
    return (
        os.path.join(STATE_DIR, f"{stem}.results.jsonl"),
        os.path.join(STATE_DIR, f"{stem}.logs"),
    )


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
