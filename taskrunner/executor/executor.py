"""``taskrunner.Executor``: a ``concurrent.futures`` executor on taskrunner's engine.

A drop-in for ``ProcessPoolExecutor`` that does not break when a worker
does: a call whose worker dies fails alone (``WorkerCrashed``) and a new
worker takes its place; a call past ``timeout`` fails with ``TimeoutError``
and its worker is replaced; ``retries`` apply first; ``results=`` records
every call in a results file, as a run does. Calls go through the same
backend, worker and results file code as ``taskrunner run``
(``executorloop`` drives it).

    >>> import operator
    >>> with Executor(max_workers=2) as executor:
    ...     list(executor.map(operator.neg, [1, 2, 3]))
    [-1, -2, -3]
"""

from __future__ import annotations

import atexit
import itertools
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from ..backends.backend import open_backend
from ..backends.local.chunks import MAX_CHUNK
from ..backends.workersetup import checked_setup
from ..execution.logfiles import prepare_log_dir
from ..fields import InvalidValue, positive_number
from ..job import expanded_job, job_template
from .calljournal import CallJournal
from .loop import CallLoop
from .mapresults import Calls, MapResults

__all__ = ["Executor"]

_T = TypeVar("_T")

#: Calls ``map`` keeps submitted ahead of the one it yields, per worker:
#: enough to keep every worker's chunks full, few enough that a generator of
#: a million items never becomes a million futures.
MAP_AHEAD_PER_WORKER = 2 * MAX_CHUNK


