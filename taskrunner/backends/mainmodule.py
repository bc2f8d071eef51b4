"""Workers never import the calling script.

multiprocessing makes every worker import the script that started the run
(as ``__mp_main__``), so a script without the ``if __name__ == "__main__":``
guard would run its body again in each worker. Workers never need it: a
function or class of the script travels by value (see ``sending``). So
``hidden_main()`` keeps multiprocessing from seeing a script to import while
workers start (the coordinator's ``__main__`` is swapped for an empty module
for those microseconds): a script needs no guard, whatever its jobs call.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["hidden_main"]


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
