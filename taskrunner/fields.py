"""The job contract in one table: every job key, its check, and where it applies.

``FIELDS`` is read by the job-file reader (which keys exist, how each value
is checked, which ones ``defaults`` may set), by the matrix (where ``{var}``
placeholders are filled, and how), by ``list --json`` (how a key appears),
and by a test that holds the README's key table to it. Adding a key is one
entry here plus its behaviour.

    >>> [field.name for field in FIELDS if field.defaultable]
    ['env', 'cwd', 'timeout', 'retries', 'retry_delay', 'tags', 'keep_children']
    >>> FIELD["timeout"].check(2)
    2.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CHECKS",
    "DEFAULTABLE",
    "FIELD",
    "FIELDS",
    "JOB_KEYS",
    "Field",
    "InvalidValue",
    "as_json",
    "non_empty_string",
    "positive_int",
]

_CALL_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class InvalidValue(Exception):
    """A value failed validation; the message completes "'key' ..."."""


# -- value checks: a constructed YAML value -> the Job field's value ----------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive_number(value: Any) -> float:
    if not _is_number(value) or value <= 0:
        raise InvalidValue(f"must be a number of seconds > 0, got {value!r}")
    return float(value)


def non_negative_number(value: Any) -> float:
    if not _is_number(value) or value < 0:
        raise InvalidValue(f"must be a number of seconds >= 0, got {value!r}")
    return float(value)


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
    if isinstance(value, str) or _is_number(value):
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
        if isinstance(item, str) or _is_number(item):
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


def matrix_value(value: Any) -> dict[str, list[Any]]:
    if not isinstance(value, dict) or not value:
        raise InvalidValue(f"must be a non-empty mapping of variable: [values], got {value!r}")
    for name, values in value.items():
        if not isinstance(name, str) or not _VARIABLE.match(name):
            raise InvalidValue(f"variable {name!r} must be an identifier (letters, digits, _)")
        if not isinstance(values, list) or not values:
            raise InvalidValue(f"variable {name!r} must list at least one value, got {values!r}")
        for item in values:
            if not isinstance(item, (str, int, float, bool)):
                raise InvalidValue(f"variable {name!r}: values must be strings, numbers or booleans, got {item!r}")
    return value


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
    matrix placeholders fill it, and when it appears in ``list --json``."""

    name: str
    check: Callable[[Any], Any]
    defaultable: bool = False
    placeholders: Placeholders = "none"
    json: InJson = "always"


FIELDS: tuple[Field, ...] = (
    Field("name", non_empty_string, placeholders="name"),
    Field("run", run_value, placeholders="run", json="command"),
    Field("call", call_value, json="call"),
    Field("args", args_value, placeholders="data", json="call"),
    Field("kwargs", kwargs_value, placeholders="data", json="call"),
    Field("env", env_value, defaultable=True, placeholders="env"),
    Field("cwd", non_empty_string, defaultable=True, placeholders="text"),
    Field("timeout", positive_number, defaultable=True),
    Field("retries", non_negative_int, defaultable=True),
    Field("retry_delay", non_negative_number, defaultable=True),
    Field("tags", names_value, defaultable=True),
    Field("depends_on", names_value, placeholders="names"),
    Field("matrix", matrix_value, json="never"),
    Field("keep_children", boolean, defaultable=True),
)
FIELD: Mapping[str, Field] = {field.name: field for field in FIELDS}
CHECKS: Mapping[str, Callable[[Any], Any]] = {field.name: field.check for field in FIELDS}
DEFAULTABLE = tuple(field.name for field in FIELDS if field.defaultable)
JOB_KEYS = tuple(FIELD)


def as_json(job: Any) -> dict[str, Any]:
    """A job as ``list --json`` shows it: its keys in table order, the ones of
    the other kind of job left out, tuples as lists, mappings as objects."""
    kind = "command" if job.is_command else "call"
    data: dict[str, Any] = {}
    for field in FIELDS:
        if field.json in ("always", kind):
            data[field.name] = _plain(getattr(job, field.name))
    if kind == "call" and not isinstance(job.call, str):
        data["call"] = str(job.call)
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value
