"""The waiting requests' rows in a real SQLite file, seen through two connections as two processes would."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from deploy.store import Store
from deploy.waiting import APPROVED, AWAITING, CANCELLED, QUEUED, REJECTED, STARTED, WaitingRequests


def two_processes(tmp_path: Path) -> tuple[WaitingRequests, WaitingRequests]:
    return Store.in_data_dir(tmp_path).waiting, Store.in_data_dir(tmp_path).waiting


def test_a_move_is_compare_and_set_so_the_first_decision_wins_and_names_its_maker(tmp_path: Path) -> None:
    one, two = two_processes(tmp_path)
    one.add("r0001", "shop", "production", AWAITING, "{}", expires_at=100.0)

    assert one.move("r0001", AWAITING, APPROVED, by="U0CAROL")
    assert not two.move("r0001", AWAITING, REJECTED, by="U0DAVE")

    row = two.get("r0001")
    assert row is not None and (row.state, row.decided_by) == (APPROVED, "U0CAROL")


def test_many_threads_pressing_at_once_move_a_row_once(tmp_path: Path) -> None:
    Store.in_data_dir(tmp_path).waiting.add("r0001", "shop", "production", AWAITING, "{}", expires_at=100.0)
    wins: list[str] = []
    start = threading.Barrier(8)

    def press(user: str) -> None:
        rows = Store.in_data_dir(tmp_path).waiting
        start.wait()
        if rows.move("r0001", AWAITING, APPROVED, by=user):
            wins.append(user)

    threads = [threading.Thread(target=press, args=(f"U0P{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    row = Store.in_data_dir(tmp_path).waiting.get("r0001")
    assert row is not None and row.decided_by == wins[0]


def test_the_line_keeps_its_order_a_forced_request_goes_first_and_lines_are_per_place(tmp_path: Path) -> None:
    one, two = two_processes(tmp_path)
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


def test_due_approvals_and_messages_and_pruning(tmp_path: Path) -> None:
    rows = Store.in_data_dir(tmp_path).waiting
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


def test_the_schema_is_the_stores_and_plain_sql(tmp_path: Path) -> None:
    Store.in_data_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "shipbot.sqlite3")
    columns = [r[1] for r in db.execute("PRAGMA table_info(waiting_requests)")]
    assert columns[:4] == ["run_id", "app", "environment", "state"]
    assert WaitingRequests.open(":memory:").in_state(QUEUED) == []
