"""The local backend: worker processes on this machine.

The design card's shape lives in ``pool.LocalPool``: a ``JoinableQueue`` of
attempts, N worker ``Process``es that ``get()``, run and ``task_done()``, a
separate result queue, ``join()``, one sentinel per worker at shutdown.
Around it:

- ``worker``: the worker process's loop;
- ``helpers``: multiprocessing's fork server and resource tracker, started
  early and stopped when the last pool closes, and the leftovers of dead
  workers' jobs;
- ``chunks``: how many tiny attempts travel in one queue item;
- ``reaper``: ending what a job leaves running (child subreapers);
- ``spool``: the folder for messages bigger than a pipe packet;
- ``_mp``: the queue and the packet pipe — the only code that touches
  CPython's multiprocessing internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .helpers import start_fork_server, stop_helpers

if TYPE_CHECKING:
    from .pool import LocalPool

__all__ = ["LocalPool", "start_fork_server", "stop_helpers"]


def __getattr__(name: str) -> Any:
    # The pool (and the worker code it imports) on first use: the command
    # starts the fork server through ``helpers`` before its heavy imports.
    if name != "LocalPool":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .pool import LocalPool

    return LocalPool
