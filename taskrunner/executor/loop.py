"""The coordinator thread behind an ``Executor``: calls in, futures settled.

Data flow (``ProcessPoolExecutor``'s manager thread, on taskrunner's engine)::

    submit() ──(future, Job)──▶ incoming deque ──▶ CallLoop thread ──Attempt──▶ Backend (LocalPool: the
        │        wake-up pipe ─────────────────────▶ (poll wakes)                JoinableQueue of workers)
        ▼                                                 ▲                              │
    Future ◀── set_result / set_exception ◀── (attempt_id, JobResult) ◀── poll() ◀───────┘
                                                          └──▶ CallJournal (results file), if any

Only this thread touches the backend. A user's thread only appends to the
deque and writes one byte to the wake-up pipe (when the loop may be asleep),
so ``submit()`` never waits for a worker. A future becomes *running* when its
attempt is handed to the backend; until then ``cancel()`` works. An attempt
that fails, times out or crashes is tried again while the call has retries
left; then its future fails with what ``callvalue.failure_of`` says.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections import deque
from concurrent.futures import CancelledError, Future
from typing import Any

from ..backends.backend import Backend
from ..engine.sendable import unsendable_result
from ..execution.callvalue import outcome_of
from ..model import FAILURES, Attempt, Job, JobResult
from ..owner import Owner
from ..paths import log_paths
from .calljournal import CallJournal

__all__ = ["CallLoop"]

log = logging.getLogger("taskrunner.executor")

#: Longest sleep of a backend that cannot watch the wake-up pipe (Dask): how
#: late a call submitted to an idle executor may start there.
IDLE_POLL = 0.01


class _Call:
    """One submitted call: its future, its job, how many attempts it had and
    each one's ``(started, finished, worker, status)``, as a run records them."""

    __slots__ = ("future", "history", "job", "tries")

    def __init__(self, future: Future[Any], job: Job) -> None:
        self.future, self.job, self.tries = future, job, 0
        self.history: tuple[tuple[float, float, str, str], ...] = ()


