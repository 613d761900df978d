"""The store's schema, as Alembic revisions (``versions/``), applied by :meth:`deploy.database.Database.upgrade` at
start and by ``shipbot db upgrade``.

Every revision is *expand first*: it only adds (tables, nullable columns or columns with a default, indexes), so
the release before it keeps working against the upgraded database while replicas are replaced one by one. A column
or table is dropped only in a later release, once no running release reads it.

The first revision (``0001``) is the baseline: it creates what is missing and upgrades the shapes older releases
left in a SQLite file (a ``locks`` table without ``app``), so an existing file is migrated, never replaced.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

HERE = Path(__file__).parent


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    assert found is not None
    return found


def apply(engine: Engine) -> None:
    """Upgrade the database to :func:`head`, holding its own lock so that replicas starting at once migrate once:
    SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory lock for the length of the transaction."""
    cfg = config()
    dialect = engine.dialect.name
    options = {"sqlite_begin": "IMMEDIATE"} if dialect == "sqlite" else {}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        if dialect == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(5318008)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
