"""When a job ends, all of it ends: its leftover processes, found and killed.

A job's command runs in its own process group, which a timeout or a cancel
kills; but a process the job started in a *new session* (``setsid``, a
double-forking daemon) is in no group of ours. On Linux a process can be a
*child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``): orphans among its
descendants are re-parented to it instead of to init. Each worker is one, so
whatever a job leaves behind stays a descendant of its worker, and after the
job the worker ends every descendant it has (unless the job says
``keep_children``). The fork server is one too, so the leftovers of a worker
that died are found under it.

Descendants are read from ``/proc/PID/task/TID/children``: a file read per
process, so a job that leaves nothing behind costs two small reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterable

__all__ = [
    "become_subreaper",
    "children",
    "end_processes",
    "keep_processes",
    "kept_processes",
    "own_children",
    "reap_zombies",
]

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux); False if it cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (of all its threads); [] if it is gone."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as listing:
                found += [int(child) for child in listing.read().split()]
        except (OSError, ValueError):
            continue
    return found


def own_children() -> list[int]:
    """This process's children, read cheaply (one file: those of the main
    thread, which starts the commands and adopts orphans)."""
    try:
        # One system call for the common case, no children at all (a zombie
        # counts as one): reading the file costs four.
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return []
    pid = _own_pid[0]
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return children(pid)


# getpid() is a system call, and own_children runs after every attempt.
_own_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _own_pid.__setitem__(0, os.getpid()))


def descendants(roots: Iterable[int]) -> list[int]:
    """Every process below ``roots`` (the roots included), parents first."""
    seen: list[int] = []
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.append(pid)
        pending += children(pid)
    return seen


def end_processes(roots: Iterable[int], grace: float = 1.0) -> int:
    """SIGTERM ``roots`` and all their descendants, then SIGKILL what is still
    there after ``grace`` seconds (new ones included); return how many were found."""
    targets = descendants(roots)
    if not targets:
        return 0
    _send(targets, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        reap_zombies()
        if not [pid for pid in descendants(targets) if _alive(pid)]:
            return len(targets)
        time.sleep(0.02)
    for _ in range(3):  # a process may fork while we kill: look again
        left = [pid for pid in descendants(targets) if _alive(pid)]
        if not left:
            break
        _send(left, signal.SIGKILL)
        time.sleep(0.01)
        reap_zombies()
    return len(targets)


def keep_processes(pids: Iterable[int], folder: str) -> None:
    """Note in ``folder`` that ``pids`` (and what runs below them) are kept
    (``keep_children``): whoever adopts them next must not end them."""
    if folder:
        with open(os.path.join(folder, f"kept-{os.getpid()}"), "a") as listing:
            listing.write("".join(f"{pid}\n" for pid in pids))


def kept_processes(folder: str) -> set[int]:
    """Every pid noted by ``keep_processes`` in ``folder``."""
    kept: set[int] = set()
    try:
        names = [name for name in os.listdir(folder) if name.startswith("kept-")]
    except OSError:
        return kept
    for name in names:
        with contextlib.suppress(OSError, ValueError), open(os.path.join(folder, name)) as listing:
            kept.update(int(line) for line in listing.read().split())
    return kept


def reap_zombies() -> None:
    """Collect the exit status of every child of ours that has ended."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _send(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _alive(pid: int) -> bool:
    """Running (a zombie counts as gone: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False