class CallLoop:
    """Runs submitted calls on ``backend`` from a thread of its own.

    ``start()`` enters the backend (workers start) in the caller's thread, so
    a pool that cannot start raises there; then the thread runs until
    ``finish()`` was asked and nothing is left, or ``cancel_all()``.
    ``journal``: where final results are recorded (None: nowhere).
    ``log_dir``: where each call's output goes (None: where the workers' goes).
    """

    def __init__(self, backend: Backend, journal: CallJournal | None = None, log_dir: str | None = None) -> None:
        self._backend = backend
        self._journal = journal
        self._log_dir = os.path.abspath(log_dir) if log_dir is not None else None
        self._incoming: deque[_Call] = deque()
        self._running: dict[int, _Call] = {}
        self._attempt_ids = itertools.count(1)
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._owner = Owner()
        self._woken = False
        self._finishing = False
        self._cancelling = False
        self._cancel_queued = False
        self._watched = False
        self._thread = threading.Thread(target=self._main, name="taskrunner-executor", daemon=True)
        #: What stopped the loop, if it stopped on an error (the executor is then broken).
        self.error: BaseException | None = None

    # -- the caller's side (any thread) ---------------------------------------

    def start(self) -> None:
        """Start the backend here, then the loop's thread."""
        self._backend.__enter__()
        start_workers = getattr(self._backend, "start_workers", None)
        if start_workers is not None:  # (ready at once, as CPython's are after the first submit)
            start_workers()
        watch = getattr(self._backend, "watch", None)
        if watch is not None:
            watch(self._wake_read)
            self._watched = True
        self._thread.start()

    def put(self, calls: list[tuple[Future[Any], Job]]) -> None:
        """Queue calls to run (thread-safe; the loop wakes at once)."""
        self._incoming.extend(_Call(future, job) for future, job in calls)
        self._wake()

    def finish(self) -> None:
        """Run what was submitted, then stop the workers and end the thread."""
        self._finishing = True
        self._wake()

    def cancel_all(self) -> None:
        """Cancel every call, running ones included (the loop cancels the
        queued ones as it stops), then stop (``finish`` at once)."""
        self._cancelling = self._finishing = True
        self._wake()

    def cancel_queued(self) -> None:
        """Cancel the futures of the calls not handed to the workers yet. The
        loop does it, after handing out what the workers have room for, as
        ``ProcessPoolExecutor``'s manager thread does: calls submitted just
        before ``shutdown(cancel_futures=True)`` are not all cancelled merely
        because the loop had not woken yet."""
        self._cancel_queued = True
        self._wake()

    def processes(self) -> dict[int, Any]:
        """The backend's live worker processes by pid (none for Dask)."""
        processes = getattr(self._backend, "processes", None)
        return processes() if processes is not None else {}

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after ``finish`` or ``cancel_all``)."""
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _wake(self) -> None:
        # One byte per sleep, not per call (see _main for why none is missed).
        # A child forked from the caller leaves the parent's loop alone.
        if not self._woken and self._owner.here:
            self._woken = True
            try:
                os.write(self._wake_write, b"\0")
            except (BlockingIOError, OSError):
                pass  # full (it wakes anyway) or closed (the loop has ended)

    # -- the loop's thread ------------------------------------------------------

    def _main(self) -> None:
        try:
            while not self._cancelling:
                # Drain, then clear: a call queued before the clear is seen by
                # the dispatch below, one queued after it writes a new byte.
                self._drain_wakeups()
                self._woken = False
                self._dispatch()
                if self._cancel_queued:
                    for call in self._incoming:
                        call.future.cancel()
                if self._finishing and not self._incoming and not self._running:
                    break
                self._settle(self._backend.poll(None if self._watched else IDLE_POLL))
        except BaseException as error:
            log.exception("executor loop stopped")
            self.error = error
        finally:
            self._stop()

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def _dispatch(self) -> None:
        room = self._backend.capacity()
        while room > 0 and self._incoming:
            call = self._incoming.popleft()
            if call.tries == 0 and not call.future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            call.tries += 1
            attempt = self._attempt(call)
            try:
                self._backend.submit(attempt)
            except BaseException as error:  # noqa: BLE001 - whatever pickling raised (sys.exit() too) goes to the future
                # As ProcessPoolExecutor does: the future gets the pickling
                # error, whatever its type, and the executor goes on.
                if self._journal is not None:
                    self._journal.write_all([(call.job, unsendable_result(attempt, error))])
                call.future.set_exception(error)
                continue
            self._running[attempt.attempt_id] = call
            room -= 1

    def _attempt(self, call: _Call) -> Attempt:
        job = call.job
        logs = ("", "") if self._log_dir is None else log_paths(self._log_dir, job.name)
        return Attempt(next(self._attempt_ids), job, call.tries, *logs, keep_value=True,
                       measure_memory=self._journal is not None)

    def _settle(self, outcomes: list[tuple[int, JobResult]]) -> None:
        finals: list[tuple[_Call, JobResult]] = []
        for attempt_id, result in outcomes:
            call = self._running.pop(attempt_id)
            if result.started is not None and result.finished is not None:
                call.history += ((result.started, result.finished, result.worker or "?", result.status.value),)
            if result.status in FAILURES and call.tries <= call.job.retries and not self._cancelling:
                self._incoming.appendleft(call)  # tried again before new calls
                continue
            if result.history != call.history or result.attempts != call.tries:
                result = result.evolve(history=call.history, attempts=call.tries)
            finals.append((call, result))
        if self._journal is not None and finals:
            self._journal.write_all([(call.job, result) for call, result in finals])
        for call, result in finals:
            try:
                call.future.set_result(outcome_of(result))
            except BaseException as error:  # noqa: BLE001 - what the future raises
                call.future.set_exception(error)

    def _stop(self) -> None:
        """Cancel what is left, stop the backend, close the results file."""
        try:
            if self._running:
                self._settle(self._backend.cancel())
        except BaseException as error:  # noqa: BLE001
            self.error = self.error or error
        finally:
            failure = self.error or CancelledError("the executor was shut down")
            for call in [*self._running.values(), *self._incoming]:
                if not call.future.cancel() and not call.future.done():
                    call.future.set_exception(failure)
            self._running.clear()
            self._incoming.clear()
            try:
                self._backend.__exit__(None, None, None)
            finally:
                if self._journal is not None:
                    self._journal.close()

    def __del__(self) -> None:
        # Not closed when the thread ends: a late wake-up must never write
        # to a descriptor number the process has since given to another file.
        for fd in (self._wake_read, self._wake_write):
            try:
                os.close(fd)
            except OSError:
                pass
