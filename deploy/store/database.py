"""The database behind the store: SQLite (one file, the default) or PostgreSQL (shared by several replicas), reached
through SQLAlchemy 2.0 Core; every store module writes its SQL once, through this facade.

Which engine: ``SHIPBOT_DATABASE_URL`` (read by :mod:`cli.settings`) when set, ``postgresql://``,
``postgresql+psycopg://`` or ``postgresql+asyncpg://`` (all driven by psycopg 3, see :func:`normalise_url`); else
``<data_dir>/shipbot.sqlite3`` in WAL mode, as before. The schema is applied with Alembic
(:mod:`deploy.store.migrations`) when a :class:`Database` is opened, or by hand with ``shipbot db upgrade``.

The facade (:class:`Database`) has the call shape the modules had with ``sqlite3``::

    db.execute("SELECT state FROM runs WHERE run_id = ?", (run_id,)).fetchone()   # one statement, committed
    db.execute("INSERT INTO host_steps ...", row, durable=False)  # may be lost if the server crashes (see execute)
    db.executemany("INSERT INTO t VALUES (?, ?) ON CONFLICT DO NOTHING", rows)
    with db.transaction() as tx:              # all or nothing; SQLite: BEGIN IMMEDIATE (one writer at a time)
        tx.execute(...)                       # same execute/executemany as db
    db.now                                    # SQL for "seconds since the epoch by the database's clock"

Every statement has a bounded time (``statement_timeout``, SHIPBOT_DB_STATEMENT_TIMEOUT, default
:data:`STATEMENT_TIMEOUT` seconds): PostgreSQL's ``statement_timeout`` and ``lock_timeout`` per session, SQLite's
``busy_timeout``, and the wait for a pooled connection. A connection the server dropped (restart, a killed backend)
is replaced before the statement is sent; while the server does not accept connections the facade tries again
until that time is up. Whatever the driver raises (SQLAlchemy, psycopg, sqlite3) leaves the facade as the product's
:class:`~deploy.errors.StoreError`: :class:`~deploy.errors.StoreUnavailable` when the database did not answer in
time (callers in loops log it and try again on their next tick; the bot tells the person "the store is not
answering"), :class:`~deploy.errors.StoreConflict` when a key refused a write.

Parameters stay ``?`` placeholders (turned into bound parameters; never formatted into the text). A result has
``fetchone()``, ``fetchall()``, ``rowcount`` and iterates over rows, already read from the database.

SQL must be valid on both engines:

- ``INSERT OR REPLACE`` becomes ``INSERT ... ON CONFLICT (key) DO UPDATE SET col = excluded.col``, ``INSERT OR
  IGNORE`` becomes ``INSERT ... ON CONFLICT DO NOTHING`` (both engines accept them); ``rowcount`` says whether a row
  was written, which is how a module claims something atomically (never check-then-write);
- ``user`` is a reserved word on PostgreSQL: write ``"user"``; no ``rowid``, no ``PRAGMA``, no ``julianday``
  (:attr:`Database.now` is the clock); ``REAL`` columns are ``sa.Double`` in migrations (PostgreSQL's ``REAL`` is
  single precision); booleans are ``INTEGER`` 0/1;
- a parameter the database cannot type by itself (``? IS NULL``) is built into the text in Python instead;
- PostgreSQL runs READ COMMITTED: a transaction does not lock what it only reads. What must be exclusive is
  decided by one statement on a key (``INSERT ... ON CONFLICT DO NOTHING``, ``UPDATE ... WHERE state = ?``) or by
  ``SELECT ... FOR UPDATE`` on PostgreSQL (:attr:`Database.for_update`).

How a module declares its own table (in the style of :mod:`deploy.store.waiting`):

1. An Alembic revision ``deploy/store/migrations/versions/NNNN_<what>.py`` (copy ``0001_baseline.py``'s header; its
   ``down_revision`` is the current head). Its ``upgrade()`` creates the table with ``sa.Text``/``sa.Integer``/
   ``sa.Double`` columns and its indexes. Expand first: only add (tables, nullable or defaulted columns, indexes), so
   the previous release keeps working against the upgraded database.
2. The class takes the handle (``def __init__(self, db: Database)``) and calls ``self._db.execute(sql, (a, b))``
   with ``?`` placeholders, ``with self._db.transaction() as tx:`` for several statements, :data:`DatabaseError`
   for failures, and ``db.now`` in the SQL for every expiry and age (the database's clock, never a replica's).
3. Code on the event loop awaits it through the store's door (``await db.door(table.method, ...)``,
   :mod:`deploy.store.door`); the use cases see it through an async port (:mod:`deploy.store.ports`).
4. Its tests take the ``database_url`` fixture (``tests/conftest.py``), so they run on a SQLite file and on a fresh
   PostgreSQL database; a second ``Database(url)`` acts as another replica.
"""

