"""What a run sees of the file system, looked at once.

A build's jobs share patterns (every object file's job reads ``include/*.h``)
and paths (a dependency's outputs are its dependents' inputs). Asking the file
system again for each job made a no-op rebuild quadratic: 3,000 objects, each
globbing 3,000 headers. ``FileLook`` remembers each pattern's matches and each
path's time until it is told that a job ran (``forget``): a job may write files
it did not declare, which a later look must see. make keeps its directory
cache the same way.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "a.h"), "w").close()
    >>> look = FileLook()
    >>> [os.path.basename(path) for path in look.matches("*.h", folder)]
    ['a.h']
    >>> open(os.path.join(folder, "b.h"), "w").close()
    >>> len(look.matches("*.h", folder)), len(matches("*.h", folder))  # remembered until forget()
    (1, 2)
    >>> look.forget(); len(look.matches("*.h", folder))
    2
"""

from __future__ import annotations

import glob
import os
import re
import stat

__all__ = ["FileLook", "files_under", "is_glob", "matches"]

_MAGIC = re.compile(r"[*?[]")


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` holds a wildcard (``*``, ``?``, ``[``)."""
    return _MAGIC.search(pattern) is not None


def matches(pattern: str, folder: str) -> list[str]:
    """The existing paths ``pattern`` names, relative to ``folder`` (a glob, or one path)."""
    if is_glob(pattern):
        return [os.path.join(folder, found) for found in glob.glob(pattern, root_dir=folder, recursive=True)]
    path = os.path.join(folder, pattern)
    return [path] if os.path.exists(path) else []


def files_under(path: str) -> list[str]:
    """``path``, or the files under it if it is a folder."""
    if not os.path.isdir(path):
        return [path]
    return [os.path.join(root, name) for root, _dirs, names in os.walk(path) for name in names]


class FileLook:
    """Memoised ``matches`` and file times, for one run (or one ``list``)."""

    def __init__(self) -> None:
        self._matches: dict[tuple[str, str], list[str]] = {}
        #: path -> (is a folder, modification time in ns; for a folder its newest file's), None if gone.
        self._seen: dict[str, tuple[bool, int] | None] = {}

    def forget(self) -> None:
        """A job ran: what it wrote (declared or not) must be looked at again."""
        self._matches.clear()
        self._seen.clear()

    def matches(self, pattern: str, folder: str) -> list[str]:
        """``matches(pattern, folder)``, globbed once until ``forget``."""
        key = (pattern, folder)
        found = self._matches.get(key)
        if found is None:
            found = self._matches[key] = matches(pattern, folder)
        return found

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a folder (False if it is gone)."""
        seen = self._look(path)
        return seen is not None and seen[0]

    def time(self, path: str) -> int | None:
        """When ``path`` last changed, in nanoseconds: a file's modification
        time, a folder's newest file's (rewriting a file in place leaves its
        folder's alone); None if it is gone."""
        seen = self._look(path)
        return None if seen is None else seen[1]

    def _look(self, path: str) -> tuple[bool, int] | None:
        if path in self._seen:
            return self._seen[path]
        try:
            status = os.stat(path)
        except OSError:  # gone since the glob saw it: not up to date
            seen = None
        else:
            if stat.S_ISDIR(status.st_mode):
                seen = (True, _newest_inside(path, status.st_mtime_ns))
            else:
                seen = (False, status.st_mtime_ns)
        self._seen[path] = seen
        return seen


def _newest_inside(folder: str, own: int) -> int:
    """The newest modification time of the files under ``folder`` (its own, if it has none)."""
    newest = own
    for path in files_under(folder):
        try:
            newest = max(newest, os.stat(path).st_mtime_ns)
        except OSError:
            continue
    return newest
