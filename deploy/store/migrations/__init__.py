"""The store's schema, as Alembic revisions (``versions/``), applied by :meth:`deploy.store.database.Database.upgrade`
at start and by ``shipbot db upgrade``.

Every revision is *expand first*: it only adds (tables, nullable columns or columns with a default, indexes), so
the release before it keeps working against the upgraded database while replicas are replaced one by one. A column
or table is dropped only in a later release, once no running release reads it.

The first revision (``0001``) is the baseline: it creates what is missing and upgrades the shapes older releases
left in a SQLite file (a ``locks`` table without ``app``), so an existing file is migrated, never replaced.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

HERE = Path(__file__).parent
_ASSIGNED = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(?:[\"']([^\"']+)[\"']|None)", re.MULTILINE)


def config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 (Alembic is loaded only when a migration runs)

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision: the one no other revision names as its ``down_revision``, read from the revision files'
    ``revision = "NNNN"`` and ``down_revision = "NNNN"`` lines without loading Alembic (every store that opens asks
    for it; Alembic's own answer is checked against this one in tests/deploy/test_migrations.py)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (HERE / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _ASSIGNED.finditer(path.read_text()))
        if found.get("revision"):
            revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the store's migrations have {len(heads)} heads ({sorted(heads)}), not one")
    return heads.pop()


MIGRATION_TIMEOUT = 300  # seconds a migration, or the wait for another process's, may take


def apply(engine: Engine) -> None:
    """Upgrade the database to :func:`head`, holding its own lock so that replicas starting at once migrate once:
    SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory lock for the length of the transaction."""
    from alembic import command  # noqa: PLC0415

    cfg = config()
    dialect = engine.dialect.name
    options = {"sqlite_begin": "IMMEDIATE"} if dialect == "sqlite" else {}
    with engine.connect().execution_options(**options) as conn:
        # a migration, and the wait for another replica's, may take longer than one statement's time
        # (SHIPBOT_DB_STATEMENT_TIMEOUT): bounded by MIGRATION_TIMEOUT instead, for this connection only
        raw = conn.connection.driver_connection if dialect == "sqlite" else None
        before = int(raw.execute("PRAGMA busy_timeout").fetchone()[0]) if raw is not None else 0
        if raw is not None:
            raw.execute(f"PRAGMA busy_timeout={MIGRATION_TIMEOUT * 1000}")
        try:
            with conn.begin():
                if dialect == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{MIGRATION_TIMEOUT}s'")
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{MIGRATION_TIMEOUT}s'")
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(5318008)")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout={before}")
