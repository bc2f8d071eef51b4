"""What travels to a worker: pickled by reference where that works, by value
(cloudpickle) where it cannot.

A function of a module pickles as its name, and the worker imports it. A
lambda, a closure, or a function (or class) of the calling script, a
notebook or the REPL has no name a worker could import: plain pickle refuses
the first ones and writes ``__main__.name`` for the others, which the
worker's ``__main__`` does not have. Those travel by value: cloudpickle
writes their code and what they refer to, and the worker loads them with
plain ``pickle.loads``. So workers never import the calling script.

    >>> import pickle
    >>> pickle.loads(dumps(lambda x: x + 1))(1)
    2
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = ["by_value", "dumps"]

#: How a reference to the calling script looks in a pickle (a global's module).
_MAIN = b"__main__"


def dumps(value: Any) -> bytes:
    """``value`` pickled for a worker: plainly, unless that fails or refers
    to ``__main__`` (then by value). Raises what pickling raised when even
    by value it cannot travel (a lock, an open file)."""
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - any refusal: a lambda, a local function
        return by_value(value)
    return by_value(value) if _MAIN in payload else payload


def by_value(value: Any) -> bytes:
    """``value`` pickled with cloudpickle (functions and classes by value)."""
    import cloudpickle  # only when needed: it costs an import

    payload: bytes = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return payload
