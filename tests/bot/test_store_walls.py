"""A database that holds the bot's statements on a lock never freezes the bot: the real bolt app against the Slack
emulator, deploying to a real sshd host, while another session locks what the run writes for 15 s.

PostgreSQL: a second connection takes ``LOCK TABLE host_steps IN ACCESS EXCLUSIVE MODE`` in an open transaction
(every step record waits on it, and so does every read of the steps). SQLite: a second connection holds
``BEGIN IMMEDIATE`` (no other writer, the bot's included, writes until it commits). Meanwhile people keep typing:
each new command is acknowledged within 1 s, ``/healthz`` answers within 1 s (503 naming the database would be right
too), the run's lease is never lost or taken over (same owner, same generation, never expired by the database's
clock), and once the lock is gone the deploy finishes: green, with every step of the host recorded. The event loop
never stalls (a watchdog thread would name the call that held it, with the loop's stack).

On SQLite no write lands while the other connection holds the lock, the inbox's included: the acknowledgement waits
for that write at most half a second (``bot.app.ACK_WAIT``), and the request is decided once the write lands.

The bot's statements get ``SHIPBOT_DB_STATEMENT_TIMEOUT=30``: a statement waits out the 15 s lock instead of failing
as "the store is not answering" (what a longer lock does is the outage tests' subject). When this fails the message
names each stall of the event loop with the loop's stack at that moment.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from sqlalchemy.engine import make_url

from deploy.store.database import Database
from slack_emulator.server import SlackEmulator
from tests.bot.conftest import Stack, StackFactory, dump
from tests.engine.conftest import PIPELINE
from tests.support.loop_watch import LoopWatch

pytestmark = pytest.mark.sshd

LOCKED_FOR = 15.0
ACK_LIMIT = 1.0
HEALTH_LIMIT = 1.0
#: the build step runs long enough that its record is written while the table is locked
SLOW_BUILD = {**PIPELINE, "build": ["./build.sh", "sleep 2"]}


class Locker:
    """Another session that locks what the run writes for :data:`LOCKED_FOR` seconds, on a thread of its own: it lets
    go on time whatever the bot's event loop is doing (a loop frozen on the lock cannot delay its release)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.held = threading.Event()
        self.released = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="locker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _hold(self) -> None:
        if self.url.get_backend_name() == "postgresql":
            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(dsn) as conn:
                conn.execute("LOCK TABLE host_steps IN ACCESS EXCLUSIVE MODE")  # in the transaction psycopg opened
                self._wait()
                conn.commit()
        else:
            lite = sqlite3.connect(str(self.url.database), isolation_level=None, timeout=10)
            try:
                lite.execute("BEGIN IMMEDIATE")
                self._wait()
                lite.execute("COMMIT")
            finally:
                lite.close()
        self.released.set()

    def _wait(self) -> None:
        self.held.set()
        time.sleep(LOCKED_FOR)


async def acknowledged_in(emu: SlackEmulator, ts: str, timeout: float = 40.0) -> float:
    """Seconds from ``ts`` being posted until the bot acknowledged every event Slack sent for it (inf: not within
    ``timeout``)."""
    deliveries = [d for d in await emu.deliveries("events_api") if d.payload.get("event", {}).get("ts") == ts]
    assert deliveries, f"no event was sent for {ts}"
    try:
        for delivery in deliveries:
            await emu.wait_acked(delivery, timeout)
    except TimeoutError:
        return float("inf")
    acked = [a.acked_at for d in deliveries for a in d.attempts if a.acked_at is not None]
    return max(acked) - float(ts)


async def healthz(port: int) -> tuple[float, int, dict[str, Any]]:
    """How long ``/healthz`` took to answer, its status and body (status 0: no answer within 20 s)."""
    asked = time.monotonic()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=20)) as resp,
        ):
            body = await resp.json()
            return time.monotonic() - asked, resp.status, body
    except TimeoutError:
        return time.monotonic() - asked, 0, {}


def lease_of(reader: Database, run_id: str) -> tuple[str, int, float] | None:
    """The run's lease: owner, generation, seconds until it expires by the database's clock."""
    row = reader.execute(
        f"SELECT owner, generation, expires_at - {reader.now} FROM leases WHERE run_id = ?", (run_id,)
    ).fetchone()
    return (str(row[0]), int(row[1]), float(row[2])) if row else None


