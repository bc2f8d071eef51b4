"""The local pool's in-flight ledger: pure bookkeeping, tested without processes."""

from __future__ import annotations

from taskrunner.backends.local.ledger import Ledger
from taskrunner.model import Attempt, Job


def attempt(n: int) -> Attempt:
    return Attempt(n, Job(name=f"j{n}", run="true"), 1, f"j{n}.out", f"j{n}.err")


def ledger_with(*chunks: list[int]) -> tuple[Ledger, list[int]]:
    ledger, item_ids = Ledger(), []
    for chunk in chunks:
        for n in chunk:
            ledger.add(attempt(n), b"")
        item_ids.append(ledger.seal_batch(now=float(len(item_ids)))[0])
    return ledger, item_ids


def test_an_item_is_forgotten_when_its_last_attempt_settles() -> None:
    ledger, (item,) = ledger_with([1, 2])
    assert ledger.settle(1) is not None and item in ledger.items
    assert ledger.settle(2) is not None and item not in ledger.items
    assert ledger.settle(2) is None  # an outcome counts once
    assert ledger.outstanding == {}


def test_taking_back_a_dead_workers_item_returns_its_pending_attempts_in_order() -> None:
    ledger, (first, second) = ledger_with([1, 2, 3], [4])
    ledger.settle(2)
    assert ledger.take_item(first) == [1, 3]
    assert first not in ledger.items and second in ledger.items
    assert ledger.take_item(first) == []  # nothing twice
    assert set(ledger.outstanding) == {1, 3, 4}  # still owed an outcome


def test_taking_the_rest_of_a_chunk_leaves_what_the_worker_claimed() -> None:
    ledger, (item,) = ledger_with([1, 2, 3, 4])
    assert ledger.take_rest(item, start=1, stop=4) == [2, 3, 4]
    assert ledger.items[item].pending == {1}
    assert ledger.take_rest(item, start=1, stop=4) == []
    ledger.settle(1)
    assert item not in ledger.items


def test_a_settled_attempt_is_not_taken_back() -> None:
    ledger, (item,) = ledger_with([1, 2, 3])
    ledger.settle(3)
    assert ledger.take_rest(item, start=1, stop=3) == [2]


def test_items_remember_when_they_were_queued_and_clear_forgets_all() -> None:
    ledger, (first, second) = ledger_with([1], [2])
    assert (ledger.items[first].queued_at, ledger.items[second].queued_at) == (0.0, 1.0)
    ledger.add(attempt(3), b"")
    ledger.clear()
    assert (ledger.outstanding, ledger.batch, ledger.items) == ({}, [], {})
