"""The store's walls, on real databases: a statement has a bounded time (another session holding a lock makes it fail
as StoreUnavailable within about SHIPBOT_DB_STATEMENT_TIMEOUT, on PostgreSQL and on SQLite), and what the driver
raises reaches the product only as its own error tree (StoreUnavailable, StoreConflict, StoreError), with the
driver's error kept as the cause for the logs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy.errors import ShipbotError, StoreConflict, StoreError, StoreUnavailable
from deploy.previews.preview_table import PreviewTable
from deploy.store.database import Database
from deploy.store.tables import Store


@contextmanager
def writer_holding_audit(url: str) -> Iterator[None]:
    """Another process in the middle of a write that holds the ``audit`` table: PostgreSQL's table lock, SQLite's
    writer's lock (``BEGIN IMMEDIATE``)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as held, held.begin():
            held.exec_driver_sql("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        engine.dispose()


def test_a_statement_held_by_another_writer_fails_as_store_unavailable_within_its_time(database_url: str) -> None:
    store = Store(Database(database_url, statement_timeout=0.5))
    try:
        with writer_holding_audit(database_url):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as raised:
                store.record_audit("U0ALICE", "lock", "production", "{}")
            took = time.monotonic() - started
        store.record_audit("U0ALICE", "lock", "production", "{}")  # the writer is gone: it goes through
        assert 1 == len(store.audit())
    finally:
        store.close()

    assert 0.4 <= took < 3.0, f"failed after {took:.2f}s with a 0.5 s statement timeout"
    err = raised.value
    assert isinstance(err, StoreError) and isinstance(err, ShipbotError)
    assert isinstance(err.__cause__, sa.exc.SQLAlchemyError), "the driver's error is kept as the cause"
    assert "The store is not answering; try again in a moment" in str(err)
    assert 1 == len(str(err).splitlines())


def test_a_statement_the_database_refuses_is_a_store_error_not_a_moment_of_unavailability(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(StoreError) as raised:
            db.execute("SELECT missing FROM no_such_table")
    finally:
        db.close()
    assert not isinstance(raised.value, StoreUnavailable)
    assert "refused a statement" in str(raised.value) and "no_such_table" in str(raised.value)


def test_a_write_a_key_refuses_is_a_store_conflict(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.execute("INSERT INTO audit (at, actor, action, environment, detail) VALUES (1, 'U', 'a', 'e', '')")
        db.execute(
            "INSERT INTO previews (app, name, branch, sha, port, hosts, state, pusher, created_at, updated_at) "
            "VALUES ('shop', 'a', 'a', '', 8001, '', 'live', 'U', 0, 0)"
        )
        with pytest.raises(StoreConflict):
            db.execute(
                "INSERT INTO previews (app, name, branch, sha, port, hosts, state, pusher, created_at, updated_at) "
                "VALUES ('shop', 'b', 'b', '', 8001, '', 'live', 'U', 0, 0)"
            )
        assert not PreviewTable(db).reserve("shop", "c", "c", 8001, [], "U"), "a taken port is a refusal, not a crash"
    finally:
        db.close()


def test_a_database_nobody_answers_on_is_unavailable_after_the_statement_time_not_before() -> None:
    from tests.support.ports import free_port

    db = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/shipbot", upgrade=False, statement_timeout=0.6)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            db.execute("SELECT 1")
        took = time.monotonic() - started
    finally:
        db.close()
    assert 0.5 <= took < 3.0, f"{took:.2f}s"
    assert "127.0.0.1" in raised.value.where


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_migration_waits_for_another_processs_longer_than_one_statements_time(engine: str, tmp_path: Path) -> None:
    """Replicas starting together migrate once: the others wait for the first's migration lock, which may be held
    for longer than SHIPBOT_DB_STATEMENT_TIMEOUT."""
    import threading

    from tests.support.databases import fresh_postgres

    sqlite_file = nullcontext(f"sqlite:///{tmp_path}/shipbot.sqlite3")
    with sqlite_file if engine == "sqlite" else fresh_postgres(migrated=False) as url:
        if engine == "sqlite":
            holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
            holder.execute("BEGIN IMMEDIATE")
            release = threading.Timer(1.5, lambda: holder.execute("ROLLBACK"))
        else:
            pg = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
            held = pg.connect()
            held.exec_driver_sql("SELECT pg_advisory_lock(5318008)")
            release = threading.Timer(1.5, lambda: held.exec_driver_sql("SELECT pg_advisory_unlock(5318008)"))
        release.start()
        started = time.monotonic()
        db = Database(url, statement_timeout=0.3)
        took = time.monotonic() - started
        release.join()
        try:
            assert db.revision() is not None
            db.execute("SELECT 1")
        finally:
            db.close()
            if engine == "sqlite":
                holder.close()
            else:
                held.close()
                pg.dispose()
    assert 1.2 < took < 30, f"{took:.2f}s"
