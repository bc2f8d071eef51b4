"""Waiting for a command: its exit status and peak memory, and stopping its
whole process group on timeout, cancel or a memory limit exceeded.

The wait blocks in ``wait4`` (no polling) unless a timeout or a memory limit
needs the loop to wake; ``wait4`` also gives the peak resident size of the
command and of every descendant it reaped (``max_rss``). ``control`` is the
attempt's ``AttemptControl`` (its ``cancelled`` and ``cancelled_at``).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from typing import Any

from ..model import Job
from ..signals import signal_group
from .memwatch import group_members, group_rss

__all__ = ["KILL_GRACE", "MEMORY_CHECK", "Waited", "wait_for"]

#: Seconds a command gets between SIGTERM and SIGKILL.
KILL_GRACE = 2.0


class Waited:
    """How a command ended: its exit status, why we stopped it, its peak memory."""

    def __init__(self) -> None:
        self.returncode = 0
        self.timed_out = False
        self.over_memory = False
        self.max_rss: int | None = None


#: How often a command with a memory_limit has its group's memory measured.
MEMORY_CHECK = 0.1
#: The longest single wait for a command with a timeout (seconds).
WAIT_SLICE = 3600.0


def wait_for(proc: subprocess.Popen[bytes], job: Job, control: Any) -> Waited:
    """Wait for ``proc``; on timeout, cancel or a memory limit exceeded stop its whole group."""
    waited = Waited()
    deadline = None if job.timeout is None else time.monotonic() + job.timeout
    while True:
        if control.cancelled:
            break
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            waited.timed_out = True
            break
        if job.memory_limit is not None:
            if group_rss(proc.pid) > job.memory_limit:
                waited.over_memory = True
                signal_group(proc.pid, signal.SIGKILL)  # memory: at once, no grace
                break
            remaining = MEMORY_CHECK if remaining is None else min(remaining, MEMORY_CHECK)
        # Without a timeout this blocks in wait4 at no polling cost; a cancel
        # arrives as a signal whose handler SIGTERMs the group. A long timeout
        # is waited for in slices (poll() takes at most about 24.8 days).
        if _reap(proc, None if remaining is None else min(remaining, WAIT_SLICE), waited):
            if control.cancelled_at is not None:
                # The leader died of the cancel's SIGTERM; what else of its group
                # still runs gets the rest of the grace period, then SIGKILL.
                _kill_group_after(proc.pid, control.cancelled_at + KILL_GRACE)
            return waited
    if not waited.over_memory:
        _stop_group(proc)
    _kill_group_after(proc.pid, time.monotonic())
    _reap(proc, None, waited)
    return waited


def _reap(proc: subprocess.Popen[bytes], timeout: float | None, waited: Waited) -> bool:
    """Wait up to ``timeout`` (None: for ever) for ``proc`` to end; reap it with
    ``wait4`` for its peak memory (its own and its reaped descendants')."""
    if timeout is not None and not _ends_within(proc.pid, timeout):
        return False
    while True:
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; a handler may raise
            continue
    proc.returncode = waited.returncode = os.waitstatus_to_exitcode(status)
    waited.max_rss = usage.ru_maxrss * 1024
    return True


def _ends_within(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` (our child) ends within ``timeout`` seconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # an old kernel: poll its status instead
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(0.005)
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(pidfd)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group and give it KILL_GRACE to end (the caller
    then SIGKILLs what is left)."""
    signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE
    if _ends_within(proc.pid, KILL_GRACE):
        _kill_group_after(proc.pid, deadline)


def _kill_group_after(pgid: int, deadline: float) -> None:
    """Let the group's processes end by themselves until ``deadline``
    (monotonic), then SIGKILL whatever of it is left."""
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.02)
    signal_group(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` runs. Zombies do not count: where
    nothing reaps orphans (PID 1 in some containers) they would stay forever."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = None
    if entries is None:  # no /proc: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return any(fields[0] != b"Z" for fields in group_members(pgid, entries))
