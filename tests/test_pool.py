"""The local pool under abuse: workers killed while idle, queue locks left held
by dead processes. Real processes and real SIGKILLs throughout."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from taskrunner.backends.local import LocalPool
from taskrunner.model import Attempt, Job, JobResult, Status

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("no_leftovers")]


def attempts(tmp_path: Path, count: int, start: int = 1, **fields: Any) -> list[Attempt]:
    fields.setdefault("call", "jobs:add")
    fields.setdefault("args", (1, 2))
    return [
        Attempt(i, Job(name=f"j{i}", **fields), 1, str(tmp_path / f"{i}.out"), str(tmp_path / f"{i}.err"))
        for i in range(start, start + count)
    ]


def collect(pool: LocalPool, expected: int, deadline: float = 30.0) -> dict[int, JobResult]:
    outcomes: dict[int, JobResult] = {}
    end = time.monotonic() + deadline
    while len(outcomes) < expected and time.monotonic() < end:
        for attempt_id, result in pool.poll(0.1):
            assert attempt_id not in outcomes, "an attempt was reported twice"
            outcomes[attempt_id] = result
    return outcomes


def started(pool: LocalPool, tmp_path: Path) -> int:
    """Run one attempt, so that every worker has started (they start with the
    first ``submit``); the next free attempt id."""
    pool.submit(attempts(tmp_path, 1, start=1000)[0])
    assert list(collect(pool, 1)) == [1000]
    return 1


def wait_for_new_workers(pool: LocalPool, old: set[int], count: int) -> None:
    end = time.monotonic() + 10
    while time.monotonic() < end:
        pool.poll(0.05)
        if len(set(pool.worker_pids()) - old) >= count:
            return
    raise AssertionError("replacement workers did not start")


def test_killing_idle_workers_does_not_stall_the_pool(tmp_path: Path) -> None:
    with LocalPool(3) as pool:
        next_id = started(pool, tmp_path)
        for _round in range(4):
            time.sleep(0.2)  # let every worker reach its idle wait
            old = set(pool.worker_pids())
            for pid in list(old)[:2]:
                os.kill(pid, signal.SIGKILL)
            wait_for_new_workers(pool, old, 2)
            for attempt in attempts(tmp_path, 5, start=next_id):
                pool.submit(attempt)
            outcomes = collect(pool, 5)
            assert sorted(outcomes) == list(range(next_id, next_id + 5))
            assert all(r.ok and r.value == 3 for r in outcomes.values())
            next_id += 5
        assert pool.crashes == 0


def _hold_forever(lock: Any) -> None:
    lock.acquire()
    time.sleep(3600)


# (The result queue has no write lock: each result is one atomic pipe write.)
@pytest.mark.parametrize("which", ["task read lock", "task condition"])
def test_a_lock_left_held_by_a_dead_process_is_repaired(tmp_path: Path, which: str) -> None:
    with LocalPool(2) as pool:
        started(pool, tmp_path)
        lock = {
            "task read lock": pool._tasks._rlock,
            "task condition": pool._tasks._cond,
        }[which]
        holder = pool._ctx.Process(target=_hold_forever, args=(lock,), daemon=True)
        holder.start()
        while lock.acquire(timeout=0.01):  # wait until the holder has it
            lock.release()
            time.sleep(0.01)
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        # The poisoned lock is found when a worker dies: kill an idle one.
        time.sleep(0.2)
        os.kill(pool.worker_pids()[0], signal.SIGKILL)
        for attempt in attempts(tmp_path, 6):
            pool.submit(attempt)
        outcomes = collect(pool, 6)
        assert sorted(outcomes) == list(range(1, 7))
        assert all(r.ok for r in outcomes.values())


def test_an_item_taken_by_a_worker_that_died_before_publishing_it_runs_again(tmp_path: Path) -> None:
    """A worker killed between taking an item off the queue and writing it in
    its slot leaves no trace of the item. The coordinator must queue it again,
    also when every worker went idle only after the item was queued."""
    with LocalPool(2) as pool:
        for attempt in attempts(tmp_path, 2, call="jobs:sleep", args=(0.5,)):
            pool.submit(attempt)
        end = time.monotonic() + 10
        while len(pool.running()) < 2:
            assert time.monotonic() < end, "the workers did not start their jobs"
            pool.poll(0.01)
        (lost,) = attempts(tmp_path, 1, start=3)
        pool.submit(lost)
        pool.poll(0)
        # Play the doomed worker: take the item as a worker would, then "die".
        _, entries = pool._tasks.get(timeout=5)
        assert [attempt_id for attempt_id, _ in entries] == [3]
        assert sorted(collect(pool, 2)) == [1, 2]  # now both workers are idle
        time.sleep(0.1)
        os.kill(pool.worker_pids()[0], signal.SIGKILL)  # a death with an empty slot
        outcomes = collect(pool, 1)
        assert list(outcomes) == [3] and outcomes[3].ok and outcomes[3].value == 3


def test_worker_killed_while_running_is_crashed_with_signal_and_replaced(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    with LocalPool(2) as pool:
        (victim,) = attempts(tmp_path, 1, call="jobs:write_pid", args=(str(pidfile),))
        pool.submit(victim)
        end = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < end
            pool.poll(0.05)
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        (result,) = collect(pool, 1).values()
        assert result.status is Status.CRASHED and "SIGKILL" in (result.error or "")
        for attempt in attempts(tmp_path, 4, start=2):
            pool.submit(attempt)
        assert all(r.ok for r in collect(pool, 4).values())


def test_worker_killed_between_jobs_loses_nothing(tmp_path: Path) -> None:
    """A stream of tiny jobs while workers are SIGKILLed at random moments:
    every attempt gets exactly one outcome (ok, or crashed if it was running)."""
    with LocalPool(2) as pool:
        batch = attempts(tmp_path, 300, call="jobs:sleep", args=(0.002,))
        for attempt in batch[:4]:
            pool.submit(attempt)
        submitted, outcomes, kills = 4, {}, 0
        end = time.monotonic() + 60
        while len(outcomes) < len(batch) and time.monotonic() < end:
            for attempt_id, result in pool.poll(0.01):
                assert attempt_id not in outcomes
                outcomes[attempt_id] = result
            while submitted < len(batch) and pool.capacity() > 0:
                pool.submit(batch[submitted])
                submitted += 1
            if len(outcomes) // 30 > kills and pool.worker_pids():
                os.kill(pool.worker_pids()[kills % 2 - 1], signal.SIGKILL)
                kills += 1
        assert len(outcomes) == len(batch)
        assert {r.status for r in outcomes.values()} <= {Status.OK, Status.CRASHED}
        assert kills >= 5
        # Only the attempt a killed worker was running is crashed; the rest of
        # its chunk is queued again.
        assert sum(r.status is Status.CRASHED for r in outcomes.values()) <= kills


def run_stream(pool: LocalPool, batch: list[Attempt]) -> dict[int, JobResult]:
    """Submit as capacity allows (as the runner does) and collect every outcome."""
    submitted, outcomes = 0, {}
    end = time.monotonic() + 60
    while len(outcomes) < len(batch) and time.monotonic() < end:
        while submitted < len(batch) and pool.capacity() > 0:
            pool.submit(batch[submitted])
            submitted += 1
        for attempt_id, result in pool.poll(0.05):
            assert attempt_id not in outcomes, "an attempt was reported twice"
            outcomes[attempt_id] = result
    return outcomes


def test_tiny_jobs_travel_in_chunks(tmp_path: Path) -> None:
    """The performance regression guard that does not time anything: queue
    round-trips per job. Tiny jobs must share queue items."""
    with LocalPool(2) as pool:
        outcomes = run_stream(pool, attempts(tmp_path, 2000))
        assert len(outcomes) == 2000 and all(r.ok and r.value == 3 for r in outcomes.values())
        assert pool.items_sent <= 2000 / 10, f"{pool.items_sent} queue items for 2000 tiny jobs"


def test_results_of_millisecond_jobs_are_collected_in_batches(tmp_path: Path) -> None:
    """Another guard that times nothing: jobs of a millisecond, each result
    sent as it ends, must not wake the coordinator once each (a wake-up, a
    journal write and a queue item cost about 300 µs of its time: a third of
    a core at two workers). While every worker has a chunk queued behind the
    one it runs, results are collected every few milliseconds, several at once."""
    batch = attempts(tmp_path, 600, call="jobs:sleep", args=(0.001,))
    with LocalPool(2) as pool:
        submitted, outcomes, polls = 0, 0, 0
        end = time.monotonic() + 60
        while outcomes < len(batch) and time.monotonic() < end:
            while submitted < len(batch) and pool.capacity() > 0:
                pool.submit(batch[submitted])
                submitted += 1
            ready = len(pool.poll(0.05))
            outcomes += ready
            polls += ready > 0
        assert outcomes == len(batch)
        assert outcomes / polls >= 3, f"{polls} collections for {outcomes} results"
        assert pool.items_sent <= len(batch) / 3, f"{pool.items_sent} queue items for {outcomes} jobs"


def test_slow_jobs_travel_one_by_one(tmp_path: Path) -> None:
    with LocalPool(2) as pool:
        outcomes = run_stream(pool, attempts(tmp_path, 12, call="jobs:sleep", args=(0.05,)))
        assert len(outcomes) == 12 and pool.items_sent == 12


def test_a_job_stuck_in_a_chunk_does_not_hold_back_the_rest(tmp_path: Path) -> None:
    """After many tiny jobs, two jobs that only succeed when they run at the
    same time land in one chunk: the idle worker must take the second."""
    meet = tmp_path / "meet"
    meet.mkdir()
    tiny = attempts(tmp_path, 400)
    pair = [
        Attempt(401, Job(name="server", call="jobs:rendezvous", args=(str(meet), "server", "client")), 1,
                str(tmp_path / "s.out"), str(tmp_path / "s.err")),
        Attempt(402, Job(name="client", call="jobs:rendezvous", args=(str(meet), "client", "server")), 1,
                str(tmp_path / "c.out"), str(tmp_path / "c.err")),
    ]
    with LocalPool(2) as pool:
        outcomes = run_stream(pool, tiny)
        assert pool.capacity() >= 2, "chunks should have grown"
        for attempt in pair:
            pool.submit(attempt)
        outcomes.update(collect(pool, 2, deadline=30))
        assert outcomes[401].ok and outcomes[402].ok, (outcomes[401].error, outcomes[402].error)
