"""The store's schema as migrations: a SQLite file written by an earlier shipbot is upgraded in place with its
rows kept (never replaced), an old ``locks`` table becomes per app, and a migrated database opens again unchanged.

The "earlier" files are made with the schema strings the previous release executed at start (``PREVIOUS_SCHEMA``,
copied verbatim from it), through plain ``sqlite3`` as that release did."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy.records import LockRecord
from deploy.store.database import Database, masked, normalise_url, sqlite_url
from deploy.store.migrations import head
from deploy.store.tables import Store
from deploy.store.waiting import AWAITING, QUEUED
from tests.support.databases import fresh_postgres

PREVIOUS_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, app TEXT NOT NULL, environment TEXT NOT NULL,
    user TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL, release TEXT NOT NULL,
    state TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, message TEXT NOT NULL DEFAULT '',
    hosts INTEGER NOT NULL DEFAULT 0, forced INTEGER NOT NULL DEFAULT 0, pid INTEGER, node TEXT
);
CREATE INDEX IF NOT EXISTS runs_env ON runs (app, environment, started_at);
CREATE TABLE IF NOT EXISTS host_steps (
    run_id TEXT NOT NULL, host TEXT NOT NULL, step TEXT NOT NULL, ok INTEGER NOT NULL,
    exit_status INTEGER, duration REAL NOT NULL, output_tail TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS host_steps_run ON host_steps (run_id);
CREATE TABLE IF NOT EXISTS host_outcomes (
    run_id TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT NULL, release TEXT, sha TEXT,
    failed_step TEXT, error TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, host)
);
CREATE TABLE IF NOT EXISTS active_runs (
    slot TEXT PRIMARY KEY, run_id TEXT NOT NULL, user TEXT NOT NULL, what TEXT NOT NULL,
    since REAL NOT NULL, pid INTEGER NOT NULL, node TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    app TEXT NOT NULL, environment TEXT NOT NULL, owner TEXT NOT NULL, reason TEXT NOT NULL, since REAL NOT NULL,
    expires_at REAL, PRIMARY KEY (app, environment)
);
CREATE TABLE IF NOT EXISTS audit (
    at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, environment TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS waiting_requests (
    run_id TEXT PRIMARY KEY, app TEXT NOT NULL, environment TEXT NOT NULL, state TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0, payload TEXT NOT NULL, expires_at REAL,
    decided_by TEXT NOT NULL DEFAULT '', decided_at REAL,
    channel TEXT NOT NULL DEFAULT '', ts TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS waiting_requests_place ON waiting_requests (app, environment, state, seq);
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, heartbeat_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS run_hosts (
    run_id TEXT NOT NULL, host TEXT NOT NULL, from_release TEXT, from_sha TEXT, to_release TEXT, to_sha TEXT,
    intent TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, host)
);
CREATE TABLE IF NOT EXISTS run_processes (
    run_id TEXT NOT NULL, host TEXT NOT NULL, pgid INTEGER NOT NULL, PRIMARY KEY (run_id, host, pgid)
);
CREATE TABLE IF NOT EXISTS run_places (
    run_id TEXT PRIMARY KEY, channel TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_waits (
    run_id TEXT PRIMARY KEY, batch INTEGER NOT NULL, release TEXT NOT NULL, sha TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS slack_deliveries (key TEXT PRIMARY KEY, at REAL NOT NULL);
"""

SHA = "0123456789abcdef0123456789abcdef01234567"
ROWS = [
    "INSERT INTO runs VALUES ('r1', 'deploy', 'shop', 'production', 'U0ALICE', 'main', '" + SHA + "', "
    "'20261101090000', 'success', 1000.0, 1010.0, '3 hosts', 3, 0, 42, 'old-node')",
    "INSERT INTO host_steps VALUES ('r1', 'web1', 'build', 1, 0, 1.5, 'ok', '', 1001.0)",
    "INSERT INTO locks VALUES ('shop', 'staging', 'U0BOB', 'demo', 900.0, NULL)",
    "INSERT INTO waiting_requests (run_id, app, environment, state, seq, payload, expires_at, updated_at) "
    "VALUES ('r2', 'shop', 'production', 'awaiting', 1, '{}', 9e9, 1000.0)",
    "INSERT INTO waiting_requests (run_id, app, environment, state, seq, payload, updated_at) "
    "VALUES ('r3', 'shop', 'production', 'queued', 2, '{}', 1000.0)",
]


