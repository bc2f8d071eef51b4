"""The child of ``validate --check``: imports each call target it is given.

Reads a JSON list of ``{"call": "module:function", "folders": [...]}`` on
standard input, writes a JSON list of answers (None, or why the target does
not import, with a did-you-mean) on standard output. Run as
``python -m taskrunner.jobfile.importcheck``; it imports nothing of
taskrunner's beyond this module, and each module it imports may do anything
(it is a throwaway process).
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import pkgutil
import sys
from typing import Any


def why_not(call: str, folders: list[str]) -> str | None:
    """None if ``call`` names a callable that imports, else why not."""
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module_name, _, attributes = call.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        return f"cannot import {call!r}: {error}{_module_hint(module_name, attributes, folders)}"
    except BaseException as error:  # noqa: BLE001 - the module's own code failed
        return f"cannot import {call!r}: importing {module_name!r} raised {type(error).__name__}: {error}"
    for attribute in attributes.split("."):
        if not hasattr(target, attribute):
            hint = _module_hint(module_name, attributes, folders) or _close(attribute, dir(target))
            return f"cannot import {call!r}: {module_name!r} has no {attribute!r}{hint}"
        target = getattr(target, attribute)
    return None if callable(target) else f"{call!r} is not callable"


def _module_hint(module_name: str, attributes: str, folders: list[str]) -> str:
    """A close module name (of the job's folders, or anywhere) that has the function."""
    names = {info.name for info in pkgutil.iter_modules(folders)} | {info.name for info in pkgutil.iter_modules()}
    for candidate in difflib.get_close_matches(module_name, sorted(names - {module_name}), n=3):
        try:
            module = importlib.import_module(candidate)
        except BaseException:  # noqa: BLE001, S112 - any failure: not the one meant
            continue
        if hasattr(module, attributes.split(".")[0]):
            return f" (did you mean '{candidate}:{attributes}'?)"
    return ""


def _close(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, [c for c in choices if not c.startswith("_")], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def main() -> None:
    request = json.load(sys.stdin)
    # What the modules print on import goes to stderr: stdout carries the answer.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    answers = [why_not(item["call"], item["folders"]) for item in request]
    answer.write(json.dumps(answers))
    answer.close()


if __name__ == "__main__":
    main()
