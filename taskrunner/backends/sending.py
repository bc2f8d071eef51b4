"""What travels to a worker: pickled by reference where that works, by value
(cloudpickle) where it cannot.

A function of a module pickles as its name, and the worker imports it. A
lambda, a closure, or a function (or class) of the calling script, a
notebook or the REPL has no name a worker could import: plain pickle refuses
the first ones and writes ``__main__.name`` for the others, which the
worker's ``__main__`` does not have. Those travel by value: cloudpickle
writes their code and what they refer to, and the worker loads them with
plain ``pickle.loads``. So workers never import the calling script. A
script's function or class (not a closure) is written once and sent as those
bytes with each call; a worker loads it once.

    >>> import pickle
    >>> pickle.loads(dumps(lambda x: x + 1))(1)
    2
"""

from __future__ import annotations

import io
import pickle
import types
import weakref
from typing import Any

__all__ = ["by_value", "dumps"]

#: How a reference to the calling script looks in a pickle (a global's module).
_MAIN = b"__main__"


def dumps(value: Any, of_script: bool = False) -> bytes:
    """``value`` pickled for a worker: plainly, unless that fails or refers
    to ``__main__`` (then the script's functions and classes by value;
    ``of_script``: the caller knows it does, so plain pickling is not tried).
    Raises what pickling raised when even by value it cannot travel (a
    lock, an open file)."""
    if not of_script:
        try:
            payload: bytes | None = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - any refusal: a lambda, a local function
            payload = None
        if payload is not None and _MAIN not in payload:
            return payload
    try:
        return _with_script_values(value)
    except Exception:  # noqa: BLE001 - what only cloudpickle can write (a closure): it all goes by value
        return by_value(value)


def by_value(value: Any) -> bytes:
    """``value`` pickled with cloudpickle (functions and classes by value)."""
    import cloudpickle  # only when needed: it costs an import

    payload: bytes = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return payload


# A script's function called a million times (``Executor.map``) is written
# by value once, not once a call (cloudpickle: some 45 µs of the
# coordinator's time a call), and each worker loads it once: its calls
# carry the same bytes, which a worker knows again.

#: The bytes of each script function or class written so far (dropped with it).
_WRITTEN: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


class _ScriptPickler(pickle.Pickler):
    """Plain pickling, with the script's functions and classes as their
    bytes by value (written once). A closure is not among them: what its
    cells hold may change between calls."""

    def reducer_override(self, obj: Any) -> Any:
        if getattr(obj, "__module__", None) != "__main__" or not (
            type(obj) is types.FunctionType and obj.__closure__ is None or isinstance(obj, type)
        ):
            return NotImplemented
        written = _WRITTEN.get(obj)
        if written is None:
            written = _WRITTEN[obj] = by_value(obj)
        return script_value, (written,)


def _with_script_values(value: Any) -> bytes:
    buffer = io.BytesIO()
    _ScriptPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


#: In a worker: what each script value's bytes loaded as (bounded: a run may send many lambdas).
_LOADED: dict[bytes, Any] = {}
_LOADED_KEPT = 256


def script_value(written: bytes) -> Any:
    """In a worker: the script function or class ``written`` by value, loaded once."""
    loaded = _LOADED.get(written)
    if loaded is None:
        if len(_LOADED) >= _LOADED_KEPT:
            _LOADED.clear()
        loaded = _LOADED[written] = pickle.loads(written)
    return loaded
