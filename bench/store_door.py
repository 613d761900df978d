"""The store's two possible async doors, measured on this store's own statements: ``python -m bench.store_door``.

(a) **the door** (:mod:`deploy.store.door`): the synchronous facade (:class:`deploy.store.database.Database`, SQLAlchemy
Core over ``sqlite3`` / psycopg 3) called on a pool of the store's own threads, awaited;
(b) **SQLAlchemy's asyncio extension**: ``create_async_engine`` with ``sqlite+aiosqlite`` and ``postgresql+psycopg``
(psycopg 3's async connections), the same SQL text, the same session settings (WAL, ``busy_timeout``;
``statement_timeout``, ``lock_timeout``, and the relaxed ``synchronous_commit = off`` autocommit pool for a step
record, as the facade does).

Three statements a run makes: a host step's record (the fenced ``INSERT ... SELECT ... WHERE EXISTS (lease)`` of
:meth:`deploy.store.fencing.RunWrites.step`), a lease renewal (:func:`deploy.store.leases.renew`) and a run read
(:meth:`deploy.store.tables.Store.get_run`). Each one alone (one caller, ``-n`` calls), then from 20 callers at once
(``-c``; each ``-n / 4`` calls): the latency of each call (p50/p99, ms, the await as the caller sees it) and the
event loop's lag meanwhile (a task that sleeps 1 ms and records how late it wakes: p99 and max, ms). The lag is what
a Slack acknowledgement or an SSH channel waits behind.

SQLite: a file in a temporary folder. PostgreSQL: a fresh database on ``--pg`` (default 127.0.0.1:5432, user
postgres), dropped afterwards; skipped when nothing answers there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.store import pg_answers, postgres
from deploy.records import RunRecord
from deploy.store import leases
from deploy.store.database import Database, _bind, _compiled, sqlite_url
from deploy.store.door import StoreDoor
from deploy.store.leases import Lease
from deploy.store.tables import _RUN_COLUMNS, Store

Call = Callable[[int], Awaitable[object]]
TTL = 3600.0  # seconds: no lease of the bench expires while it is measured on a loaded machine
TIMEOUT = 5.0  # seconds, SHIPBOT_DB_STATEMENT_TIMEOUT's default, on both doors

STEP_SQL = (
    "INSERT INTO host_steps (run_id, host, step, ok, exit_status, duration, output_tail, error, at) "
    "SELECT ?, ?, ?, CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS DOUBLE PRECISION), ?, ?, "
    "CAST(? AS DOUBLE PRECISION) WHERE {fence}"
)
READ_SQL = f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?"  # column names; values are bound


# -- (b) SQLAlchemy's asyncio extension, set up as the facade sets up its engines ------------------------------------


def async_engines(url: str) -> tuple[AsyncEngine, AsyncEngine]:
    """(durable, relaxed) async engines on ``url``, with the facade's session settings."""
    parsed = sa.make_url(url)
    millis = round(TIMEOUT * 1000)
    if parsed.get_backend_name() == "postgresql":
        target = parsed.set(drivername="postgresql+psycopg")
        options = f"-c statement_timeout={millis} -c lock_timeout={millis}"

        def pg(relaxed: bool) -> AsyncEngine:
            return create_async_engine(
                target,
                pool_size=2 if relaxed else 5,
                max_overflow=3 if relaxed else 5,
                pool_timeout=TIMEOUT,
                pool_pre_ping=True,
                connect_args={"options": options + (" -c synchronous_commit=off" if relaxed else "")},
                isolation_level="AUTOCOMMIT" if relaxed else "READ COMMITTED",
            )

        return pg(False), pg(True)
    engine = create_async_engine(
        parsed.set(drivername="sqlite+aiosqlite"), connect_args={"timeout": TIMEOUT}, isolation_level="AUTOCOMMIT"
    )  # one statement is atomic by itself: autocommit, as the facade runs a single statement on SQLite

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={millis}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine, engine


async def on_async(engine: AsyncEngine, sql: str, params: tuple[object, ...]) -> sa.CursorResult[Any]:
    clause, count = _compiled(sql)
    async with engine.begin() as conn:
        result = await conn.execute(clause, _bind(count, params))
        if result.returns_rows:
            result.fetchall()
        return result


# -- the three statements through each door -------------------------------------------------------------------------


def door_calls(store: Store, door: StoreDoor, lease: Lease) -> dict[str, Call]:
    writes = store.writes(lease)

    async def step(i: int) -> object:
        return await door(writes.step, "web1", f"build{i}", True, 0, 0.5, "ok", "")

    async def renew(_i: int) -> object:
        ok = await door(writes.renew, TTL)
        assert ok
        return ok

    async def read(_i: int) -> object:  # Store.get_run's statement (without its second look at the lease)
        return await door(store.db.execute, READ_SQL, (lease.run_id,))

    return {"step record": step, "lease renewal": renew, "run read": read}


