"""Functions the benchmarks call in workers (importable, module level)."""

from __future__ import annotations

import time


def noop(value: int) -> int:
    """The trivial call of the Python-calls workload."""
    return value


def burn(seconds: float) -> int:
    """Pure-Python CPU work for about ``seconds``."""
    end = time.process_time() + seconds
    count = 0
    while time.process_time() < end:
        count += 1
    return count
