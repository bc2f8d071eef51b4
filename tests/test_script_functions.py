"""A script's own function (or class) travels by value: written once by the
coordinator and loaded once by each worker, however many calls it serves
(``Executor.map`` of a script function: a cloudpickle write a call was most of
the coordinator's time). A closure still carries what its cells hold at each
call. Real scripts, real workers."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO_DIR, TAG_VARIABLE, wait_until_gone
from taskrunner.backends import sending

pytestmark = pytest.mark.timeout(90)

SCRIPT = """
import json, os, sys, taskrunner

def loaded():
    with open(os.environ["LOADS"], "a") as out:
        out.write(f"{os.getpid()}\\n")
    return "token"

class Token:
    # Written (pickled) with every copy of a function that refers to it, and
    # run again each time that copy is loaded.
    def __reduce__(self):
        print("written", flush=True)
        return (loaded, ())

TOKEN = Token()

def double(x):
    assert TOKEN == "token"
    return 2 * x

def make(n):
    return lambda: n

def counter():
    count = 0
    def bump():
        nonlocal count
        count += 1
    def read():
        return count
    return bump, read

class Box:
    pass

def kind(box):
    return id(type(box))

with taskrunner.Executor(2) as executor:
    values = list(executor.map(double, range(60)))
    kinds = len(set(executor.map(kind, [Box() for _ in range(6)])))
with taskrunner.Executor(1) as executor:
    closures = [executor.submit(make(n)).result() for n in range(4)]
    many = [executor.submit(lambda n=n: n).result() for n in range(300)]
    bump, read = counter()
    counted = [bump() or executor.submit(read).result() for _ in range(3)]
print(json.dumps({"values": values == [2 * x for x in range(60)], "kinds": kinds, "closures": closures,
                  "many": many == list(range(300)), "counted": counted}))
"""


def test_a_script_function_is_written_once_and_loaded_once_a_worker(tmp_path: Path) -> None:
    script, loads = tmp_path / "script.py", tmp_path / "loads"
    script.write_text(SCRIPT)
    tag = f"script-functions-{uuid.uuid4().hex}"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO_DIR), TAG_VARIABLE: tag, "LOADS": str(loads)})
    assert not wait_until_gone(tag)
    assert done.returncode == 0, done.stderr
    *written, last = done.stdout.splitlines()
    assert json.loads(last) == {"values": True, "kinds": 1, "closures": [0, 1, 2, 3], "many": True,
                                 "counted": [1, 2, 3]}
    assert written == ["written"]  # once for 60 calls
    per_worker = Counter(loads.read_text().split())
    assert 1 <= len(per_worker) <= 2 and set(per_worker.values()) == {1}, per_worker


def _script_function(source: str, name: str) -> object:
    space = {"__name__": "__main__"}
    exec(source, space)  # noqa: S102 - a function as a script defines it
    return space[name]


def test_the_same_script_function_is_the_same_bytes_and_loads_as_one() -> None:
    triple = _script_function("def triple(x):\n    return 3 * x\n", "triple")
    first, second = sending.dumps((triple, 1)), sending.dumps((triple, 2))
    written = sending._WRITTEN[triple]  # (written once, by value)
    assert written in first and written in second
    loaded_first, loaded_second = pickle.loads(first), pickle.loads(second)
    assert loaded_first[0] is loaded_second[0] and loaded_first[0](loaded_first[1]) == 3
    # A closure is written with each call (its cells may change between calls).
    cell = _script_function("def make(n):\n    return lambda: n\n", "make")
    assert pickle.loads(sending.dumps(cell(5)))() == 5 and pickle.loads(sending.dumps(cell(6)))() == 6
