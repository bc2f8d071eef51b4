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

The process itself is the program's (taskrunner embedded in a script) unless
a ``taskrunner`` command says it is its own (``own_the_process``). That
decides what ``many_objects`` may do with the garbage collector.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Owner", "many_objects", "own_the_process"]


class Owner:
    """The process (pid) that made an object."""

    __slots__ = ("pid",)

    def __init__(self) -> None:
        self.pid = os.getpid()

    @property
    def here(self) -> bool:
        """Whether this is that process (False in a forked child)."""
        return os.getpid() == self.pid


#: Whether a ``taskrunner`` command owns this process (see ``own_the_process``).
_command_process = False


def own_the_process() -> None:
    """Say that this process is a ``taskrunner`` command's, not a program's
    that embeds taskrunner: everything made so far, and what ``many_objects``
    makes from now on, is frozen (``gc.freeze``) and never walked by the
    cyclic garbage collector again (a command's jobs and results live until
    it exits, and make no cycles)."""
    global _command_process
    _command_process = True
    gc.freeze()


@contextmanager
def many_objects() -> Iterator[None]:
    """Around making many long-lived objects without cycles (a job file's
    jobs, a results file's results): the collector stays off meanwhile (it
    would be triggered again and again by them, and walk every one made so
    far each time), and afterwards they are not left young: the first young
    collection would walk them all (50 ms for 100,000 results), finding
    nothing. In a command's process they are frozen; in a program's they
    go to the oldest generation without a pass (``gc.freeze`` then
    ``gc.unfreeze``), unless objects are frozen already (the program's own,
    or, on Python 3.12, the interpreter's from its start), which unfreezing
    would undo: then they stay young."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _command_process:
            gc.freeze()
        elif gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if collecting:
            gc.enable()
