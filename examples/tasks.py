"""Functions the example job file calls (``call: examples.tasks:NAME``)."""

from __future__ import annotations

import hashlib
import time


def fib(n: int) -> int:
    """The n-th Fibonacci number, computed the slow way on purpose (CPU work)."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def checksum(text: str, rounds: int = 1000) -> str:
    """A SHA-256 of ``text`` applied ``rounds`` times."""
    digest = text.encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


def nap(seconds: float) -> float:
    """Sleep and return how long it took."""
    start = time.monotonic()
    time.sleep(seconds)
    return round(time.monotonic() - start, 3)
