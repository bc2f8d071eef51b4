"""What ``Executor.map`` returns: results in input order, inputs read lazily.

``ProcessPoolExecutor.map`` turns its whole input into futures before it
returns; a generator of a million items becomes a million futures. Here the
iterator keeps a bounded window of submitted calls ahead of the result it
yields and tops it up as results are taken. Two things stay as
``concurrent.futures`` users know them: the first window is submitted when
``map()`` is called (so a shut-down executor raises there), and results can
still be taken *after* the ``with`` block: shutting the executor down first
submits every remaining input (``flush``), as the eager map would have.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from typing import Any, TypeVar

__all__ = ["Calls", "MapResults"]

_T = TypeVar("_T")

#: ``(args, kwargs)`` of each call to submit.
Calls = list[tuple[tuple[Any, ...], dict[str, Any]]]


class MapResults(Iterator[_T]):
    """Results of ``fn`` over ``arguments`` in order, ``ahead`` calls submitted ahead.

    ``submit(calls)`` submits calls and returns their futures (it raises
    ``RuntimeError`` once the executor is shut down). ``deadline``: the
    ``time.monotonic()`` by which every result must be there
    (``TimeoutError``). A call's exception is raised when its result is
    reached, and ends the iteration; so does ``close()``, which cancels the
    calls not started.
    """

    def __init__(
        self, submit: Callable[[Calls], list[Future[_T]]], arguments: Iterator[tuple[Any, ...]], ahead: int,
        deadline: float | None,
    ) -> None:
        self._submit, self._arguments, self._ahead, self._deadline = submit, arguments, ahead, deadline
        self._window: deque[Future[_T]] = deque()
        self._more = True  # inputs may remain
        self._cut_short = False  # the executor shut down (cancelling) before every input was submitted
        self._top_up(ahead)

    def __next__(self) -> _T:
        if self._more and len(self._window) <= self._ahead // 2:
            try:
                self._top_up(self._ahead - len(self._window))
            except RuntimeError:  # shut down with cancel_futures: the rest never ran
                self._more, self._cut_short = False, True
        if not self._window:
            if self._cut_short:
                self._cut_short = False
                raise CancelledError("the executor was shut down before this call was submitted")
            raise StopIteration
        future = self._window.popleft()
        try:
            return future.result(None if self._deadline is None else self._deadline - time.monotonic())
        except BaseException:
            self.close()  # as a generator ends on its exception
            raise
        finally:
            future.cancel()  # a no-op once it is done; stops it when we gave up waiting

    def flush(self) -> None:
        """Submit every remaining input now (the executor is about to shut down)."""
        if self._more:
            self._top_up(None)

    def close(self) -> None:
        """End the iteration; cancel the submitted calls not started yet."""
        self._more = self._cut_short = False
        for future in self._window:
            future.cancel()
        self._window.clear()

    def __del__(self) -> None:
        self.close()

    def _top_up(self, count: int | None) -> None:
        calls: Calls = [(args, {}) for args in itertools.islice(self._arguments, count)]
        if count is None or len(calls) < count:
            self._more = False
        if calls:
            self._window.extend(self._submit(calls))
