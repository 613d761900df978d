"""The bot's outbox timer outlives the database going away: while PostgreSQL is stopped each round is deferred
(logged, tried again next tick), and once it is back the notifications recorded before go out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from cli.loops import deliver
from deploy.store.database import Database
from deploy.store.tables import Store
from sinks.sender import Sender
from tests.support.outbox_runs import route, run
from tests.support.pg_cluster import own_cluster
from tests.support.receivers import Receiver

SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="


async def test_the_timer_defers_while_the_database_is_down_and_delivers_once_it_is_back(
    receivers: Callable[..., Awaitable[Receiver]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = await receivers()
    with own_cluster() as cluster:
        store = Store(Database.open(cluster.create("shipbot_outbox"), statement_timeout=0.5))
        route(store, "webhook", {"url": f"{receiver.url}/h", "secret_env": "HOOK_SECRET"})
        run(store, "r1")
        await asyncio.to_thread(cluster.stop)
        stop = asyncio.Event()
        with capture_logs() as logs:
            timer = asyncio.create_task(deliver(Sender(store, first_delay=0.1), stop, every=0.1))
            try:
                end = time.monotonic() + 20
                while not any(e["event"] == "outbox_deferred" for e in logs):
                    assert time.monotonic() < end and not timer.done()
                    await asyncio.sleep(0.1)
                assert [] == receiver.requests
                await asyncio.to_thread(cluster.start)
                while len(receiver.requests) < 2:
                    assert time.monotonic() < end + 40 and not timer.done(), [e["event"] for e in logs][-5:]
                    await asyncio.sleep(0.1)
            finally:
                stop.set()
                await timer
                store.close()
    assert ["run.started", "run.succeeded"] == [r.json()["type"] for r in receiver.requests]