class Executor(futures.Executor):
    """Runs calls on ``max_workers`` worker processes (default: one per CPU).

    ``timeout``: seconds (or ``"5m"``) a call may run; past it the call's
    future fails with ``TimeoutError`` and its worker is replaced.
    ``retries``: attempts after the first for a call that raised, timed out
    or lost its worker. ``results``: a results file recording every call
    (held locked until shutdown). ``log_dir``: a folder for each call's
    output (default: calls print where the calling script does).
    ``backend``/``scheduler``: as for ``Runner`` (``"dask"`` runs the calls
    on a Dask cluster). As ``ProcessPoolExecutor``: ``initializer(*initargs)``
    runs once in each worker (and in each replacement; if it raises, that
    worker's calls fail saying so and the executor goes on);
    ``max_tasks_per_child``: a worker is replaced after that many calls;
    ``mp_context`` is accepted and not used (workers start from taskrunner's
    fork server, whatever the context).

    Raises ``ValueError`` for a bad option, ``BackendUnavailable`` for a
    backend that cannot be used, ``ResultsFileError`` for an unusable
    results file and ``WorkerError`` if the workers cannot start.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: Any = None,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        timeout: float | str | None = None,
        retries: int = 0,
        results: str | None = None,
        log_dir: str | None = None,
        backend: str = "local",
        scheduler: object = None,
    ) -> None:
        if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int)
                                        or max_workers < 1):
            raise ValueError(f"max_workers must be greater than 0 (an int), got {max_workers!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        # mp_context is accepted for ProcessPoolExecutor's signature: workers
        # always start from taskrunner's fork server (see the README).
        del mp_context
        setup = checked_setup(initializer, initargs, max_tasks_per_child)
        self._timeout = _seconds(timeout)
        self._retries = retries
        self._max_workers = max_workers or os.cpu_count() or 1  # (ProcessPoolExecutor's name, which code reads)
        self._ahead = MAP_AHEAD_PER_WORKER * self._max_workers
        if log_dir is not None:
            prepare_log_dir(log_dir)
        journal = CallJournal(results) if results is not None else None
        try:
            pool = open_backend(backend, self._max_workers, scheduler, setup=setup)
            self._loop = CallLoop(pool, journal, log_dir)
            self._loop.start()
        except BaseException:
            if journal is not None:
                journal.close()
            raise
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._shut_down = False
        self._maps: weakref.WeakSet[MapResults[Any]] = weakref.WeakSet()
        _live_loops.add(self._loop)
        _register_exit_hook()

    # -- concurrent.futures.Executor ----------------------------------------

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> futures.Future[_T]:
        """Schedule ``fn(*args, **kwargs)``; return its ``Future``.

        Raises ``RuntimeError`` after ``shutdown()``, ``TypeError`` if ``fn``
        is not callable. A function a worker could not import (a lambda, a
        closure, one of the calling script) travels by value.
        """
        return self._submit_many(fn, [(args, kwargs)])[0]

    def map(
        self, fn: Callable[..., _T], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1
    ) -> Iterator[_T]:
        """``fn`` over ``zip(*iterables)``, results in order, like ``Executor.map``.

        The iterables are read lazily, a bounded number of calls ahead of the
        result being yielded. The first call that failed raises its exception
        when its result is reached; leaving the loop early cancels the calls
        not started. ``timeout``: seconds from this call for the whole map
        (``TimeoutError``). ``chunksize`` is accepted for compatibility:
        calls already travel to workers in chunks sized by their duration.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        deadline = None if timeout is None else time.monotonic() + timeout
        results = MapResults(partial(self._submit_many, fn), zip(*iterables), self._ahead, deadline)
        self._maps.add(results)
        return results

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more calls; ``cancel_futures``: cancel those not started yet.
        ``wait``: return once every started call has ended and the workers
        have stopped (else they finish in the background). A ``map`` not
        read to its end first submits its remaining inputs (unless
        ``cancel_futures``), so its results can be read afterwards."""
        if not cancel_futures:
            for results in list(self._maps):
                results.flush()
        with self._lock:
            self._shut_down = True
        if cancel_futures:
            self._loop.cancel_queued()
        self._loop.finish()
        if wait:
            self._loop.join()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate()  # Ctrl-C: the user wants to stop, not to wait
            return None
        return super().__exit__(exc_type, exc, tb)

    # -- beyond concurrent.futures -------------------------------------------

    def terminate(self) -> None:
        """Cancel every call, running ones included (their futures get
        ``CancelledError``), stop the workers and wait for that."""
        with self._lock:
            self._shut_down = True
        self._loop.cancel_all()
        self._loop.join()

    @property
    def _processes(self) -> dict[int, Any]:
        """The live workers by pid, as ``ProcessPoolExecutor``'s attribute of
        that name (private there, but code that kills a stuck pool reads it)."""
        return self._loop.processes()

    def __del__(self) -> None:
        # Dropped without shutdown(): finish what was submitted, in the
        # background (as ProcessPoolExecutor does).
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.finish()

    # -- internals ------------------------------------------------------------

    def _submit_many(self, fn: Callable[..., _T], calls: Calls) -> list[futures.Future[_T]]:
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        name = getattr(fn, "__name__", "call")
        batch: list[tuple[futures.Future[Any], Any]] = []
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _exiting:  # (ProcessPoolExecutor's words: a call accepted now would never run)
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            if self._loop.error is not None:
                raise RuntimeError(f"the executor stopped: {self._loop.error}")
            # One template (and one shape: the function, timeout, retries) for
            # the batch's calls; each call fills in its name and arguments.
            template = job_template(name=name, call=fn, timeout=self._timeout, retries=self._retries)
            for args, kwargs in calls:
                values = dict(template)
                values["name"], values["args"], values["kwargs"] = f"{name}-{next(self._names)}", args, dict(kwargs)
                batch.append((futures.Future(), expanded_job((), values)))
            self._loop.put(batch)
        return [future for future, _ in batch]


def _seconds(timeout: float | str | None) -> float | None:
    """``timeout`` in seconds: a number > 0 or a duration such as ``"5m"``."""
    if timeout is None:
        return None
    try:
        return positive_number(timeout)
    except InvalidValue as problem:
        raise ValueError(f"timeout {problem}") from None


#: Executors' loops still running: ended at interpreter exit, before
#: multiprocessing's own exit hook would wait for their workers (a loop
#: outlives an executor dropped without shutdown until its calls are done).
_live_loops: weakref.WeakSet[CallLoop] = weakref.WeakSet()
_hook_registered = False
#: Set once the interpreter began to exit: no call is accepted after that.
_exiting = False


def _register_exit_hook() -> None:
    global _hook_registered
    if not _hook_registered:
        import multiprocessing.util  # noqa: F401 - its hook first, so ours runs before it

        # As ProcessPoolExecutor: at threading's shutdown, before any atexit
        # handler, so that one submitting a call is told no (RuntimeError).
        register = getattr(threading, "_register_atexit", None)
        try:
            (register or atexit.register)(_end_live_loops)
        except RuntimeError:  # the interpreter is shutting down already
            atexit.register(_end_live_loops)
        _hook_registered = True


def _end_live_loops() -> None:
    # A script ended by Ctrl-C (the traceback was printed, sys.last_value
    # set) wants its calls stopped; one that simply ended waits for them, as
    # with ProcessPoolExecutor.
    global _exiting
    _exiting = True
    interrupted = isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)
    for loop in list(_live_loops):
        if interrupted:
            loop.cancel_all()
        else:
            loop.finish()
        loop.join()
