"""/healthz and /metrics say how the database is: a real ops server in front of a real database (SQLite, PostgreSQL,
and a PostgreSQL URL where nothing listens)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from cli.metrics import Metrics
from cli.ops_server import start_ops_server
from deploy.store.database import Database
from deploy.store.tables import Store
from tests.support.ports import free_port

Serve = Callable[[Database, bool], Awaitable[tuple[int, Metrics]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[Any] = []

    async def start(db: Database, slack_up: bool = True) -> tuple[int, Metrics]:
        metrics = Metrics()
        runner, port = await start_ops_server(metrics, "127.0.0.1", 0, lambda: slack_up, db.ping)
        runners.append(runner)
        return port, metrics

    yield start
    for runner in runners:
        await runner.cleanup()


async def get(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, (await r.json()) if path == "/healthz" else await r.text()


async def test_healthz_is_200_with_the_databases_latency_when_it_answers(serve: Serve, database_url: str) -> None:
    db = Database(database_url)
    try:
        port, _ = await serve(db, True)
        status, body = await get(port, "/healthz")
    finally:
        db.close()
    assert (200, True, True, True) == (status, body["ok"], body["slack"], body["database"]["ok"])
    assert 0 < body["database"]["latency_ms"] < 1000


async def test_healthz_is_503_naming_the_database_when_it_does_not_answer(serve: Serve) -> None:
    db = Database(f"postgresql://postgres:secret-pw@127.0.0.1:{free_port()}/shipbot", upgrade=False)
    try:
        port, _ = await serve(db, True)
        status, body = await get(port, "/healthz")
        _, text = await get(port, "/metrics")
    finally:
        db.close()
    assert (503, False, True, False) == (status, body["ok"], body["slack"], body["database"]["ok"])
    assert "shipbot_database_up 0.0" in text
    assert "secret-pw" not in str(body) + text


async def test_metrics_show_the_stores_call_durations_and_the_last_ping(serve: Serve, database_url: str) -> None:
    store = Store(Database(database_url))
    try:
        port, metrics = await serve(store.db, True)
        store.db.timings.observe = metrics.store_call
        store.lock("shop", "staging", "U0ALICE", "demo")
        store.record_audit("U0ALICE", "lock", "staging", "{}")
        await get(port, "/healthz")
        _, text = await get(port, "/metrics")
    finally:
        store.close()
    counts = {
        line.split("{")[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("shipbot_store_seconds_count")
    }
    assert {'kind="transaction"': 1.0, 'kind="statement"': 1.0} == counts
    assert "shipbot_database_up 1.0" in text and "shipbot_database_ping_seconds" in text
