"""Where a matrix variable's values come from: a list, or a source to read.

A variable's value in the job file is a list (the values) or a mapping
naming one source:

- ``{glob: "data/**/*.log"}``: the matching paths, sorted, relative to the
  job file's folder (``**`` recursive, never through a link to a folder:
  see ``globwalk``); matching nothing is an error unless
  ``allow_empty: true`` stands next to it;
- ``{lines: inputs.txt}``: one value per line of the file (relative to the
  job file's folder; ``-`` is standard input), blank lines left out;
- ``{range: [start, stop]}`` / ``{range: [start, stop, step]}``: integers,
  as Python's ``range``.

``sources.parse_source`` checks the mapping (no I/O); ``resolve`` reads it, never
producing more than ``limit`` values (a huge range is refused by its length,
before a single value is made).

    >>> resolve(Source("range", [1, 7, 2]), ".", limit=10)
    [1, 3, 5]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from ..sources import Source, SourceError
from .globwalk import GlobTooBig, walk_glob

__all__ = ["resolve"]

#: The longest line ``lines`` accepts (a binary file given by mistake).
MAX_LINE = 1 << 20


def resolve(source: Source, base_dir: str, limit: int, stdin: Callable[[], BinaryIO] = lambda: sys.stdin.buffer) -> list[Any]:
    """The values of ``source``; raise ``SourceError`` if there are none
    (where that is an error) or more than ``limit``."""
    if source.kind == "range":
        numbers = range(*source.argument)
        # (len() of a range longer than sys.maxsize raises OverflowError.)
        start, stop, step = numbers.start, numbers.stop, numbers.step
        _check_count(source, max(0, (stop - start + step - (1 if step > 0 else -1)) // step), limit)
        if not numbers:
            raise SourceError(f"{source} gives no values")
        return list(numbers)
    if source.kind == "glob":
        try:
            found = walk_glob(source.argument, base_dir, limit)
        except GlobTooBig:
            _check_count(source, limit + 1, limit)
        if not found and not source.allow_empty:
            raise SourceError(f"{source} matches nothing in {base_dir} (add allow_empty: true to allow that)")
        return sorted(found)
    if source.argument == "-":
        return _lines(source, stdin(), limit)
    path = os.path.join(base_dir, source.argument)
    try:
        with open(path, "rb") as handle:
            return _lines(source, handle, limit)
    except OSError as error:
        raise SourceError(f"{source}: cannot read {path}: {error.strerror}") from None


def _lines(source: Source, handle: BinaryIO, limit: int) -> list[str]:
    """The non-blank lines of ``handle``. Only a newline ends a line (as for
    GNU parallel: a carriage return is part of the value); bytes that are not
    UTF-8 are kept as they are (surrogate escapes, as for file names)."""
    values: list[str] = []
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            break
        if len(line) > MAX_LINE:
            raise SourceError(f"{source}: a line is longer than {MAX_LINE:,} bytes")
        if b"\0" in line:
            raise SourceError(f"{source}: contains a NUL character")
        value = line[:-1] if line.endswith(b"\n") else line
        if value.strip():
            values.append(value.decode("utf-8", "surrogateescape"))
            _check_count(source, len(values), limit)
    if not values and not source.allow_empty:
        raise SourceError(f"{source} gives no values (no non-blank line)")
    return values


def _check_count(source: Source, count: int, limit: int) -> None:
    if count > limit:
        raise SourceError(f"{source} gives more than the limit of {limit:,} values (raise it with --max-jobs)")
