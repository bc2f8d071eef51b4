"""Memory: a process group's resident size, a call's peak, the machine's free memory.

All read from ``/proc`` (Linux). ``group_rss`` is what ``memory_limit``
watches for a command (every process of its group); ``PeakMemory`` measures
a call's peak in the worker itself by resetting the kernel's high-water mark
before it (``/proc/self/clear_refs``) and reading it after;
``available_memory`` is what ``--memfree`` compares with.

    >>> format_size(2 * 1024**3), format_size(512 * 1024**2), format_size(1000)
    ('2G', '512M', '1000')
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

__all__ = ["PeakMemory", "available_memory", "format_size", "group_members", "group_rss", "process_rss"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def format_size(size: float) -> str:
    """``2G``, ``512M``, ``64K`` (binary units), or the number of bytes."""
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.3g}{unit}"
    return f"{size:g}"


def group_members(pgid: int, entries: list[str] | None = None) -> Iterator[list[bytes]]:
    """The ``/proc/PID/stat`` fields after the name (state, ppid, pgrp, ...) of
    every process of group ``pgid``; ``entries``: a listing of ``/proc`` already made."""
    for entry in os.listdir("/proc") if entries is None else entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            yield fields


def group_rss(pgid: int) -> int:
    """Bytes resident in every process of process group ``pgid``."""
    # rss is the 24th field of the line, the 22nd after the name.
    return sum(int(fields[21]) for fields in group_members(pgid)) * _PAGE


def process_rss(pid: int) -> int:
    """Bytes resident in process ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def total_memory() -> int | None:
    """The machine's memory in bytes, if known."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        return None


def available_memory() -> int:
    """The kernel's estimate of memory available to new work, in bytes."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62  # unknown: never hold work back


class PeakMemory:
    """The peak resident size of this process over one stretch (a call)."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._opened = False
        # The file names its opener: open it again in a forked child (a
        # flag, not a getpid() system call for every call).
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._opened = False

    def reset(self) -> None:
        """Start a stretch: the high-water mark drops to the current size."""
        if not self._opened:
            self._opened = True
            try:
                self._fd = os.open("/proc/self/clear_refs", os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                self._fd = None
        if self._fd is not None:
            try:
                os.write(self._fd, b"5")
            except OSError:
                self._fd = None

    def peak(self) -> int | None:
        """Bytes at the highest point since ``reset`` (None where it cannot be told)."""
        if self._fd is None:
            return None
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