from __future__ import annotations

import contextlib
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from deploy.errors import StoreConflict, StoreError, StoreUnavailable
from deploy.store.door import StoreDoor, StoreOnEventLoop, on_event_loop
from deploy.store.statements import NOW, SQLITE_FILE, SQLITE_UNAVAILABLE, STATEMENT_TIMEOUT, Rows

log = structlog.get_logger("shipbot.store")
FIRST_PAUSE = 0.05  # seconds before asking again a database that refused a connection (doubling, up to half a second)

_POSTGRES_DRIVERS = ("postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg", "postgres")


class UnsupportedDatabase(ValueError):
    """SHIPBOT_DATABASE_URL names an engine shipbot does not run on."""


def normalise_url(url: str) -> str:
    """A URL SQLAlchemy opens with the installed driver: every PostgreSQL spelling becomes ``postgresql+psycopg``."""
    parsed = make_url(url)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite":
        return url
    raise UnsupportedDatabase(
        f"SHIPBOT_DATABASE_URL uses {parsed.drivername!r}: shipbot runs on postgresql://user:password@host/db "
        "or, when it is unset, on SQLite in the data dir"
    )


def masked(url: str) -> str:
    """The URL with its password replaced by ``***``: the only form that is logged or shown."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<invalid database URL>"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@lru_cache(maxsize=512)
def _compiled(sql: str) -> tuple[sa.TextClause, int]:
    """``?`` placeholders (outside quotes) become ``:p0, :p1 ...`` of a ``text()`` clause; colons are escaped."""
    out: list[str] = []
    count = 0
    for part in re.split(r"('(?:[^']|'')*'|\"[^\"]*\")", sql):
        if part.startswith(("'", '"')):
            out.append(part.replace(":", r"\:"))
            continue
        pieces = part.replace(":", r"\:").split("?")
        for i, piece in enumerate(pieces):
            out.append(piece)
            if i < len(pieces) - 1:
                out.append(f":p{count}")
                count += 1
    return sa.text("".join(out)), count


def _bind(count: int, params: Sequence[Any]) -> dict[str, Any]:
    if len(params) != count:
        raise ValueError(f"the statement has {count} placeholders but {len(params)} values were given")
    return {f"p{i}": v for i, v in enumerate(params)}


def _run(conn: Connection, sql: str, params: Sequence[Any]) -> Rows:
    clause, count = _compiled(sql)
    result = conn.execute(clause, _bind(count, params))
    if result.returns_rows:
        return Rows([tuple(r) for r in result.fetchall()], result.rowcount, list(result.keys()))
    return Rows([], result.rowcount)


def _run_many(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> Rows:
    if not rows:
        return Rows([], 0)
    clause, count = _compiled(sql)
    result = conn.execute(clause, [_bind(count, r) for r in rows])
    return Rows([], result.rowcount)


@dataclass
class Transaction:
    """Statements inside one :meth:`Database.transaction`."""

    conn: Connection
    now: str
    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = (), *, durable: bool = True) -> Rows:
        """``durable`` is the transaction's: it commits as a whole."""
        return _run(self.conn, sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Rows:
        return _run_many(self.conn, sql, rows)


@dataclass
class Timings:
    """Durations of store calls (seconds), for ``/metrics``: a callback set by the composition root."""

    observe: Callable[[str, float], None] = field(default=lambda _kind, _seconds: None)


class Database:
    """A SQLAlchemy engine with a small pool, the schema applied (Alembic head), and the facade described above."""

    def __init__(self, url: str, *, upgrade: bool = True, statement_timeout: float = STATEMENT_TIMEOUT) -> None:
        self.refuse_on_loop = False  # True: a statement issued on an event loop's thread raises (deploy.store.door)
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.now = NOW[self.dialect]
        self.for_update = " FOR UPDATE" if self.dialect == "postgresql" else ""
        self.path = Path(parsed.database) if self.dialect == "sqlite" and parsed.database else None
        self.statement_timeout = statement_timeout
        self.timings = Timings()
        self.door = StoreDoor(self.dialect, memory=self.path is None and self.dialect == "sqlite")  # (store_door)
        self.engine = _engine(parsed, timeout=statement_timeout)
        # PostgreSQL: records that need not wait for the server's disk go through their own small pool whose sessions
        # commit asynchronously, one statement each in autocommit (one round trip)
        self._relaxed = (
            _engine(parsed, relaxed=True, timeout=statement_timeout) if self.dialect == "postgresql" else self.engine
        )
        if upgrade:
            self.upgrade()

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, statement_timeout: float = STATEMENT_TIMEOUT) -> Database:
        return cls(url, upgrade=upgrade, statement_timeout=statement_timeout)

    @classmethod
    def for_data_dir(
        cls, data_dir: Path, url: str | None = None, statement_timeout: float = STATEMENT_TIMEOUT
    ) -> Database:
        """``url`` when given (SHIPBOT_DATABASE_URL), else the SQLite file in ``data_dir``."""
        if url:
            return cls(url, statement_timeout=statement_timeout)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_url(data_dir / SQLITE_FILE), statement_timeout=statement_timeout)

    @property
    def masked_url(self) -> str:
        return masked(self.url)

    @property
    def where(self) -> str:
        """Where the store is, as errors name it: the SQLite file, or the URL with its password masked."""
        return str(self.path) if self.path is not None else self.masked_url

    def clock(self) -> float:
        """Seconds since the epoch by the database's clock (one statement; see :class:`deploy.store.clock.StoreClock`
        for a clock that asks the database only now and then)."""
        row = self.execute(f"SELECT {self.now}").fetchone()
        assert row is not None
        return float(row[0])

    def close(self) -> None:
        self.door.close()
        self.engine.dispose()
        self._relaxed.dispose()

    # -- the facade -------------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = (), *, durable: bool = True) -> Rows:
        """One statement, committed when it returns (atomic by itself).

        ``durable=False``: a record that may be lost if the database *server* crashes within a second of the commit
        (PostgreSQL ``synchronous_commit = off`` for this transaction: no wait for the disk, about 4 ms less per
        write on a disk whose fsync is slow; other sessions see it at once). Only for rows nothing depends on for
        safety: a step's result, a step's process group. SQLite ignores it (synchronous=NORMAL already)."""
        started = time.perf_counter()
        if not durable and self.dialect == "postgresql":
            with self._mapped(), self._checkout(self._relaxed) as conn:
                rows = _run(conn, sql, params)
            self.timings.observe("statement", time.perf_counter() - started)
            return rows
        with self._single() as conn:
            rows = _run(conn, sql, params)
        self.timings.observe("statement", time.perf_counter() - started)
        return rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Rows:
        started = time.perf_counter()
        with self._single() as conn:
            out = _run_many(conn, sql, rows)
        self.timings.observe("statement", time.perf_counter() - started)
        return out

    @contextlib.contextmanager
    def _single(self) -> Iterator[Connection]:
        """A connection for one statement: SQLite runs it in the driver's autocommit (one statement is atomic by
        itself; no BEGIN/COMMIT round), PostgreSQL in a transaction of its own."""
        options = {"sqlite_begin": ""} if self.dialect == "sqlite" else {}
        with self._mapped(), self._checkout(self.engine, options) as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """All or nothing. SQLite: ``BEGIN IMMEDIATE`` (the writer's lock from the start, so a read-then-write
        cannot interleave with another writer). PostgreSQL: READ COMMITTED; decide with keys or ``FOR UPDATE``."""
        started = time.perf_counter()
        options = {"sqlite_begin": "IMMEDIATE"} if self.dialect == "sqlite" else {}
        with self._mapped(), self._checkout(self.engine, options) as conn, conn.begin():
            yield Transaction(conn, self.now, self.dialect)
        self.timings.observe("transaction", time.perf_counter() - started)

    def ping(self) -> float:
        """``SELECT 1``; its latency in seconds (raises :class:`StoreUnavailable` when the database does not
        answer; asked once, never tried again: /healthz says what is now)."""
        started = time.perf_counter()
        with self._mapped(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return time.perf_counter() - started

    # -- the one boundary between the driver's errors and the product's ----------------------------------------

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        """What the driver raises inside leaves as a :class:`StoreError` (the driver's error as its cause)."""
        if self.refuse_on_loop and on_event_loop():
            raise StoreOnEventLoop("a store statement on the event loop: await it through the store's door")
        try:
            yield
        except exc.SQLAlchemyError as err:
            raise translated(err, self.where) from err

    def _checkout(self, engine: Engine, options: dict[str, Any] | None = None) -> Connection:
        """A connection from ``engine``'s pool (a dropped one is replaced first: ``pool_pre_ping``). While the
        database does not accept connections (a restart, a failover) it is asked again, until the statement's
        time is up; nothing has been sent yet, so trying again cannot write anything twice."""
        deadline = time.monotonic() + self.statement_timeout
        pause = FIRST_PAUSE
        while True:
            try:
                return engine.connect().execution_options(**(options or {}))
            except exc.SQLAlchemyError as err:
                if not isinstance(translated(err, self.where), StoreUnavailable) or time.monotonic() >= deadline:
                    raise
                if pause == FIRST_PAUSE:  # once per statement, not once per try
                    log.warning("database_not_answering", database=self.where, error=type(err).__name__)
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 0.5)

    # -- schema ---------------------------------------------------------------------------------------------

    def revision(self) -> str | None:
        """The Alembic revision the database is at (None: never migrated)."""
        with self._mapped(), self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(sa.text("SELECT version_num FROM alembic_version")).first()
        return str(row[0]) if row else None

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to the newest revision (nothing when it is there); (from, to)."""
        from deploy.store.migrations import apply, head  # noqa: PLC0415 (Alembic is loaded only when a migration runs)

        before = self.revision()
        target = head()
        if before == target:
            return before, target
        with _UPGRADING, self._mapped():
            apply(self.engine)
        return before, target


_UPGRADING = threading.Lock()  # one migration at a time in this process (others wait on the database's own lock)


_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)


def translated(err: exc.SQLAlchemyError, where: str) -> StoreError:
    """The product's error for what the driver raised about the database at ``where``."""
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, exc.IntegrityError):
        return StoreConflict(f"the database ({where}) refused a write: {reason}")
    unavailable = isinstance(err, _UNAVAILABLE) or getattr(err, "connection_invalidated", False)
    orig = getattr(err, "orig", None)
    if unavailable and type(orig).__module__ == "sqlite3":  # SQLite names a missing table an OperationalError too
        unavailable = any(word in reason.lower() for word in SQLITE_UNAVAILABLE)
    if unavailable:
        return StoreUnavailable(where, reason)
    return StoreError(f"the database ({where}) refused a statement: {reason}")