def previous_release_file(path: Path, schema: str = PREVIOUS_SCHEMA, rows: list[str] = ROWS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
    for row in rows:
        db.execute(row)
    db.commit()
    db.close()
    return path


def test_a_file_from_the_previous_release_is_migrated_with_its_runs_locks_and_waiting_rows(tmp_path: Path) -> None:
    path = previous_release_file(tmp_path / "data" / "shipbot.sqlite3")
    store = Store(path)
    try:
        run = store.get_run("r1")
        assert (head(), "success", "3 hosts", 1.5) == (
            store.db.revision(),
            run.state if run else None,
            run.message if run else None,
            store.host_steps("r1")[0]["duration"],
        )
        assert LockRecord("staging", "U0BOB", "demo", 900.0, None) == store.get_lock("shop", "staging")
        assert (["r2"], ["r3"]) == (
            [r.run_id for r in store.waiting.in_state(AWAITING)],
            [r.run_id for r in store.waiting.in_state(QUEUED)],
        )
        store.db.execute(  # a step recorded by this release's store in the migrated table
            "INSERT INTO host_steps (run_id, host, step, ok, exit_status, duration, output_tail, error, at) "
            f"VALUES ('r1', 'web1', 'restart', 1, 0, 0.2, '', '', {store.db.now})"
        )
        assert ["build", "restart"] == [s["step"] for s in store.host_steps("r1")]
    finally:
        store.close()


@pytest.mark.parametrize("made_by", ["previous-release", "this-release"])
def test_the_previous_release_still_works_on_a_migrated_file(tmp_path: Path, made_by: str) -> None:
    """Expand first: what the previous release executes at start and writes still runs after the upgrade, on a file
    it wrote and then this release migrated, and on a file this release created."""
    path = tmp_path / "shipbot.sqlite3"
    if made_by == "previous-release":
        previous_release_file(path)
    Store(path).close()
    old = sqlite3.connect(path, isolation_level=None)
    try:
        old.executescript(PREVIOUS_SCHEMA)
        old.execute("INSERT INTO active_runs VALUES ('shop/staging', 'r9', 'U0ALICE', 'x', 1.0, 1, 'n')")
        old.execute("INSERT OR REPLACE INTO locks VALUES ('shop', 'production', 'U0ALICE', 'r', 1.0, NULL)")
        old.execute("INSERT INTO host_steps VALUES ('r9', 'web1', 'build', 1, 0, 0.5, '', '', 2.0)")
        # the release before fencing names the lease columns it knows (0004 added two, with defaults)
        old.execute(
            "INSERT INTO leases (run_id, owner, heartbeat_at, expires_at) VALUES ('r9', 'old', 1.0, 9e9) "
            "ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, heartbeat_at = excluded.heartbeat_at, "
            "expires_at = excluded.expires_at"
        )
    finally:
        old.close()
    store = Store(path)
    try:
        assert ("U0ALICE", "r9", ["build"], "old") == (
            getattr(store.get_lock("shop", "production"), "owner", None),
            store.db.execute("SELECT run_id FROM active_runs").fetchone()[0],  # type: ignore[index]
            [s["step"] for s in store.host_steps("r9")],
            store.lease_holder("r9"),
        )
    finally:
        store.close()


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param(
            ["waiting_requests", "leases", "run_hosts", "run_processes", "run_places", "run_waits"], id="older"
        ),
        pytest.param(["slack_deliveries"], id="without-deliveries"),
    ],
)
def test_a_file_missing_the_newer_tables_gets_them(tmp_path: Path, missing: list[str]) -> None:
    statements = [s for s in PREVIOUS_SCHEMA.split(";") if not any(f" {t} " in s or f" {t}(" in s for t in missing)]
    rows = [r for r in ROWS if "waiting_requests" not in r or "waiting_requests" not in missing]
    path = previous_release_file(tmp_path / "shipbot.sqlite3", ";".join(statements), rows)
    before = set(sa.inspect(sa.create_engine(sqlite_url(path))).get_table_names())
    store = Store(path)
    try:
        tables = set(sa.inspect(store.db.engine).get_table_names())
        assert (set(missing), set()) == (set(missing) - before, set(missing) - tables)
        assert "success" == getattr(store.get_run("r1"), "state", None)
    finally:
        store.close()


