"""The job contract in one table: every job key, its check, and where it applies.

``FIELDS`` is read by the job-file reader (which keys exist, how each value is checked,
which ones ``defaults`` may set), by the matrix (where ``{var}`` placeholders are filled,
and how), by ``list --json`` (how a key appears), and by a test that holds the README's
key table to it. Adding a key is one entry here plus its behaviour.

    >>> [field.name for field in FIELDS if field.defaultable]
    ['env', 'cwd', 'timeout', 'retries', 'retry_delay', 'tags', 'keep_children', 'success_codes', 'env_file', 'priority', 'resources', 'memory_limit', 'shell', 'keep_failed_outputs', 'freshness']
    >>> FIELD["timeout"].check(2)
    2.0
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from .resources import fits_float, parse_amount
from .sources import Source, glob_hint, parse_source

__all__ = ["CHECKS", "DEFAULTABLE", "FIELD", "FIELDS", "JOB_KEYS", "PYTHON_FIELDS", "Depfile", "Field", "InvalidValue",
           "non_empty_string", "positive_int"]

_CALL_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class InvalidValue(Exception):
    """A value failed validation; the message completes "'key' ..."."""


# -- value checks: a constructed YAML value -> the Job field's value ----------


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float | None:
    """Seconds from a number or a string such as ``90``, ``90s``, ``5m``,
    ``1h30m``, ``250ms``; None if it is neither.

    >>> parse_duration("1h30m"), parse_duration("250ms"), parse_duration(2), parse_duration("5 min")
    (5400.0, 0.25, 2.0, None)
    """
    if fits_float(value):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return float(text) if math.isfinite(float(text)) else None
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


#: The longest duration accepted anywhere (a timeout, a retry delay): ten years.
#: Anything shorter is waited for in slices, never passed whole to a system call.
MAX_SECONDS = 10 * 365 * 86400.0


def positive_number(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds is None or seconds <= 0:
        raise InvalidValue(f"must be a number of seconds > 0 or a duration such as 90s, 5m, 1h30m, got {value!r}")
    return _at_most_max(seconds, value)


def non_negative_number(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds is None or seconds < 0:
        raise InvalidValue(f"must be a number of seconds >= 0 or a duration such as 90s, 5m, 250ms, got {value!r}")
    return _at_most_max(seconds, value)


def _at_most_max(seconds: float, value: Any) -> float:
    if seconds > MAX_SECONDS:
        raise InvalidValue(f"must be at most 10 years ({MAX_SECONDS:.0f} s), got {value!r}")
    return seconds


def success_codes_value(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 255 for code in value)):
        raise InvalidValue(f"must be a list of exit codes (whole numbers 0-255), got {value!r}")
    return tuple(value)


def paths_value(value: Any) -> tuple[str, ...]:
    """A path or a list of paths."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(p, str) and p.strip() for p in value):
        raise InvalidValue(f"must be a path or a list of paths, got {value!r}")
    return tuple(value)


class Depfile(str):
    """An ``inputs`` entry naming a make-format dependency file the job writes
    (``{depfile: "{f.}.d"}``, as ninja's ``depfile``): the prerequisites it
    lists are inputs. A ``str`` (a path, filled like one), marked."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (Depfile, (str(self),))


def inputs_value(value: Any) -> tuple[str, ...]:
    """Paths, globs and ``{depfile: PATH}`` entries."""
    items = [value] if isinstance(value, (str, dict)) else value
    if isinstance(items, (list, tuple)):
        items = [Depfile(item["depfile"]) if isinstance(item, dict) and list(item) == ["depfile"]
                 and isinstance(item["depfile"], str) else item for item in items]
    try:
        return paths_value(items)
    except InvalidValue:
        raise InvalidValue(f"must be a path, a glob or {{depfile: PATH}}, or a list of them, got {value!r}") from None


def freshness_value(value: Any) -> str:
    if value not in ("mtime", "content"):
        raise InvalidValue(f"must be mtime or content, got {value!r}")
    return str(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"must be true or false, got {value!r}")
    return value


def non_negative_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidValue(f"must be a whole number >= 0, got {value!r}")
    return value


def positive_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidValue(f"must be a whole number >= 1, got {value!r}")
    return value


def non_empty_string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"must be a non-empty string, got {value!r}")
    return value


def _argv_item(value: Any) -> str:
    if isinstance(value, str) or fits_float(value):
        return str(value)
    raise InvalidValue(f"argv items must be strings or numbers, got {value!r}")


def run_value(value: Any) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return non_empty_string(value)
    if isinstance(value, list):
        if not value:
            raise InvalidValue("must be a command string or a non-empty argv list, got []")
        return tuple(_argv_item(item) for item in value)
    raise InvalidValue(f"must be a command string or an argv list, got {value!r}")


def shell_value(value: Any) -> tuple[str, ...]:
    """A ``run`` string's shell: a program (``bash``: ``bash -c COMMAND``) or the argv the command is appended to."""
    if isinstance(value, str) and value and not any(c.isspace() for c in value):
        return (value, "-c")
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) and item for item in value):
        return tuple(value)
    raise InvalidValue(f"must be a program (bash) or an argv list ([bash, -euo, pipefail, -c]), got {value!r}")


