"""The results file: JSON Lines, one line per job whose outcome is final.

Lines are flushed as soon as outcomes are final, so a coordinator that is
killed loses no finished result (the OS holds flushed data even if the
process dies; ``close()`` also fsyncs). Outcomes that arrive together are
written with one flush: that costs one system call per batch rather than per
line when jobs finish faster than a millisecond, and keeps the guarantee,
because nothing else happens between receiving them and writing them.
"""

from __future__ import annotations

import json
import os
from typing import IO

from .errors import TaskrunnerError
from .model import JobResult

__all__ = ["Journal", "keep_only", "read_results"]


# One encoder for every line: json.dumps() with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _line(result: JobResult) -> str:
    return _ENCODER.encode(result.to_dict()) + "\n"


class Journal:
    """Appends final results to ``path`` (truncating it first unless ``append``)."""

    def __init__(self, path: str, *, append: bool = False) -> None:
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self._file: IO[str] | None = open(path, "a" if append else "w", encoding="utf-8")

    def write_all(self, results: list[JobResult]) -> None:
        """Append a line per result and flush them to the OS together."""
        assert self._file is not None, "journal is closed"
        self._file.write("".join(map(_line, results)))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_results(path: str) -> list[JobResult]:
    """Every complete line of a results file (a torn last line is skipped).

    Raises ``TaskrunnerError`` naming the line if a complete line is not a result.
    """
    results = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):
                break  # the writer died mid-line; that result was never final
            try:
                results.append(JobResult.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as error:
                raise TaskrunnerError(f"{path}:{number}: not a taskrunner result line ({error})") from None
    return results


def keep_only(path: str, results: list[JobResult]) -> None:
    """Atomically replace the results file with exactly ``results``."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.writelines(_line(result) for result in results)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
