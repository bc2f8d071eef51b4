"""How many attempts travel in one queue item.

    >>> ChunkSizer().size
    1
"""

from __future__ import annotations

import dataclasses

__all__ = [
    "CHUNK_SECONDS", "COLLECT_EVERY", "DECIDE_LATE_SECONDS", "MAX_CHUNK", "TAKE_REST_AFTER", "ChunkSizer", "Item",
]

#: Work one queue item should hold, and the most attempts it may hold.
CHUNK_SECONDS = 0.01
MAX_CHUNK = 512
#: Attempts seen before chunks grow past one attempt.
MIN_SAMPLES = 10
#: Attempts that take this long or longer are handed to a worker only when
#: it is free, so the choice among ready jobs (priority, critical path,
#: resources) is made at the last moment; shorter ones are queued ahead (a
#: round trip per job would cost more than the choice is worth).
DECIDE_LATE_SECONDS = 0.01
#: An attempt running this much longer than its chunk was meant to take
#: holds up the rest of that chunk: an idle worker then takes the rest.
TAKE_REST_AFTER = 3 * CHUNK_SECONDS
#: While the workers have work queued ahead (``ChunkSizer.queued_ahead``),
#: the coordinator collects results at most this often, several at once:
#: woken by each result of millisecond jobs, its wake-up, journal write and
#: queue item per job took a third of a core from two workers.
COLLECT_EVERY = CHUNK_SECONDS / 2


@dataclasses.dataclass
class Item:
    """A queue item in flight: its attempts in order, those still without an
    outcome, and when it was queued."""

    order: list[int]
    pending: set[int]
    queued_at: float


class ChunkSizer:
    """How many attempts to put in one queue item (joblib's auto-batching idea).

    Each queue item costs a ``put()``, a ``get()`` and a ``task_done()``, each
    taking shared locks. A chunk holds about CHUNK_SECONDS of work, judged by
    the mean duration of recent attempts, so that cost vanishes for tiny jobs
    while jobs of a few milliseconds or more still travel one by one, keeping
    the load balanced. Results still come back one per attempt.

    >>> sizer = ChunkSizer()
    >>> sizer.size
    1
    >>> for _ in range(50):
    ...     sizer.observe(0.0001)
    >>> sizer.size
    100
    """

    def __init__(self) -> None:
        self.size = 1
        self._mean: float | None = None
        self._seen = 0
        self._collected_at = 0.0

    @property
    def decide_late(self) -> bool:
        """Whether attempts wait for a free worker (long ones, or none seen yet)."""
        return self._mean is None or self._mean >= DECIDE_LATE_SECONDS

    def ahead(self, workers: int) -> int:
        """How many attempts ``workers`` workers should have queued or running:
        one each for long attempts, two chunks each for short ones."""
        return workers if self.decide_late else 2 * workers * self.size

    def queued_ahead(self, outstanding: int, workers: int) -> bool:
        """Whether ``outstanding`` short attempts (submitted, no outcome) are
        enough for every worker to have a chunk's work beyond one attempt:
        no worker runs dry if results wait COLLECT_EVERY to be collected.

        >>> sizer = ChunkSizer()
        >>> for _ in range(50):
        ...     sizer.observe(0.001)
        >>> sizer.size, sizer.queued_ahead(22, workers=2), sizer.queued_ahead(21, workers=2)
        (10, True, False)
        """
        return not self.decide_late and outstanding >= workers * (self.size + 1)

    def gather_time(self, outstanding: int, workers: int, now: float) -> float:
        """Seconds to let results gather before collecting them at ``now``
        (``time.monotonic()``): what is left of COLLECT_EVERY since the last
        collection while the workers have work queued ahead; else 0 (collect
        each result as it comes).

        >>> sizer = ChunkSizer()
        >>> for _ in range(50):
        ...     sizer.observe(0.001)
        >>> sizer.collected(10.0)
        >>> round(sizer.gather_time(40, workers=2, now=10.002), 6), sizer.gather_time(21, workers=2, now=10.002)
        (0.003, 0.0)
        """
        if not self.queued_ahead(outstanding, workers):
            return 0.0
        return self._collected_at + COLLECT_EVERY - now

    def collected(self, now: float) -> None:
        """Results were collected at ``now`` (``time.monotonic()``)."""
        self._collected_at = now

    def observe(self, duration: float) -> None:
        """Account for one finished attempt that ran ``duration`` seconds.

        The estimate jumps up at once on a slow attempt and decays slowly on
        fast ones: a chunk too big holds jobs back, one too small only costs
        a little overhead.
        """
        if self._mean is None or duration > self._mean:
            self._mean = duration
        else:
            self._mean = 0.9 * self._mean + 0.1 * duration
        self._seen += 1
        if self._seen >= MIN_SAMPLES:
            # Not on the first few: two quick jobs at the start of a run of long
            # ones would put long ones in one chunk, one behind the other,
            # while a later job in file order took the free worker.
            self.size = max(1, min(MAX_CHUNK, round(CHUNK_SECONDS / max(self._mean, 1e-6))))