def async_calls(durable: AsyncEngine, relaxed: AsyncEngine, db: Database, lease: Lease) -> dict[str, Call]:
    step_sql = STEP_SQL.format(fence=leases.fence(db))
    renew_sql = (
        f"UPDATE leases SET heartbeat_at = {db.now}, expires_at = {db.now} + ? "
        f"WHERE run_id = ? AND owner = ? AND generation = ? AND expires_at > {db.now}"
    )

    async def step(i: int) -> object:
        params = (lease.run_id, "web1", f"build{i}", 1, 0, 0.5, "ok", "", time.time(), *lease.params)
        result = await on_async(relaxed, step_sql, params)
        assert result.rowcount == 1
        return result

    async def renew(_i: int) -> object:
        result = await on_async(durable, renew_sql, (TTL, lease.run_id, lease.owner, lease.generation))
        assert result.rowcount == 1
        return result

    async def read(_i: int) -> object:
        return await on_async(durable, READ_SQL, (lease.run_id,))

    return {"step record": step, "lease renewal": renew, "run read": read}


# -- measuring ------------------------------------------------------------------------------------------------------


async def lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    """How late the loop wakes a task that sleeps 1 ms, until ``stop``."""
    while not stop.is_set():
        asked = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(max(0.0, time.perf_counter() - asked - 0.001))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def measure(call: Call, calls: int, callers: int) -> dict[str, float]:
    for i in range(20):  # warm-up: connections opened, statements compiled
        await call(-1 - i)
    latencies: list[float] = []
    lags: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(lag_probe(stop, lags))
    each = max(1, calls // callers)

    async def caller(k: int) -> None:
        for i in range(each):
            asked = time.perf_counter()
            await call(k * each + i)
            latencies.append(time.perf_counter() - asked)

    started = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(callers)))
    wall = time.perf_counter() - started
    stop.set()
    await probe
    return {
        "p50": pct(latencies, 0.5),
        "p99": pct(latencies, 0.99),
        "mean": statistics.fmean(latencies) * 1000,
        "ops_s": len(latencies) / wall,
        "lag_p99": pct(lags, 0.99) if lags else 0.0,
        "lag_max": max(lags, default=0.0) * 1000,
    }


def new_run(store: Store) -> Lease:
    rid = f"bench{uuid.uuid4().hex[:8]}"  # an environment of its own: one run at a time per environment
    return store.start_run(RunRecord(rid, "deploy", "shop", rid, "U0", "main", "0" * 40, "r", "running", 1.0), "x")


async def engine_figures(url: str, calls: int, callers: int) -> dict[str, dict[str, dict[str, float]]]:
    """{statement + mode: {door: figures, asyncio: figures}} on ``url``."""
    db = Database(url, statement_timeout=TIMEOUT)
    store = Store(db, lease_ttl=TTL)
    door = store.door  # the store's own (Database.door): its threads, as the bot awaits them
    durable, relaxed = async_engines(db.url)
    out: dict[str, dict[str, dict[str, float]]] = {}
    try:
        ours = door_calls(store, door, new_run(store))
        theirs = async_calls(durable, relaxed, db, new_run(store))
        for mode, (n, k) in {"1 caller": (calls, 1), f"{callers} callers": (calls, callers)}.items():
            for turn, name in enumerate(ours):
                # alternate which goes first, so neither always runs on the warmer cache
                order = [("door", ours[name]), ("asyncio", theirs[name])][:: 1 if turn % 2 == 0 else -1]
                out[f"{name}, {mode}"] = {door_name: await measure(call, n, k) for door_name, call in order}
    finally:
        await durable.dispose()
        await relaxed.dispose()
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="calls per statement and mode (default 1000)")
    parser.add_argument("-c", type=int, default=20, help="concurrent callers (default 20)")
    parser.add_argument("--pg", default="127.0.0.1:5432", help="PostgreSQL host:port (user postgres, trust auth)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    host, port = args.pg.rsplit(":", 1)
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = asyncio.run(engine_figures(sqlite_url(Path(tmp) / "shipbot.sqlite3"), args.n, args.c))
    if pg_answers(host, int(port)):
        with postgres(host, int(port)) as url:
            results["postgresql"] = asyncio.run(engine_figures(url, args.n, args.c))
    if args.json:
        print(json.dumps(results))
        return
    print(
        f"bench.store_door: {args.n} calls per statement and mode, {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; latency and loop lag in ms"
    )
    print(
        "| engine | statement, callers | door p50 | door p99 | asyncio p50 | asyncio p99 "
        "| door ops/s | asyncio ops/s | door lag p99 / max | asyncio lag p99 / max |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for engine, rows in results.items():
        for what, pair in rows.items():
            d, a = pair["door"], pair["asyncio"]
            print(
                f"| {engine} | {what} | {d['p50']:.2f} | {d['p99']:.2f} | {a['p50']:.2f} | {a['p99']:.2f} "
                f"| {d['ops_s']:,.0f} | {a['ops_s']:,.0f} | {d['lag_p99']:.2f} / {d['lag_max']:.1f} "
                f"| {a['lag_p99']:.2f} / {a['lag_max']:.1f} |"
            )
    if "postgresql" not in results:
        print(f"PostgreSQL: nothing answers on {args.pg}; only SQLite measured")


if __name__ == "__main__":
    main()
