"""What every worker does once, before its first call, and how many calls it
takes: ``ProcessPoolExecutor``'s ``initializer``, ``initargs`` and
``max_tasks_per_child``.

    >>> WorkerSetup(print, ("ready",)).initialize()
    ready
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..execution.scriptspace import in_script_space
from .sending import dumps

__all__ = ["WorkerSetup", "checked_setup"]


@dataclass(frozen=True)
class WorkerSetup:
    """``initializer(*initargs)`` runs once in each worker, again in each
    replacement; ``max_tasks``: a worker retires after that many attempts
    (None: never). The initializer travels as a call does (by value when a
    worker could not import it: one of the calling script, a lambda);
    ``initargs`` go with multiprocessing's own pickler, which can send the
    queues and locks of the workers' context."""

    initializer: Callable[..., Any] | None = None
    initargs: tuple[Any, ...] = ()
    max_tasks: int | None = None

    def initialize(self) -> str | None:
        """Run the initializer; return why it failed (one line), or None."""
        if self.initializer is None:
            return None
        try:
            in_script_space(self.initializer)(*self.initargs)
        except BaseException as error:  # noqa: BLE001 - it fails this worker's calls, not the worker
            return f"the worker's initializer failed: {type(error).__name__}: {error}"
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (dumps(self.initializer), self.initargs, self.max_tasks))


def _rebuilt(initializer: bytes, initargs: tuple[Any, ...], max_tasks: int | None) -> WorkerSetup:
    return WorkerSetup(pickle.loads(initializer), initargs, max_tasks)


def checked_setup(initializer: Any, initargs: Any, max_tasks: Any) -> WorkerSetup | None:
    """The setup of ``initializer``/``initargs``/``max_tasks_per_child`` as
    given to an executor or a runner; ``TypeError``/``ValueError`` for bad ones."""
    if initializer is not None and not callable(initializer):
        raise TypeError(f"initializer must be callable, got {initializer!r}")
    if not isinstance(initargs, (tuple, list)):
        raise TypeError(f"initargs must be a tuple, got {initargs!r}")
    if max_tasks is not None and (isinstance(max_tasks, bool) or not isinstance(max_tasks, int) or max_tasks < 1):
        raise ValueError(f"max_tasks_per_child must be an int >= 1, got {max_tasks!r}")
    if initializer is None and max_tasks is None:
        return None
    return WorkerSetup(initializer, tuple(initargs), max_tasks)
