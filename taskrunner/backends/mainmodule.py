"""The calling script and the workers: when they need it, and when not to run it.

multiprocessing makes every worker import the script that started the run
(as ``__mp_main__``), so a script without the ``if __name__ == "__main__":``
guard runs its body again in each worker. Workers only need the script when a
job's function is defined in it. So:

- ``functions_in_main(jobs)``: the jobs whose function lives in the script;
- ``hidden_main()``: while workers start, multiprocessing sees no script to
  import (the coordinator's ``__main__`` is swapped for an empty module for
  those microseconds), so scripts that run shell jobs or importable
  functions need no guard at all;
- ``check_guarded(jobs)``: when a job's function does live in the script and
  the run was started from the script's unguarded top level, refuse at once,
  with one line naming the guard, instead of a traceback from every worker.
"""

from __future__ import annotations

import ast
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

from ..model import Job

__all__ = ["check_guarded", "functions_in_main", "hidden_main", "started_unguarded"]


def functions_in_main(jobs: Sequence[Job]) -> list[Job]:
    """Jobs whose ``call`` is a function object defined in ``__main__``."""
    return [job for job in jobs if callable(job.call) and getattr(job.call, "__module__", None) == "__main__"]


@contextmanager
def hidden_main() -> Iterator[None]:
    """Start processes inside this block to keep them from importing ``__main__``."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to import
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def started_unguarded() -> bool:
    """True when the code running now was reached from the top level of the
    ``__main__`` script outside an ``if __name__ == "__main__":`` block."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not isinstance(path, str):
        return False  # an interactive session or a notebook: nothing to re-run
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            return not any(start <= frame.f_lineno <= end for start, end in _guarded_lines(path))
        frame = frame.f_back  # type: ignore[assignment]
    return False


@lru_cache(maxsize=8)
def _guarded_lines(path: str) -> tuple[tuple[int, int], ...]:
    """(first, last) line of each top-level ``if __name__ == "__main__":``."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError):
        return ((1, sys.maxsize),)  # cannot tell: assume guarded
    spans = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            spans.append((node.lineno, node.end_lineno or node.lineno))
    return tuple(spans)


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [side for side in sides if isinstance(side, ast.Name) and side.id == "__name__"]
    mains = [side for side in sides if isinstance(side, ast.Constant) and side.value == "__main__"]
    return bool(names and mains)


def check_guarded(jobs: Sequence[Job]) -> None:
    """Raise ``ValueError`` (one line) if a job's function lives in the script
    and the run was started from its unguarded top level."""
    needing = functions_in_main(jobs)
    if needing and started_unguarded():
        job = needing[0]
        raise ValueError(
            f"job {job.name!r} calls {getattr(job.call, '__qualname__', job.call)}, defined in the script "
            f"{getattr(sys.modules['__main__'], '__file__', '?')}: workers import the script to find it, "
            'so start the run under `if __name__ == "__main__":` (or move the function into a module)'
        )
