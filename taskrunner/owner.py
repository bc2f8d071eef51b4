"""Only the process that made it: what a forked child inherits, it leaves alone.

A script that uses taskrunner may fork (``os.fork()``, a ``multiprocessing``
child started by fork). The child inherits the coordinator's objects — the
pool and its workers, the results file and its lock, an executor's loop —
and, as it exits, their ``close``/``__exit__``/``atexit`` paths would run
there: signal and join the parent's workers, cut or write the parent's
results file, unlink its lock. Each such object remembers its ``Owner`` and
does nothing of that kind anywhere else.

    >>> Owner().here
    True
"""

from __future__ import annotations

import os

__all__ = ["Owner"]


class Owner:
    """The process (pid) that made an object."""

    __slots__ = ("pid",)

    def __init__(self) -> None:
        self.pid = os.getpid()

    @property
    def here(self) -> bool:
        """Whether this is that process (False in a forked child)."""
        return os.getpid() == self.pid
