"""``{%}`` outside shell strings: the worker slot, filled in where the job runs.

The matrix expansion leaves a token (``Job.slot_token``, one no value of
the job contains) where ``{%}`` stood in an argv list, ``args``,
``kwargs``, ``env`` or ``cwd``; the worker replaces it with its slot. (In a
shell string ``{%}`` is ``${TASKRUNNER_SLOT}``, which every job's
environment has.)

    >>> from taskrunner.model import Job
    >>> job = Job(name="g", run=("tool", "--gpu={%}"), slot_token="{%}")
    >>> with_slot(job, 2).run
    ('tool', '--gpu=2')
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..model import Job

__all__ = ["with_slot"]


def with_slot(job: Job, slot: int) -> Job:
    """``job`` with its slot token replaced by ``slot`` (an argument that is
    exactly the token becomes the number itself, as ``"{x}"`` keeps its type)."""
    token, text = job.slot_token, str(slot)
    assert token is not None

    def fill(value: Any, data: bool) -> Any:
        if isinstance(value, str):
            return slot if data and value == token else value.replace(token, text)
        if isinstance(value, (list, tuple)):
            return type(value)(fill(item, data) for item in value)
        if isinstance(value, dict):
            return {key: fill(item, data) for key, item in value.items()}
        return value

    return dataclasses.replace(
        job,
        run=job.run if isinstance(job.run, str) or job.run is None else fill(job.run, False),
        args=fill(job.args, True),
        kwargs=fill(dict(job.kwargs), True),
        env={key: fill(value, False) for key, value in job.env.items()},
        cwd=None if job.cwd is None else fill(job.cwd, False),
        slot_token=None,
    )
