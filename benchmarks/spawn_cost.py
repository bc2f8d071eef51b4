"""Where a command job's time goes: each step of running ``true 1`` timed on
its own, in one process, one command at a time (``compare.py --only spawn``).
With one argument, as ``xargs -n 1`` runs it (coreutils' ``true`` then sets
up its locale: some 180 µs more than a bare ``true``).

The shell workload (2,000 × ``true`` on 2 workers against ``xargs -P 2``)
is bound by starting processes; this splits a command job's cost in a
worker into the process start (fork/vfork + exec + wait, by the ways
Python offers), what taskrunner's options add to it (a new session, log
files as stdout/stderr), the log files themselves, and the rest of
``execute`` (environment, results record), next to what one command costs
``xargs``. Microseconds per command, medians of ``reps`` rounds.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable

from taskrunner.execution.capture import CommandLogs
from taskrunner.execution.execute import execute
from taskrunner.model import Attempt, Job

#: Commands per round.
COUNT = 400


def _per_command(action: Callable[[], object], reps: int, count: int = COUNT) -> float:
    """Median over ``reps`` rounds of ``count`` calls of ``action``, in µs a call."""
    rounds = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(count):
            action()
        rounds.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(rounds)


def spawn_workload(reps: int, scratch: str) -> None:
    """Print the cost of each step of a command job, in µs per command."""
    true = shutil.which("true") or "/bin/true"
    logs = os.path.join(scratch, "spawnlogs")
    os.makedirs(logs, exist_ok=True)
    out, err = os.path.join(logs, "t.out"), os.path.join(logs, "t.err")
    devnull = os.open(os.devnull, os.O_RDONLY)

    def posix_spawn() -> None:
        os.waitpid(os.posix_spawn(true, [true, "1"], os.environ), 0)

    def popen_plain() -> None:
        subprocess.Popen([true, "1"]).wait()

    def popen_as_taskrunner() -> None:
        files = CommandLogs(out, err)
        subprocess.Popen([true, "1"], stdin=devnull, stdout=files.stdout, stderr=files.stderr,
                         start_new_session=True).wait()
        files.close()

    def log_files_only() -> None:
        CommandLogs(out, err).close()

    job = Job(name="t", run="true 1")
    attempt = Attempt(1, job, 1, out, err, seq=1)

    def whole_execute() -> None:
        execute(attempt, "w0", own_process=True)

    lines = "".join(f"{i}\n" for i in range(COUNT))

    def xargs_round() -> None:
        subprocess.run(["xargs", "-P", "1", "-n", "1", "true"], input=lines, text=True, check=True)

    steps = {
        "os.posix_spawn + waitpid": _per_command(posix_spawn, reps),
        "subprocess.Popen([true, '1']).wait()": _per_command(popen_plain, reps),
        "  + new session, /dev/null stdin, log files (as a job)": _per_command(popen_as_taskrunner, reps),
        "log files alone (open 2, fstat, unlink 2)": _per_command(log_files_only, reps),
        "execute() of a `run: true 1` job (all a worker does)": _per_command(whole_execute, reps),
        "xargs -P 1 -n 1 true, per command": _per_command(xargs_round, max(1, reps // 2), 1) / COUNT,
    }
    os.close(devnull)
    print(f"\nSpawn: one command of `true N` at a time, µs per command (median of {reps} rounds of {COUNT})")
    for step, micros in steps.items():
        print(f"  {step:<58} {micros:8.0f} µs")
