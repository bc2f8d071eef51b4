"""What the local pool has in flight: pure bookkeeping, no processes.

Attempts are submitted one by one, travel in queue items (chunks of one or
more, in order) and come back one by one. The ledger knows, for every
attempt without an outcome yet, which item carries it, and for every item
in flight, which of its attempts are still pending; so the pool can queue
again what a dead worker never started, or give the unstarted rest of a
chunk to an idle worker, without running anything twice.

    >>> from taskrunner.model import Attempt, Job
    >>> ledger = Ledger()
    >>> for n in (1, 2, 3):
    ...     ledger.add(Attempt(n, Job(name=f"j{n}", run="true"), 1, "o", "e"), b"payload")
    >>> item_id, batch = ledger.seal_batch(now=0.0)
    >>> [attempt_id for attempt_id, _ in batch]
    [1, 2, 3]
    >>> ledger.settle(1).job.name
    'j1'
    >>> ledger.take_rest(item_id, start=1, stop=3)
    [2, 3]
"""

from __future__ import annotations

import itertools

from ...model import Attempt
from .chunks import Item

__all__ = ["Ledger"]


class Ledger:
    """Attempts without an outcome, the chunk being filled, and the queue items
    in flight."""

    def __init__(self) -> None:
        #: Attempt id -> attempt: submitted, no outcome yet.
        self.outstanding: dict[int, Attempt] = {}
        #: Submitted attempts not yet on the queue: the chunk being filled.
        self.batch: list[tuple[int, bytes]] = []
        #: Queue items in flight, and each pending attempt's item.
        self.items: dict[int, Item] = {}
        self._item_of: dict[int, int] = {}
        self._item_ids = itertools.count(1)

    def add(self, attempt: Attempt, payload: bytes) -> None:
        """An attempt submitted: it joins the chunk being filled."""
        self.outstanding[attempt.attempt_id] = attempt
        self.batch.append((attempt.attempt_id, payload))

    def seal_batch(self, now: float) -> tuple[int, list[tuple[int, bytes]]]:
        """The chunk being filled becomes a queue item: (item id, its entries)."""
        item_id = next(self._item_ids)
        order = [attempt_id for attempt_id, _ in self.batch]
        self.items[item_id] = Item(order, set(order), now)
        for attempt_id in order:
            self._item_of[attempt_id] = item_id
        batch, self.batch = self.batch, []
        return item_id, batch

    def settle(self, attempt_id: int) -> Attempt | None:
        """Forget an attempt that has its outcome; None if it already had one."""
        attempt = self.outstanding.pop(attempt_id, None)
        item_id = self._item_of.pop(attempt_id, None)
        entry = self.items.get(item_id) if item_id is not None else None
        if entry is not None:
            entry.pending.discard(attempt_id)
            if not entry.pending:
                del self.items[item_id]  # type: ignore[arg-type]
        return attempt

    def take_item(self, item_id: int) -> list[int]:
        """Take back a whole item (its worker died before starting the rest):
        its pending attempts, in order, to submit again."""
        entry = self.items.pop(item_id, None)
        taken = [] if entry is None else [a for a in entry.order if a in entry.pending]
        for attempt_id in taken:
            self._item_of.pop(attempt_id, None)
        return taken

    def take_rest(self, item_id: int, start: int, stop: int) -> list[int]:
        """Take back the attempts at positions ``start:stop`` of an item that
        are still pending (a worker will not start them), to submit again."""
        entry = self.items.get(item_id)
        if entry is None:
            return []
        taken = [a for a in entry.order[start:stop] if a in entry.pending]
        entry.pending.difference_update(taken)
        if not entry.pending:
            del self.items[item_id]
        for attempt_id in taken:
            self._item_of.pop(attempt_id, None)
        return taken

    def clear(self) -> None:
        """Forget everything (after a cancel recorded it all)."""
        self.outstanding.clear()
        self.batch.clear()
        self.items.clear()
        self._item_of.clear()
