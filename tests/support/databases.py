"""Real databases for the store's tests: a SQLite file, and a fresh PostgreSQL database on 127.0.0.1:5432 (user
postgres, trust auth) per test, cloned from one migrated template per session and dropped afterwards.

PostgreSQL params are skipped only when nothing answers on 5432 and ``CI`` is not set; in CI they must run.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest
import sqlalchemy as sa

from deploy.store.database import Database

PG_HOST, PG_PORT = "127.0.0.1", 5432
ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"


def postgres_answers() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def skip_without_postgres() -> None:
    if postgres_answers():
        return
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT}; in CI .ci/run must start it")
    pytest.skip(f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT}")


def _admin(sql: str) -> None:
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@cache
def _template() -> str:
    """One database migrated to head per session, the template of every test's own."""
    name = f"shipbot_tpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _admin(f"CREATE DATABASE {name}")
    Database(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}").close()
    return name


def drop_template() -> None:
    if _template.cache_info().currsize:
        _admin(f"DROP DATABASE IF EXISTS {_template()} WITH (FORCE)")


@contextmanager
def fresh_postgres(*, migrated: bool = True) -> Iterator[str]:
    """The URL of a new database, dropped when the block ends."""
    skip_without_postgres()
    name = f"shipbot_test_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {_template()}" if migrated else f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def other_process(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Run ``sql`` the way another process would: through its own engine and connection."""
    db = Database(url, upgrade=False)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()
