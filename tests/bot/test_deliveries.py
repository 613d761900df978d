"""bot.deliveries: a Slack delivery is taken exactly once within its time-to-live, across processes sharing the file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.deliveries import Deliveries
from deploy.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "shipbot.sqlite3"


@pytest.fixture
def deliveries(db_path: Path) -> Iterator[Deliveries]:
    d = Deliveries(db_path)
    yield d
    d.close()


def execute(db_path: Path, sql: str, *args: object) -> None:
    """Change the database the way another process would: through its own connection."""
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute(sql, args)
    finally:
        db.close()


def test_a_key_is_new_only_the_first_time_it_is_seen(deliveries: Deliveries) -> None:
    assert [True, False, True, False] == [
        deliveries.first_time("event:Ev1"),
        deliveries.first_time("event:Ev1"),
        deliveries.first_time("event:Ev2"),
        deliveries.first_time("event:Ev2"),
    ]


def test_a_key_is_new_again_after_its_ttl(deliveries: Deliveries, db_path: Path) -> None:
    execute(db_path, "INSERT INTO slack_deliveries VALUES ('event:Ev1', ?)", time.time() - 7200)
    execute(db_path, "INSERT INTO slack_deliveries VALUES ('event:Ev2', ?)", time.time() - 60)
    assert [True, False] == [
        deliveries.first_time("event:Ev1", ttl=3600),
        deliveries.first_time("event:Ev2", ttl=3600),
    ]


def test_two_processes_agree_a_key_is_new_exactly_once(deliveries: Deliveries, db_path: Path) -> None:
    other = Deliveries(db_path)
    try:
        answers = [deliveries.first_time("event:Ev1"), other.first_time("event:Ev1")]
    finally:
        other.close()
    assert [True, False] == answers


def test_deliveries_share_the_store_file_without_touching_its_tables(db_path: Path) -> None:
    store = Store(db_path)
    deliveries = Deliveries(store.path)
    try:
        deliveries.first_time("event:Ev1")
        db = sqlite3.connect(db_path)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            db.close()
    finally:
        deliveries.close()
        store.close()
    assert {"slack_deliveries", "runs", "locks"} <= tables
    assert "seen" not in tables
