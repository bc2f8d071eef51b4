"""The console entry point: quiet Ctrl-C from the first moment, then the CLI.

Importing click, tqdm and PyYAML takes a few hundred milliseconds; a Ctrl-C
in that time would print a KeyboardInterrupt traceback. Until a run installs
its own handlers (which record every job), Ctrl-C simply exits 130.
"""

from __future__ import annotations

import os
import signal


def _exit_interrupted(signum: int, frame: object) -> None:
    os._exit(130)  # nothing started yet, so nothing to clean up or record


def main() -> None:
    """Run the ``taskrunner`` command."""
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:  # ignored: we were told to (see runner)
        signal.signal(signal.SIGINT, _exit_interrupted)
    from .cli import main as cli_main

    cli_main()
