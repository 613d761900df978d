"""The waiting requests' rows in a real database (SQLite file, PostgreSQL), seen through two engines as two processes
or two replicas would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from deploy.store.database import Database
from deploy.store.tables import Store
from deploy.store.waiting import APPROVED, AWAITING, CANCELLED, QUEUED, REJECTED, STARTED, WaitingRequests


@pytest.fixture
def opened(database_url: str) -> Iterator[Callable[[], WaitingRequests]]:
    """``opened()``: the rows through a store of their own (own engine, own connections), closed at teardown."""
    stores: list[Store] = []

    def open_rows() -> WaitingRequests:
        stores.append(Store(Database(database_url)))
        return stores[-1].waiting

    yield open_rows
    for store in stores:
        store.close()


def test_a_move_is_compare_and_set_so_the_first_decision_wins_and_names_its_maker(
    opened: Callable[[], WaitingRequests],
) -> None:
    one, two = (opened(), opened())
    one.add("r0001", "shop", "production", AWAITING, "{}", expires_at=100.0)

    assert one.move("r0001", AWAITING, APPROVED, by="U0CAROL")
    assert not two.move("r0001", AWAITING, REJECTED, by="U0DAVE")

    row = two.get("r0001")
    assert row is not None and (row.state, row.decided_by) == (APPROVED, "U0CAROL")


def test_many_threads_pressing_at_once_move_a_row_once(opened: Callable[[], WaitingRequests]) -> None:
    opened().add("r0001", "shop", "production", AWAITING, "{}", expires_at=100.0)
    wins: list[str] = []
    start = threading.Barrier(8)

    def press(user: str) -> None:
        rows = opened()
        start.wait()
        if rows.move("r0001", AWAITING, APPROVED, by=user):
            wins.append(user)

    threads = [threading.Thread(target=press, args=(f"U0P{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    row = opened().get("r0001")
    assert row is not None and row.decided_by == wins[0]


def test_the_line_keeps_its_order_a_forced_request_goes_first_and_lines_are_per_place(
    opened: Callable[[], WaitingRequests],
) -> None:
    one, two = (opened(), opened())
    one.add("r1", "shop", "canary", QUEUED, "{}")
    one.add("r2", "shop", "canary", QUEUED, "{}")
    one.add("r3", "shop", "staging", QUEUED, "{}")
    two.add("r4", "shop", "canary", AWAITING, "{}", expires_at=5.0)
    assert two.move("r4", AWAITING, APPROVED, by="U0CAROL")
    assert two.move("r4", APPROVED, QUEUED, front=True)
    one.add("r5", "shop", "canary", QUEUED, "{}")

    assert [r.run_id for r in two.in_state(QUEUED, "shop", "canary")] == ["r4", "r1", "r2", "r5"]
    assert two.places() == [("shop", "canary"), ("shop", "staging")]
    assert one.move("r4", QUEUED, STARTED)
    assert not two.move("r4", QUEUED, STARTED), "started once"
    assert one.move("r1", QUEUED, CANCELLED)
    assert [r.run_id for r in two.in_state(QUEUED, "shop", "canary")] == ["r2", "r5"]


def test_due_approvals_and_messages_and_pruning(opened: Callable[[], WaitingRequests]) -> None:
    rows = opened()
    rows.add("r1", "shop", "production", AWAITING, "{}", expires_at=100.0)
    rows.add("r2", "shop", "production", AWAITING, "{}", expires_at=200.0)
    rows.set_message("r1", "C0DEPLOYS", "1700000000.000100")

    assert [r.run_id for r in rows.due(150.0)] == ["r1"]
    row = rows.get("r1")
    assert row is not None and (row.channel, row.ts) == ("C0DEPLOYS", "1700000000.000100")
    assert rows.move("r1", AWAITING, REJECTED, by="U0CAROL")
    assert rows.prune(keep=3600) == 0, "kept a while to answer late clicks"
    assert rows.prune(keep=-1) == 1
    assert rows.get("r1") is None and rows.get("r2") is not None


def test_the_schema_is_the_stores_and_plain_sql(database_url: str) -> None:
    db = Database(database_url)
    try:
        columns = [c["name"] for c in sa.inspect(db.engine).get_columns("waiting_requests")]
    finally:
        db.close()
    assert columns[:4] == ["run_id", "app", "environment", "state"]
    assert WaitingRequests.open().in_state(QUEUED) == []
