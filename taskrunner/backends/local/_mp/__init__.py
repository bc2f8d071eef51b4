"""The queue and the packet pipe under the local pool: the only code that
reaches into CPython's ``multiprocessing`` internals (a Queue's reader and
writer, a JoinableQueue's condition), so a CPython change lands here only."""

from __future__ import annotations

import multiprocessing.process
import os
import weakref
from typing import Any

__all__ = ["forget_in_forked_children"]

#: Worker processes (``multiprocessing.Process``) of every pool of this process.
_WORKERS: weakref.WeakSet[Any] = weakref.WeakSet()


def forget_in_forked_children(process: Any) -> None:
    """Register a worker that a child forked from this process must not know
    as its own: multiprocessing's exit hook would join it there (``can only
    join a child process``) or, were it daemonic, terminate it."""
    _WORKERS.add(process)


def _forget_workers() -> None:
    children = multiprocessing.process._children  # type: ignore[attr-defined]
    for process in list(_WORKERS):
        children.discard(process)
    _WORKERS.clear()


os.register_at_fork(after_in_child=_forget_workers)