OLD_LOCKS = """
CREATE TABLE locks (
    environment TEXT PRIMARY KEY, owner TEXT NOT NULL, reason TEXT NOT NULL, since REAL NOT NULL, expires_at REAL
);
INSERT INTO locks VALUES ('staging', 'U0ALICE', 'taken before locks were per app', 1000.0, NULL);
"""


def test_an_old_locks_table_becomes_per_app_and_keeps_its_lock_for_every_app(tmp_path: Path) -> None:
    path = previous_release_file(tmp_path / "shipbot.sqlite3", OLD_LOCKS, [])
    store = Store(path)
    try:
        columns = [c["name"] for c in sa.inspect(store.db.engine).get_columns("locks")]
        rows = store.db.execute("SELECT app, environment, owner FROM locks").fetchall()
    finally:
        store.close()
    assert (["app", "environment"], [("*", "staging", "U0ALICE")]) == (columns[:2], rows)


def test_opening_a_migrated_database_again_changes_nothing(tmp_path: Path) -> None:
    path = previous_release_file(tmp_path / "shipbot.sqlite3")
    Store(path).close()
    stamp = path.stat().st_mtime_ns
    time.sleep(0.01)
    db = Database(sqlite_url(path))
    try:
        assert (head(), head()) == db.upgrade()
    finally:
        db.close()
    assert stamp == path.stat().st_mtime_ns


def test_an_empty_postgresql_database_is_migrated_to_the_same_tables_as_sqlite(tmp_path: Path) -> None:
    lite = Database(sqlite_url(tmp_path / "shipbot.sqlite3"))
    with fresh_postgres(migrated=False) as url:
        pg = Database(url)
        try:
            tables = [set(sa.inspect(d.engine).get_table_names()) for d in (lite, pg)]
            assert (tables[0], head()) == (tables[1], pg.revision())
        finally:
            pg.close()
            lite.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/shipbot", "postgresql+psycopg://u:p@db:5432/shipbot"),
        ("postgresql+psycopg://u:p@db/shipbot", "postgresql+psycopg://u:p@db/shipbot"),
        ("postgresql+asyncpg://u:p@db/shipbot", "postgresql+psycopg://u:p@db/shipbot"),
        ("postgres://u@db/shipbot", "postgresql+psycopg://u@db/shipbot"),
        ("sqlite:////srv/shipbot.sqlite3", "sqlite:////srv/shipbot.sqlite3"),
    ],
)
def test_database_urls_are_normalised_to_the_installed_driver(given: str, expected: str) -> None:
    assert expected == normalise_url(given)


def test_a_url_is_shown_with_its_password_masked() -> None:
    assert "postgresql+psycopg://shipbot:***@db:5432/shipbot" == masked(
        normalise_url("postgresql://shipbot:s3cr3t-pw@db:5432/shipbot")
    )


def test_the_head_read_without_alembic_is_alembics_head() -> None:
    """Every store that opens asks for the newest revision; it is read from the revision files without loading
    Alembic, and must be the one Alembic would migrate to."""
    from alembic.script import ScriptDirectory

    from deploy.store.migrations import config

    assert ScriptDirectory.from_config(config()).get_current_head() == head()