def call_value(value: Any) -> str:
    if not isinstance(value, str) or not _CALL_PATTERN.match(value):
        raise InvalidValue(f"must look like 'package.module:function', got {value!r}")
    return value


def args_value(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise InvalidValue(f"must be a list, got {value!r}")
    return tuple(value)


def kwargs_value(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidValue(f"must be a mapping with string keys, got {value!r}")
    return value


def env_value(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidValue(f"must be a mapping of NAME: value, got {value!r}")
    env: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or "=" in key:
            raise InvalidValue(f"has an invalid variable name {key!r}")
        if isinstance(item, str) or fits_float(item):
            env[key] = str(item)
        else:
            raise InvalidValue(f"value of {key!r} must be a string or number (quote it), got {item!r}")
    return env


def names_value(value: Any) -> tuple[str, ...]:
    """A string or a list of strings (tags, job names)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise InvalidValue(f"must be a list of strings, got {value!r}")
    return tuple(value)


_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def matrix_value(value: Any) -> dict[str, list[Any] | Source]:
    """Variable -> its values (a list), or the ``Source`` to read them from
    (see ``inputs``; the reader resolves it)."""
    if not isinstance(value, dict) or not value:
        raise InvalidValue(f"must be a non-empty mapping of variable: [values], got {value!r}")
    checked: dict[str, list[Any] | Source] = {}
    for name, values in value.items():
        if not isinstance(name, str) or not _VARIABLE.match(name):
            raise InvalidValue(f"variable {name!r} must be an identifier (letters, digits, _)")
        if isinstance(values, dict):
            try:
                checked[name] = parse_source(name, values)
            except ValueError as error:
                raise InvalidValue(str(error)) from None
            continue
        if not isinstance(values, list) or not values:
            raise InvalidValue(f"variable {name!r} must list at least one value, got {values!r}{glob_hint(values)}")
        for item in values:
            if not isinstance(item, (str, int, float, bool)):
                raise InvalidValue(f"variable {name!r}: values must be strings, numbers or booleans, got {item!r}")
        checked[name] = values
    return checked


# -- the same checks for values given to Job(...) in Python ------------------
#
# Python callers pass tuples, Paths, functions and other mappings where the
# job file has lists, strings and dicts: each adapter below brings such a
# value into the job file's shape and runs the same check. A value of the
# wrong type raises TypeError (the caller passed the wrong kind of argument);
# one of the right type with a wrong value raises InvalidValue.


def _sequence(value: Any, what: str) -> list[Any]:
    if type(value) in (tuple, list):  # the usual case, without the slower ABC checks
        return list(value)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"must be {what}")
    return list(value)


def python_run(value: Any) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return run_value(value)
    items = _sequence(value, "a command string or an argv sequence")
    return run_value([os.fspath(item) if isinstance(item, os.PathLike) else str(item) for item in items])


def python_call(value: Any) -> Any:
    if callable(value):
        return value
    if not isinstance(value, str):
        raise TypeError("must be 'module:function' or a function")
    return call_value(value)


def python_args(value: Any) -> tuple[Any, ...]:
    return tuple(_sequence(value, "a sequence of arguments"))


def _mapping(value: Any) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise TypeError("must be a mapping")
    return dict(value)


def python_kwargs(value: Any) -> dict[str, Any]:
    return kwargs_value(_mapping(value))


def python_env(value: Any) -> dict[str, str]:
    env = _mapping(value)
    for key, item in env.items():
        if not isinstance(item, str):  # the job file may say 8; Python says "8"
            raise InvalidValue(f"value of {key!r} must be a string, got {item!r}")
    return env_value(env)


def python_path(value: Any) -> str:
    return non_empty_string(os.fspath(value) if isinstance(value, os.PathLike) else value)


def _python_seconds(check: Callable[[Any], float], bound: str) -> Callable[[Any], float]:
    """Seconds for ``Job(...)``: what the job file takes (a number, or a
    string such as ``"250ms"`` or ``"1h30m"``), or a ``timedelta``."""

    def seconds(value: Any) -> float:
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if not fits_float(value) and not isinstance(value, str):
            raise InvalidValue(f"must be a number of seconds {bound}, a duration such as \"90s\" or a timedelta, "
                               f"got {value!r}")
        return check(value)

    return seconds


def python_paths(value: Any, check: Callable[[Any], tuple[str, ...]] = paths_value) -> tuple[str, ...]:
    items = [value] if isinstance(value, (str, os.PathLike, dict)) else _sequence(value, "a path or a list of paths")
    return check([os.fspath(item) if isinstance(item, os.PathLike) else item for item in items])


def python_inputs(value: Any) -> tuple[str, ...]:
    return python_paths(value, inputs_value)


def integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidValue(f"must be a whole number, got {value!r}")
    return value


def resources_value(value: Any) -> tuple[tuple[str, float], ...]:
    """A mapping of resource name to amount (``mem: 4G``), as sorted pairs."""
    if not isinstance(value, Mapping) or not value:
        raise InvalidValue(f"must be a mapping of resource: amount (cpu: 2, mem: 4G, gpu: 1), got {value!r}")
    pairs = []
    for name, amount in value.items():
        if not isinstance(name, str) or not _VARIABLE.match(name):
            raise InvalidValue(f"has an invalid resource name {name!r} (letters, digits, _)")
        try:
            pairs.append((name, parse_amount(amount)))
        except ValueError as error:
            raise InvalidValue(f"{name!r} {error}") from None
    return tuple(sorted(pairs))


def python_resources(value: Any) -> tuple[tuple[str, float], ...]:
    return resources_value(dict(value) if isinstance(value, (tuple, list)) else value)


def memory_size(value: Any) -> float:
    try:
        size = parse_amount(value)
    except ValueError:
        size = 0.0
    if size <= 0:
        raise InvalidValue(f"must be a size > 0 such as 2G or 512M, got {value!r}")
    return size


def python_codes(value: Any) -> tuple[int, ...]:
    return success_codes_value(value if isinstance(value, int) else _sequence(value, "a list of exit codes"))


def python_names(value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else _sequence(value, "a name or a list of names")
    if not all(isinstance(name, str) and name for name in names):
        raise TypeError("must be a name or a list of names")
    return tuple(names)


#: How ``{var}`` placeholders are filled in a key's value (see ``matrix``):
#: ``name``: the job name; ``run``: a shell string (quoting-aware) or argv;
#: ``data``: strings inside lists/mappings, an exact ``"{var}"`` keeps its type;
#: ``text``: a string; ``env``: a mapping's values; ``names``: a list of names;
#: ``none``: not at all.
Placeholders = Literal["name", "run", "data", "text", "env", "names", "none"]
#: When a key appears in ``list --json``: always, for one kind of job, never.
InJson = Literal["always", "command", "call", "never"]


@dataclass(frozen=True)
class Field:
    """One job key: its value check, whether ``defaults`` may set it, how
    matrix placeholders fill it, when it appears in ``list --json``, and how
    ``Job(...)`` checks a Python value for it (``python``: the same check
    unless Python values take other types; None: not a ``Job`` argument)."""

    name: str
    check: Callable[[Any], Any]
    defaultable: bool = False
    placeholders: Placeholders = "none"
    json: InJson = "always"
    python: Callable[[Any], Any] | None | Literal["same"] = "same"

    def check_python(self, value: Any) -> Any:
        """``value`` as the ``Job`` field holds it; raises ``InvalidValue`` or ``TypeError``."""
        check = self.check if self.python == "same" else self.python
        assert check is not None, f"{self.name} is not a Job argument"
        return check(value)


FIELDS: tuple[Field, ...] = (
    Field("name", non_empty_string, placeholders="name"),
    Field("run", run_value, placeholders="run", json="command", python=python_run),
    Field("call", call_value, json="call", python=python_call),
    Field("args", args_value, placeholders="data", json="call", python=python_args),
    Field("kwargs", kwargs_value, placeholders="data", json="call", python=python_kwargs),
    Field("env", env_value, defaultable=True, placeholders="env", python=python_env),
    Field("cwd", non_empty_string, defaultable=True, placeholders="text", python=python_path),
    Field("timeout", positive_number, defaultable=True, python=_python_seconds(positive_number, "> 0")),
    Field("retries", non_negative_int, defaultable=True),
    Field("retry_delay", non_negative_number, defaultable=True, python=_python_seconds(non_negative_number, ">= 0")),
    Field("tags", names_value, defaultable=True, python=python_names),
    Field("depends_on", names_value, placeholders="names", python=python_names),
    Field("matrix", matrix_value, json="never", python=None),
    Field("keep_children", boolean, defaultable=True),
    Field("success_codes", success_codes_value, defaultable=True, json="command", python=python_codes),
    Field("env_file", paths_value, defaultable=True, json="never", python=None),
    Field("inputs", inputs_value, placeholders="names", python=python_inputs),
    Field("outputs", paths_value, placeholders="names", python=python_paths),
    Field("priority", integer, defaultable=True),
    Field("resources", resources_value, defaultable=True, python=python_resources),
    Field("memory_limit", memory_size, defaultable=True),
    Field("shell", shell_value, defaultable=True, json="command"),
    Field("default", boolean),
    Field("keep_failed_outputs", boolean, defaultable=True),
    Field("freshness", freshness_value, defaultable=True),
)
FIELD: Mapping[str, Field] = {field.name: field for field in FIELDS}
CHECKS: Mapping[str, Callable[[Any], Any]] = {field.name: field.check for field in FIELDS}
DEFAULTABLE = tuple(field.name for field in FIELDS if field.defaultable)
#: The keys ``Job(...)`` takes and checks, in table order.
PYTHON_FIELDS = tuple(field for field in FIELDS if field.python is not None)
JOB_KEYS = tuple(FIELD)
