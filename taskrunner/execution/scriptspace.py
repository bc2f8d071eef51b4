"""One namespace per worker for the calling script's functions.

Functions of the calling script travel by value (``backends/sending``), and
cloudpickle gives each one it loads a fresh dict of globals: an
``initializer`` that sets ``global model`` would set it in a dict no call
ever reads. ``ProcessPoolExecutor`` users rely on exactly that pattern, so
each worker keeps one namespace for the script, as a worker that imported it
would have: every script function it loads is rebound to it, and the values
a function brings are added only where the worker has no value of that name
yet (so what the initializer set is not reset by the next call's copy).

    >>> import pickle, cloudpickle
    >>> exec("def setter(): global seen; seen = 1\\ndef getter(): return seen", space := {"__name__": "__main__"})
    >>> setter, getter = (pickle.loads(cloudpickle.dumps(space[n])) for n in ("setter", "getter"))
    >>> in_script_space(setter)(); in_script_space(getter)()
    1
"""

from __future__ import annotations

import sys
import types
import weakref
from typing import Any, TypeVar

__all__ = ["in_script_space"]

_F = TypeVar("_F")

#: This worker's namespace of the calling script.
_SCRIPT_GLOBALS: dict[str, Any] = {"__name__": "__main__"}


#: Each script function loaded, adopted (a function sent once is called many times).
_ADOPTED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def in_script_space(function: _F) -> _F:
    """``function`` bound to this process's script namespace, if it is a
    script function that came by value; otherwise ``function`` itself."""
    if not _came_by_value(function):
        return function
    adopted: _F | None = _ADOPTED.get(function)
    if adopted is None:
        adopted = _ADOPTED[function] = _adopt(function, {})
    return adopted


def _came_by_value(value: Any) -> bool:
    main = sys.modules.get("__main__")
    return (isinstance(value, types.FunctionType) and value.__module__ == "__main__"
            and value.__globals__ is not _SCRIPT_GLOBALS
            and (main is None or value.__globals__ is not main.__dict__))


def _adopt(function: Any, done: dict[int, Any]) -> Any:
    if id(function) in done:
        return done[id(function)]
    adopted = types.FunctionType(function.__code__, _SCRIPT_GLOBALS, function.__name__, function.__defaults__,
                                 function.__closure__)
    adopted.__kwdefaults__ = function.__kwdefaults__
    adopted.__qualname__ = function.__qualname__
    adopted.__dict__.update(function.__dict__)
    done[id(function)] = adopted
    for name, value in list(function.__globals__.items()):
        if name not in _SCRIPT_GLOBALS:
            # The script's other functions it refers to share the namespace too.
            _SCRIPT_GLOBALS[name] = _adopt(value, done) if _came_by_value(value) else value
    return adopted
