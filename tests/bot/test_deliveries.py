"""bot.deliveries: a Slack delivery is taken exactly once within its time-to-live, across processes (and replicas)
sharing the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.deliveries import Deliveries
from deploy.database import Database
from deploy.store import Store
from tests.support.databases import other_process


@pytest.fixture
def deliveries(database_url: str) -> Iterator[Deliveries]:
    d = Deliveries(Database(database_url))
    yield d
    d.close()


def execute(url: str, sql: str, *args: object) -> None:
    """Change the database the way another process would: through its own connection."""
    other_process(url, sql, *args)


def test_a_key_is_new_only_the_first_time_it_is_seen(deliveries: Deliveries) -> None:
    assert [True, False, True, False] == [
        deliveries.first_time("event:Ev1"),
        deliveries.first_time("event:Ev1"),
        deliveries.first_time("event:Ev2"),
        deliveries.first_time("event:Ev2"),
    ]


def test_a_key_is_new_again_after_its_ttl(deliveries: Deliveries, database_url: str) -> None:
    execute(database_url, "INSERT INTO slack_deliveries VALUES ('event:Ev1', ?)", time.time() - 7200)
    execute(database_url, "INSERT INTO slack_deliveries VALUES ('event:Ev2', ?)", time.time() - 60)
    assert [True, False] == [
        deliveries.first_time("event:Ev1", ttl=3600),
        deliveries.first_time("event:Ev2", ttl=3600),
    ]


def test_two_processes_agree_a_key_is_new_exactly_once(deliveries: Deliveries, database_url: str) -> None:
    other = Deliveries(Database(database_url))
    try:
        answers = [deliveries.first_time("event:Ev1"), other.first_time("event:Ev1")]
    finally:
        other.close()
    assert [True, False] == answers


def test_deliveries_share_the_store_database_without_touching_its_tables(database_url: str) -> None:
    store = Store(Database(database_url))
    deliveries = Deliveries(store.db)
    try:
        deliveries.first_time("event:Ev1")
        tables = set(sa.inspect(store.db.engine).get_table_names())
    finally:
        store.close()
    assert {"slack_deliveries", "runs", "locks"} <= tables
    assert "seen" not in tables


def test_many_replicas_taking_one_delivery_at_once_take_it_once(database_url: str) -> None:
    replicas = [Deliveries(Database(database_url)) for _ in range(6)]
    start = threading.Barrier(len(replicas))
    answers: list[bool] = []

    def take(d: Deliveries) -> None:
        start.wait()
        answers.append(d.first_time("event:Ev9"))

    threads = [threading.Thread(target=take, args=(d,)) for d in replicas]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for d in replicas:
            d.close()
    assert [False] * 5 + [True] == sorted(answers)


def test_a_path_is_the_sqlite_file_beside_the_store(tmp_path: Path) -> None:
    d = Deliveries(tmp_path / "data" / "shipbot.sqlite3")
    try:
        assert (True, tmp_path / "data" / "shipbot.sqlite3") == (d.first_time("event:Ev1"), d.path)
    finally:
        d.close()
