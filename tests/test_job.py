"""``Job``: its own fields in slots, the rest shared through a ``JobShape``,
and to every reader still the frozen dataclass it was."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import sys
import weakref
from pathlib import Path

import pytest

from taskrunner.fields import FIELDS
from taskrunner.job import OWN_FIELDS, SHARED_FIELDS, Job, trusted_job
from taskrunner.jobfile.spec import load_jobs

NAMES = ("name", "run", "call", "args", "kwargs", "env", "cwd", "timeout", "retries", "retry_delay", "tags",
         "depends_on", "base_dir", "keep_children", "success_codes", "inputs", "outputs", "priority", "resources",
         "memory_limit", "shell", "default", "keep_failed_outputs", "freshness", "slot_token")


def test_a_job_reads_as_the_frozen_dataclass_it_was() -> None:
    job = Job(name="a", run=("echo", "x"), env={"A": "1"}, timeout=5, tags=("t",), priority=2)
    assert tuple(spec.name for spec in dataclasses.fields(Job)) == NAMES and dataclasses.is_dataclass(job)
    assert repr(job).startswith("Job(name='a', run=('echo', 'x'), call=None, args=(), kwargs=mappingproxy({}), "
                                "env=mappingproxy({'A': '1'}), cwd=None, timeout=5.0, retries=0,")
    changed = dataclasses.replace(job, timeout=7, name="b")
    assert (changed.name, changed.timeout, changed.tags, changed.env) == ("b", 7.0, ("t",), {"A": "1"})
    assert job.timeout == 5.0 and changed != job and dataclasses.replace(changed, timeout=5, name="a") == job
    with pytest.raises(ValueError, match="retries"):
        dataclasses.replace(job, retries=-1)  # checked as Job() checks
    for name in ("name", "timeout"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(job, name, "x")
    assert pickle.loads(pickle.dumps(job)) == job == copy.copy(job) == copy.deepcopy(job)


def test_a_matrix_fills_in_only_a_jobs_own_fields() -> None:
    filled = {spec.name for spec in FIELDS if spec.placeholders != "none"}
    assert filled <= set(OWN_FIELDS) and not set(SHARED_FIELDS) & set(OWN_FIELDS)
    assert sorted(OWN_FIELDS + SHARED_FIELDS) == sorted(NAMES)


def test_jobs_alike_share_one_shape_and_jobs_unlike_do_not(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text("""
defaults: {timeout: 9}
jobs:
  - {name: "m-{n}", run: "echo {n}", matrix: {n: [1, 2, 3]}}
  - {name: one, run: "true"}
  - {name: two, run: "true"}
  - {name: slow, run: "true", timeout: 99}
""")
    first, second, third, one, two, slow = load_jobs(path)
    assert first._shape is second._shape is third._shape and one._shape is two._shape
    assert slow._shape is not two._shape and slow.timeout == 99 and two.timeout == 9
    assert sys.getsizeof(first) <= 112  # (with a slot for every field: 232 bytes)


def test_jobs_of_a_matrix_with_the_same_slot_token_share_a_shape(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text('jobs:\n  - {name: "g-{x}", run: ["tool", "{x}", "--gpu={%}"], matrix: {x: [a, b, "{%}"]}}\n')
    first, second, third = load_jobs(path)
    assert first.slot_token == second.slot_token == "{%}" and third.slot_token == "{%1}"
    assert first._shape is second._shape and third._shape is not second._shape and third.timeout is None


def test_a_shape_is_shared_only_by_values_of_the_same_type() -> None:
    whole, fraction = trusted_job(name="a", call="os:getpid", retries=1), trusted_job(name="b", call="os:getpid",
                                                                                       retries=True)
    assert whole._shape is not fraction._shape and type(whole.retries) is int and fraction.retries is True
    again = Job(name="c", call="os:getpid", retries=1)
    assert (again.retries, again.call) == (1, "os:getpid")


class _Holder:
    def method(self) -> int:
        return 1


def test_a_job_keeps_no_function_alive_once_it_is_gone() -> None:
    """The shape shared with the next job is never one holding a function
    object: an Executor's caller drops its object and expects it gone (as
    CPython's test_no_stale_references checks)."""
    holder = _Holder()
    alive = weakref.ref(holder)
    jobs = [Job(name="m", call=holder.method), trusted_job(name="t", call=holder.method)]
    del jobs, holder
    gc.collect()
    assert alive() is None
