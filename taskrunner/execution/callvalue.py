"""A call's outcome as it travels back: its JSON record, or the Python value itself.

A run records a call's return value as JSON (``recordable``); an
``Executor`` future must give back the value itself, and the exception
itself when the call raised. Both travel pickled *inside* the result
(``JobResult.value`` holds the bytes), so a value that does not pickle is
the call's failure, found in the worker, and one that does not unpickle is
found here, by the one future it belongs to, instead of breaking the result
stream every other call shares.

    >>> from taskrunner.model import JobResult, Status
    >>> status, value, error = packed_value([1, 2])
    >>> outcome_of(JobResult("a", status, value=value, error=error))
    [1, 2]
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from concurrent import futures
from concurrent.futures.process import _RemoteTraceback
from typing import Any

from ..errors import JobFailed, WorkerCrashed
from ..model import JobResult, Status

__all__ = ["MAX_VALUE_BYTES", "CallTimeout", "RemoteTraceback", "failure_of", "outcome_of", "packed_exception", "packed_value", "recordable"]

#: A return value larger than this as JSON is not recorded.
MAX_VALUE_BYTES = 1 << 20


if sys.version_info >= (3, 11):
    CallTimeout = TimeoutError
else:

    class CallTimeout(futures.TimeoutError, TimeoutError):
        """A call past its timeout. Before Python 3.11 ``concurrent.futures.TimeoutError``
        is not the built-in one: this is both, so either ``except`` catches it."""


#: The worker's traceback text, as the ``__cause__`` of a call's exception:
#: ``ProcessPoolExecutor``'s own class (its ``tb`` is the text, and printing
#: the exception shows where in the worker it was raised), so code written
#: for it that looks at the cause keeps working.
RemoteTraceback = _RemoteTraceback


def packed_value(value: Any) -> tuple[Status, bytes | None, str | None]:
    """(status, pickled value, error) of a call that returned ``value``."""
    try:
        return Status.OK, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), None
    except BaseException as error:  # noqa: BLE001 - any pickling failure (sys.exit() in a __reduce__ too) is the call's
        # The pickling error itself travels back, as ProcessPoolExecutor sends it.
        return (Status.FAILED, packed_exception(error),
                f"the return value cannot be sent back: {type(error).__name__}: {error}")


def packed_exception(error: BaseException) -> bytes | None:
    """The pickled exception; None if it does not pickle (the caller then gets
    ``JobFailed`` with the text, as for one that does not load: see ``failure_of``)."""
    try:
        return pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - any pickling failure
        return None


def outcome_of(result: JobResult) -> Any:
    """The call's return value; raises what its future should raise."""
    if result.status is Status.OK:
        try:
            return pickle.loads(result.value)
        except Exception as error:  # e.g. a class the caller cannot import
            raise error from JobFailed("the return value cannot be loaded")  # its own type, as it was raised
    raise failure_of(result)


def failure_of(result: JobResult) -> BaseException:
    """The exception a future gets for a result that is not ``ok``."""
    text = result.error or result.status.value
    if result.status is Status.TIMEOUT:
        return CallTimeout(text)
    if result.status is Status.CRASHED:
        return WorkerCrashed(text)
    if result.status is Status.CANCELLED:
        return futures.CancelledError(text)
    if isinstance(result.value, bytes):
        try:
            error = pickle.loads(result.value)
        except Exception:  # noqa: BLE001 - e.g. an __init__ wanting other arguments than its args
            return JobFailed(text)
        if isinstance(error, BaseException):
            error.__cause__ = RemoteTraceback(text)  # type: ignore[arg-type]  # (typeshed says TracebackType; the stdlib passes the text)
            return error
    return JobFailed(text)


#: Scalars that JSON holds exactly as they are: ints of 64 bits, short
#: strings (at most 6 bytes of JSON a character), finite floats.
_LARGEST_PLAIN_INT = 1 << 63
_LONGEST_PLAIN_TEXT = MAX_VALUE_BYTES // 6 - 2


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return bool(-_LARGEST_PLAIN_INT < value < _LARGEST_PLAIN_INT)
    if kind is str:
        return len(value) <= _LONGEST_PLAIN_TEXT
    if kind is float:
        return math.isfinite(value)
    return value is None or kind is bool


def recordable(value: Any) -> tuple[Status, None, Any, str | None]:
    """The value as the results file will hold it: JSON as is, else its repr.

    >>> recordable((1, "a"))[2], recordable(7)[2], recordable(float("nan"))[2]
    ([1, 'a'], 7, 'nan')
    """
    if _plain(value):
        # Most calls return one of these: the JSON round trip below would
        # give the very same value back, at some 10 µs a call.
        return Status.OK, None, value, None
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        try:
            value = repr(value)
        except Exception as error:  # noqa: BLE001 - a broken __repr__ is the job's
            value = f"<unrepresentable {type(value).__name__}: {error}>"
        text = json.dumps(value)
    if len(text) > MAX_VALUE_BYTES:
        return Status.OK, None, None, f"return value not recorded: {len(text)} bytes as JSON (limit {MAX_VALUE_BYTES})"
    # Round-trip so the value is exactly what the results file will hold
    # (tuples as lists, and so on).
    return Status.OK, None, json.loads(text), None