_OWN = ThreadPoolExecutor(2, thread_name_prefix="walls-reader")  # the test's reads never queue behind the bot's


async def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(_OWN, fn, *args)


async def recorded_end(reader: Database, run_id: str, within: float = 30.0) -> str:
    """The run's state in the store once it is no longer running (its message may be posted a moment before)."""
    deadline = time.monotonic() + within
    while True:
        row = await off_loop(lambda: reader.execute("SELECT state FROM runs WHERE run_id = ?", (run_id,)).fetchone())
        state = str(row[0]) if row else "missing"
        if state not in ("running", "waiting") or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.2)


async def while_locked(
    s: Stack, reader: Database, run_id: str, locker: Locker, every: float = 1.5
) -> tuple[list[float], list[tuple[float, int, dict[str, Any]]], list[tuple[str, int, float] | None]]:
    """Until the lock is released: a new command typed, ``/healthz`` asked and the lease read every ``every``
    seconds. (ack seconds, health answers, lease samples)."""
    acks: list[Awaitable[float]] = []
    health: list[tuple[float, int, dict[str, Any]]] = []
    samples: list[tuple[str, int, float] | None] = []
    users = ["alice", "bob", "carol"]
    n = 0
    while not locker.released.is_set():
        ts = await s.say(users[n % len(users)], "status staging")
        acks.append(asyncio.ensure_future(acknowledged_in(s.emu, ts)))
        health.append(await healthz(s.running.ops_port))
        samples.append(await off_loop(lease_of, reader, run_id))
        n += 1
        await asyncio.sleep(every)
    return list(await asyncio.gather(*acks)), health, samples


async def test_a_table_locked_for_15_s_freezes_neither_acks_nor_health_nor_the_lease(
    database_url: str, stack: StackFactory, tmp_path: Path
) -> None:
    # database_url before stack: the bot stops before its database is dropped
    on_pg = database_url.startswith("postgresql")
    s = await stack(
        hosts=2,
        pipeline=SLOW_BUILD,
        settings={"SHIPBOT_DB_STATEMENT_TIMEOUT": 30} | ({"SHIPBOT_DATABASE_URL": database_url} if on_pg else {}),
    )
    reader = await off_loop(Database, database_url)
    try:
        await s.say("alice", "deploy main to staging")
        report = await s.bot_message(lambda m: "run_cancel" in str(m.blocks) and "main" in m.text, timeout=60)
        running = await off_loop(lambda: reader.execute("SELECT run_id FROM runs WHERE state = 'running'").fetchall())
        assert len(running) == 1, running
        run_id = str(running[0][0])
        before = await off_loop(lease_of, reader, run_id)
        assert before is not None

        async with LoopWatch(threshold=ACK_LIMIT) as watch:  # a stall as long as an ack may take
            locker = Locker(database_url)
            locker.start()
            await off_loop(locker.held.wait, 30)
            acks, health, samples = await while_locked(s, reader, run_id, locker)
            try:
                final = await s.bot_message(lambda m: m.thread_ts == report.ts and "finished" in m.text, timeout=90)
            except TimeoutError:
                final = None

        seen = (
            f"acknowledgements took {[round(a, 2) for a in acks]} s; /healthz: "
            f"{[(round(t, 2), status) for t, status, _ in health]}; lease {before} then {samples}\n{watch.report()}"
        )
        assert not watch.stalls, seen
        assert all(t < HEALTH_LIMIT for t, _, _ in health), seen
        for _t, status, body in health:
            assert status == 200 or (status == 503 and body["database"]["ok"] is False), body
        assert all(x is not None and x[:2] == before[:2] and x[2] > 0 for x in samples), seen
        assert final is not None, f"the deploy did not finish within 90 s of the lock's end\n{await dump(s.emu)}"
        assert final.text.startswith(":large_green_circle:"), await dump(s.emu)
        assert await recorded_end(reader, run_id) == "success", await dump(s.emu)
        steps = await off_loop(
            lambda: [r[0] for r in reader.execute("SELECT step FROM host_steps WHERE run_id = ?", (run_id,))]
        )
        assert sorted(steps) == sorted(["upload", "build 1", "build 2", "switch", "restart", "healthcheck"]), steps
        assert max(acks) < ACK_LIMIT, seen
        print(seen)  # the figures, with -s
    finally:
        await off_loop(reader.close)
