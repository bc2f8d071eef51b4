"""The pool's two queues, made so that a worker's death cannot break them.

``TaskQueue``, a JoinableQueue the coordinator can trust when workers die:

A JoinableQueue shares one Condition among all processes: ``put()``,
``task_done()`` and ``join()`` take its lock. A worker killed inside
``task_done()`` leaves that lock taken forever, and the coordinator's next
``put()`` would hang. Here the Condition is built on a plain ``Lock`` (which,
unlike the default ``RLock``, any process may release on a dead holder's
behalf), and the coordinator-side calls wait for it with a timeout, calling
``on_stuck`` each time it expires so the owner can reap dead workers and
repair the lock. The bodies are CPython's own (3.10-3.13), only the lock
acquisition differs.

``ResultQueue``, the SimpleQueue results come back on.

Both carry their messages over a packet pipe (see ``packetpipe``), so a
worker killed while it reads or writes one never leaves a torn message behind.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.queues import JoinableQueue, SimpleQueue
from multiprocessing.reduction import ForkingPickler as _ForkingPickler
from queue import Full
from typing import Any

from .packetpipe import PacketConnection, packet_pipe

__all__ = ["ResultQueue", "TaskQueue"]

def _use_packet_pipe(queue: Any, spool_dir: str) -> None:
    """Swap the pipe a freshly made multiprocessing queue got for a packet pipe."""
    queue._reader.close()
    queue._writer.close()
    queue._reader, queue._writer = packet_pipe(spool_dir)


#: Live processes hold the condition's lock for microseconds.
STUCK_AFTER = 0.5


class TaskQueue(JoinableQueue):  # type: ignore[type-arg]
    """A ``multiprocessing.JoinableQueue`` whose lock a dead worker cannot wedge.

    ``on_stuck`` (coordinator side only; it is not sent to workers) is called
    whenever the shared lock stays taken for ``STUCK_AFTER`` seconds.
    """

    on_stuck: Callable[[], None] | None = None
    # CPython's private state, declared for type checkers.
    _closed: bool
    _sem: Any
    _notempty: Any
    _thread: Any
    _buffer: Any
    _cond: Any
    _rlock: Any
    _reader: Any
    _writer: Any
    _reset: Callable[[], None]
    _unfinished_tasks: Any

    def __init__(self, *, ctx: Any, spool_dir: str) -> None:
        super().__init__(ctx=ctx)
        self._cond = ctx.Condition(ctx.Lock())
        _use_packet_pipe(self, spool_dir)
        self._reset()  # rebinds the send/receive methods to the new pipe

    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        while not self._cond.acquire(timeout=STUCK_AFTER):
            if self.on_stuck is not None:
                self.on_stuck()
        try:
            yield
        finally:
            self._cond.release()

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")
        if not self._sem.acquire(block, timeout):
            raise Full
        with self._notempty, self._shared_lock():
            if self._thread is None:
                self._start_thread()  # type: ignore[attr-defined]
            self._buffer.append(obj)
            self._unfinished_tasks.release()
            self._notempty.notify()

    def task_done(self) -> None:
        with self._shared_lock():
            if not self._unfinished_tasks.acquire(False):
                raise ValueError("task_done() called too many times")
            if self._unfinished_tasks._semlock._is_zero():
                self._cond.notify_all()

    def join(self) -> None:
        with self._shared_lock():
            if not self._unfinished_tasks._semlock._is_zero():
                self._cond.wait()

    def unfinished(self) -> int:
        """How many ``put()`` items still lack their ``task_done()``."""
        return int(self._unfinished_tasks.get_value())

    @property
    def reader(self) -> Any:
        """The read end, to wait on until an item may be there."""
        return self._reader

    def locks(self) -> list[Any]:
        """The locks a process could die holding, in the order to check them:
        the shared Condition's (put, task_done, join), then the read lock (get)."""
        return [self._cond, self._rlock]


class ResultQueue(SimpleQueue):  # type: ignore[type-arg]
    """A ``multiprocessing.SimpleQueue`` over a packet pipe.

    A SimpleQueue, as ProcessPoolExecutor uses for results: its ``put()``
    writes synchronously, so a result is in the pipe before the worker moves
    on (a Queue's feeder thread would lose it if the worker died during its
    next job).
    """

    _reader: Any
    _writer: Any
    _poll: Any
    _rlock: Any
    _wlock: Any

    def __init__(self, *, ctx: Any, spool_dir: str) -> None:
        super().__init__(ctx=ctx)
        _use_packet_pipe(self, spool_dir)
        self._poll = self._reader.poll
        if isinstance(self._writer, PacketConnection):
            # Every message is one atomic write: concurrent writers cannot
            # interleave, so the write lock (a semaphore round-trip per
            # result, and one more lock a dying worker could leave taken)
            # is not needed.
            self._wlock = None

    def put(self, obj: Any) -> None:
        """Send ``obj`` at once (a worker's result). Over a packet pipe it is
        pickled plainly: a result holds no connection or file descriptor (the
        values it carries are pickled already), and ``ForkingPickler``, its
        buffer and ``send_bytes``' checks cost more than pickling it."""
        if isinstance(self._writer, PacketConnection):
            self._writer.send_message(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))
        else:
            super().put(obj)

    def fileno(self) -> int:
        """The read end's file descriptor, to poll for results."""
        return int(self._reader.fileno())

    def locks(self) -> list[Any]:
        """The locks a process could die holding (none over a packet pipe)."""
        return [] if self._wlock is None else [self._wlock]

    def get_ready(self) -> list[Any]:
        """Every result already sent, without waiting. Only the coordinator
        reads this queue, so no read lock is taken, and over a packet pipe
        no poll is needed between reads (a system call per result saved)."""
        if isinstance(self._reader, PacketConnection):
            return [_ForkingPickler.loads(message) for message in self._reader.recv_ready()]
        ready = []
        while self._poll(0):
            ready.append(_ForkingPickler.loads(self._reader.recv_bytes()))
        return ready