def _engine(url: URL, *, relaxed: bool = False, timeout: float = STATEMENT_TIMEOUT) -> Engine:
    millis = max(1, round(timeout * 1000))
    if url.get_backend_name() == "postgresql":
        # a database that does not answer is an error within the statement's time; no statement waits on a lock
        # longer, and neither does the wait for a pooled connection
        options = f"-c statement_timeout={millis} -c lock_timeout={millis}"
        options += " -c synchronous_commit=off" if relaxed else ""
        return sa.create_engine(
            url,
            pool_size=2 if relaxed else 5,
            max_overflow=3 if relaxed else 5,
            pool_timeout=timeout,
            pool_pre_ping=True,  # a connection the server dropped (restart, failover) is replaced, not used
            pool_recycle=1800,
            connect_args={"connect_timeout": max(2, math.ceil(timeout)), "options": options},
            isolation_level="AUTOCOMMIT" if relaxed else "READ COMMITTED",
        )
    memory = url.database in (None, "", ":memory:")
    engine = sa.create_engine(
        url,
        connect_args={"timeout": timeout, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's
        if not memory:
            # another process writing the file now keeps it in its mode: the next connection switches it to WAL,
            # and this one works in the file's mode meanwhile (a migration then waits for that writer as it should)
            with contextlib.suppress(sqlite3.OperationalError):
                dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute(f"PRAGMA busy_timeout={millis}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode:  # "" for one statement in autocommit
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
