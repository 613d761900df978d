"""What the store costs, on SQLite and on PostgreSQL, side by side: ``python -m bench.store`` (``make bench``).

Operations a second, one caller, for what a run does to the store, through the run's fenced writes
(:class:`deploy.store.fencing.RunWrites`, each statement conditional on the run's lease): ``start_run`` + ``finish``
(the run slot, lease and record in two transactions), a step record (one row per step per host), the waiting requests'
compare and set (``add`` + ``move``), a lease renewal; and the per-step overhead: what one host step writes (its
pgid when it starts, its result and the pgid's removal when it ends: three statements), in microseconds, called
directly and awaited through the store's door (:mod:`deploy.store.door`: each statement on a store thread, as code
on the event loop calls it). ``sqlite3 (raw)`` is the same step's three statements on a bare ``sqlite3`` connection,
without fencing, as the store wrote them before SQLAlchemy.

SQLite: a file in a temporary folder (WAL, synchronous=NORMAL, as in production). PostgreSQL: a fresh database on
``--pg`` (default 127.0.0.1:5432, user postgres), dropped afterwards; skipped when nothing answers there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from deploy.records import RunRecord
from deploy.store.database import Database, sqlite_url
from deploy.store.fencing import RunWrites
from deploy.store.tables import Store
from deploy.store.waiting import APPROVED, AWAITING


def timed(n: int, op: Callable[[int], None]) -> float:
    """Seconds per call of ``op`` over ``n`` calls (after 20 warm-up calls)."""
    for i in range(20):
        op(-1 - i)
    started = time.perf_counter()
    for i in range(n):
        op(i)
    return (time.perf_counter() - started) / n


def measure(store: Store, n: int) -> dict[str, float]:
    tag = uuid.uuid4().hex[:6]

    def new_run(rid: str) -> RunWrites:
        lease = store.start_run(RunRecord(rid, "deploy", "shop", rid, "U0", "main", "0" * 40, "r", "running", 1.0), "x")
        return store.writes(lease)

    def run_pair(i: int) -> None:
        new_run(f"r{tag}{i}").finish("success", "")

    steps = new_run(f"s{tag}")

    def step(i: int) -> None:
        steps.step("web1", f"build{i}", True, 0, 0.5, "ok", "")

    hosts = new_run(f"h{tag}")

    def host_step(i: int) -> None:
        hosts.process_started("web1", i)
        hosts.step("web1", "build", True, 0, 0.5, "ok", "")
        hosts.process_ended("web1", i)

    def cas(i: int) -> None:
        rid = f"w{tag}{i}"
        store.waiting.add(rid, "shop", "bench", AWAITING, "{}", expires_at=9e9)
        store.waiting.move(rid, AWAITING, APPROVED, by="U0")

    renewing: list[RunWrites] = []

    def renew(_i: int) -> None:
        if not renewing:  # taken when its measurement starts: a lease expires after its TTL without a renewal
            renewing.append(new_run(f"l{tag}"))
        assert renewing[0].renew(store.lease_ttl)

    door = hosts.door  # the run's fenced writes awaited as the engine awaits them

    def host_step_door(i: int) -> None:
        async def three() -> None:
            await door(hosts.process_started, "web2", i)
            await door(hosts.step, "web2", "build", True, 0, 0.5, "ok", "")
            await door(hosts.process_ended, "web2", i)

        asyncio.run_coroutine_threadsafe(three(), loop).result()

    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        return {
            "start_run + finish (fenced)": timed(n, run_pair),
            "step record (fenced)": timed(n, step),
            "waiting add + CAS move": timed(n, cas),
            "lease renewal (fenced)": timed(n, renew),
            "per host step (3 fenced writes)": timed(n, host_step),
            "per host step, through the door": timed(n, host_step_door),
        }
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)


def raw_sqlite_step(path: Path, n: int) -> float:
    """The previous store's three statements for one host step, on a bare sqlite3 connection (autocommit)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")

    def op(i: int) -> None:
        db.execute("INSERT OR IGNORE INTO run_processes VALUES (?, ?, ?)", ("raw", "web1", i))
        db.execute(
            "INSERT INTO host_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("raw", "web1", "build", 1, 0, 0.5, "ok", "", time.time()),
        )
        db.execute("DELETE FROM run_processes WHERE run_id = ? AND host = ? AND pgid = ?", ("raw", "web1", i))

    try:
        return timed(n, op)
    finally:
        db.close()


def pg_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def postgres(host: str, port: int) -> Iterator[str]:
    admin = sa.create_engine(f"postgresql+psycopg://postgres@{host}:{port}/postgres", isolation_level="AUTOCOMMIT")
    name = f"shipbot_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@{host}:{port}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="calls per operation (default 2000)")
    parser.add_argument("--pg", default="127.0.0.1:5432", help="PostgreSQL host:port (user postgres, trust auth)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    host, port = args.pg.rsplit(":", 1)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shipbot.sqlite3"
        store = Store(Database(sqlite_url(path)))
        try:
            results["sqlite"] = measure(store, args.n)
        finally:
            store.close()
        raw = raw_sqlite_step(path, args.n)
    if pg_answers(host, int(port)):
        with postgres(host, int(port)) as url:
            store = Store(Database(url))
            try:
                results["postgresql"] = measure(store, args.n)
            finally:
                store.close()
    if args.json:
        print(json.dumps({"results": results, "raw_sqlite_step": raw}))
        return
    engines = list(results)
    print(f"bench.store: {args.n} calls each, one caller; {platform.python_version()}, {platform.machine()}")
    print(f"| operation | {' | '.join(f'{e} ops/s | {e} µs/op' for e in engines)} |")
    print(f"|---|{'---:|---:|' * len(engines)}")
    for op in results["sqlite"]:
        cells = " | ".join(f"{1 / results[e][op]:,.0f} | {results[e][op] * 1e6:,.0f}" for e in engines)
        print(f"| {op} | {cells} |")
    print(f"| per host step, sqlite3 (raw, before) | {1 / raw:,.0f} | {raw * 1e6:,.0f} |{' | ' * 0}")
    if "postgresql" not in results:
        print(f"PostgreSQL: nothing answers on {args.pg}; only SQLite measured")


if __name__ == "__main__":
    main()
