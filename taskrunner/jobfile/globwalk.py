"""A glob that always ends: ``glob.glob`` semantics, except that ``**`` never
follows a symbolic link to a folder (as ``find`` without ``-L``), so a link to
``..`` cannot make it loop or find one file many times, and the walk stops as
soon as it has found more than ``limit`` paths.

A path part with ``*``, ``?`` or ``[`` matches names as ``fnmatch`` does
(a leading dot only when the part starts with one); ``**`` matches zero or
more folders (hidden ones left out); other parts are taken as written.

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for path in ("a/x.log", "a/b/y.log", "z.log"):
    ...     os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
    ...     open(os.path.join(root, path), "w").close()
    >>> os.symlink("..", os.path.join(root, "a", "up"))
    >>> walk_glob("**/*.log", root, limit=100)
    ['a/b/y.log', 'a/x.log', 'z.log']
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator

__all__ = ["GlobTooBig", "walk_glob"]

_MAGIC = re.compile(r"[*?[]")


class GlobTooBig(Exception):
    """The pattern matches more than the limit (it stopped walking there)."""


def walk_glob(pattern: str, root: str, limit: int) -> list[str]:
    """The paths matching ``pattern`` under ``root`` (relative to it, unless
    the pattern is absolute), sorted; ``GlobTooBig`` past ``limit`` matches."""
    found: dict[str, None] = {}
    for path in _matches(pattern, root):
        found[path] = None
        if len(found) > limit:
            raise GlobTooBig
    return sorted(found)


def _matches(pattern: str, root: str) -> Iterator[str]:
    """Part by part: the folders matched so far (``prefix/``), then the last part's matches."""
    parts = [part for part in pattern.split("/") if part]
    on_disk: Callable[[str], str] = (lambda path: path) if pattern.startswith("/") else (
        lambda path: os.path.join(root, path))
    prefixes = ["/" if pattern.startswith("/") else ""]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if last:
            for prefix in prefixes:
                yield from _last(part, prefix, on_disk)
            return
        following: list[str] = []
        for prefix in prefixes:
            if part == "**":
                following.append(prefix)
                following += (path + "/" for path, is_dir in _tree(prefix, on_disk) if is_dir)
            elif _MAGIC.search(part):
                following += (prefix + name + "/" for name in _names(prefix, part, on_disk)
                              if os.path.isdir(on_disk(prefix + name)))
            elif os.path.isdir(on_disk(prefix + part)):
                following.append(prefix + part + "/")
        prefixes = following


def _last(part: str, prefix: str, on_disk: Callable[[str], str]) -> Iterator[str]:
    if part == "**":  # (as glob: the folder itself, then everything below it)
        if prefix:
            yield prefix
        yield from (path for path, _ in _tree(prefix, on_disk))
    elif _MAGIC.search(part):
        yield from (prefix + name for name in _names(prefix, part, on_disk))
    elif os.path.lexists(on_disk(prefix + part)):
        yield prefix + part


def _names(prefix: str, part: str, on_disk: Callable[[str], str]) -> list[str]:
    """The names in folder ``prefix`` that ``part`` matches (a dot first only if ``part`` has one)."""
    try:
        with os.scandir(on_disk(prefix) or ".") as entries:
            names = [entry.name for entry in entries]
    except OSError:
        return []
    hidden = part.startswith(".")
    return [name for name in names if (hidden or not name.startswith(".")) and fnmatch.fnmatchcase(name, part)]


def _tree(prefix: str, on_disk: Callable[[str], str]) -> Iterator[tuple[str, bool]]:
    """``(path, is a folder)`` for everything below ``prefix``, hidden names
    left out, never through a link to a folder (so it always ends)."""
    pending = [prefix]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(on_disk(folder) or ".") as scanned:
                entries = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in scanned)
        except OSError:
            continue
        for name, is_dir in entries:
            if not name.startswith("."):
                yield folder + name, is_dir
                if is_dir:
                    pending.append(folder + name + "/")
