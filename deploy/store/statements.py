"""What every store module writes its statements against, without SQLAlchemy: the :class:`Executor` shape (a
:class:`~deploy.store.database.Database` or one of its transactions), the :class:`Rows` a statement returns, the
errors it raises, and :func:`read_only`, a SQLite store read through the standard library's ``sqlite3``.

The store's modules import from here, and :class:`~deploy.store.database.Database` only for their annotations (or
inside the function that opens one), so that importing them loads no SQLAlchemy: ``shipbot history`` on the
default SQLite store reads it through :func:`read_only` and answers without paying for SQLAlchemy (about a third
of a second of imports) or for the schema check of a :class:`Database` that opens. What it reads is the same SQL,
written once in the store's modules: both engines take it (see :mod:`deploy.store.database`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from deploy.errors import StoreConflict, StoreError, StoreUnavailable

DatabaseError = StoreError  # what a failing statement raises, whichever the engine (see deploy.store.database)
IntegrityError = StoreConflict  # a statement a unique key or constraint refused

STATEMENT_TIMEOUT = 5.0  # seconds a statement, a lock wait or the wait for a connection may take (the default)
SQLITE_FILE = "shipbot.sqlite3"  # the store's file in the data dir when SHIPBOT_DATABASE_URL is not set

# seconds since the epoch by the database's own clock
NOW = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",  # millisecond precision, the one machine's clock
    "postgresql": "CAST(extract(epoch from clock_timestamp()) AS DOUBLE PRECISION)",  # the server's, never a replica's
}
# what SQLite says when another writer holds the file past busy_timeout, or the file cannot be reached
SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o")


class Rows:
    """What one statement returned, already read: rows (tuples) and how many rows it changed."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int, keys: Sequence[str] = ()) -> None:
        self.rows = rows
        self.rowcount = rowcount
        self.keys = list(keys)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


class Executor(Protocol):
    """A :class:`~deploy.store.database.Database` or one of its transactions: where a module's statements run."""

    @property
    def now(self) -> str: ...

    @property
    def dialect(self) -> str: ...

    def execute(self, sql: str, params: Sequence[Any] = (), *, durable: bool = True) -> Rows: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Rows: ...


class ReadOnlySqlite:
    """A SQLite store file read through ``sqlite3``: SELECTs only (a write raises), each statement bounded by
    ``timeout`` seconds of waiting for a writer, errors as the store's (:class:`~deploy.errors.StoreUnavailable`
    for a file another process holds too long, :class:`~deploy.errors.StoreError` otherwise)."""

    dialect = "sqlite"
    now = NOW["sqlite"]

    def __init__(self, path: Path, timeout: float = STATEMENT_TIMEOUT) -> None:
        self.path = path
        # mode=rw: an existing file only (never creates a store); query_only: nothing this reader runs writes
        self._conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout, check_same_thread=False)
        self._conn.execute("PRAGMA query_only=ON")

    def execute(self, sql: str, params: Sequence[Any] = (), *, durable: bool = True) -> Rows:
        try:
            cur = self._conn.execute(sql, tuple(params))
            return Rows([tuple(r) for r in cur.fetchall()], cur.rowcount, [d[0] for d in cur.description or ()])
        except sqlite3.Error as err:
            reason = str(err).strip() or type(err).__name__
            if any(word in reason.lower() for word in SQLITE_UNAVAILABLE):
                raise StoreUnavailable(str(self.path), reason) from err
            raise StoreError(f"the database ({self.path}) refused a statement: {reason}") from err

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Rows:
        raise StoreError(f"the store at {self.path} is open for reading only")

    def close(self) -> None:
        self._conn.close()


def read_only(path: Path, head: str, timeout: float = STATEMENT_TIMEOUT) -> ReadOnlySqlite | None:
    """The SQLite store at ``path`` for reading, when its schema is at revision ``head`` (the newest this release
    knows); None when there is no such file or its schema is another revision (the caller then opens the store
    with :class:`~deploy.store.database.Database`, which migrates it)."""
    if not path.is_file():
        return None
    try:
        reader = ReadOnlySqlite(path, timeout)
    except sqlite3.Error:
        return None
    try:
        row = reader.execute("SELECT version_num FROM alembic_version").fetchone()
    except StoreError:
        row = None
    if row is None or row[0] != head:
        reader.close()
        return None
    return reader
