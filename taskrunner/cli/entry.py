"""The console entry point: quiet Ctrl-C from the first moment, then the CLI.

Importing click, tqdm and PyYAML takes a few hundred milliseconds; a Ctrl-C
in that time would print a KeyboardInterrupt traceback. Until a run installs
its own handlers (which record every job), Ctrl-C simply exits 130.

A command that will start local workers (``run`` or ``exec``) starts
multiprocessing's fork server first of all, so that the server starts up
(an interpreter and the preloaded worker code, some 50 ms) while this
process imports the CLI, instead of after it. Whatever the command turns
out to do, the server is stopped when it ends.

A command that has said everything exits without freeing, one by one,
what it still holds (a run's jobs and results: ``exit_without_freeing``),
as the fork server does.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from collections.abc import Sequence

#: Options after which a run or exec starts no local worker.
_NO_LOCAL_WORKERS = ("--dry-run", "--help", "-h", "--backend")


def _exit_interrupted(signum: int, frame: object) -> None:
    os._exit(130)  # nothing started yet, so nothing to clean up or record


def starts_local_workers(args: Sequence[str]) -> bool:
    """A cheap guess, from the raw arguments, whether the command runs local
    workers (a wrong guess costs only a fork server started for nothing).

    >>> starts_local_workers(["run", "jobs.yaml", "-w", "8"]), starts_local_workers(["run", "x", "--dry-run"])
    (True, False)
    >>> starts_local_workers(["validate", "jobs.yaml"])
    False
    """
    command = next((arg for arg in args if not arg.startswith("-")), None)
    if command not in ("run", "exec"):
        return False
    return not any(arg.split("=")[0] in _NO_LOCAL_WORKERS for arg in args)


def main() -> None:
    """Run the ``taskrunner`` command."""
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:  # ignored: we were told to (see runner)
        signal.signal(signal.SIGINT, _exit_interrupted)
    if starts_local_workers(sys.argv[1:]):
        from ..backends.local.helpers import start_fork_server, stop_helpers

        start_fork_server()
        atexit.register(stop_helpers)  # after multiprocessing's hook, so it runs first
    from .commands import main as cli_main

    try:
        cli_main()
    except SystemExit as done:
        exit_without_freeing(done.code)
        raise


def exit_without_freeing(code: object) -> None:
    """End the process as Python's own exit would (exit hooks, then the
    standard streams flushed) but without freeing, one by one, what the
    command still holds: a run that exits from inside (``sys.exit`` after
    its summary) holds its jobs and results, some 30 ms of freeing for a
    resume of 100,000 jobs. Called while the exception being handled keeps
    the command's frames alive. Returns, leaving the exit to Python, where
    Python does more: a code that is a message, a thread that is not a
    daemon (Python waits for it), a stream that cannot be flushed."""
    import threading

    if not (code is None or isinstance(code, int)):
        return
    if any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        return
    atexit._run_exitfuncs()  # (what Python runs at exit: multiprocessing's, the helpers' stop, logging's)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # (Python's exit tries again, and says why it fails)
    os._exit(code or 0)
