"""Two replicas' senders on one store: each notification is sent by one of them at a time; one SIGKILLed
mid-delivery leaves nothing behind: the other delivers everything, in order, and only a row that was in flight at
the kill can arrive twice (with its one webhook-id, so the receiver drops it)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from deploy.store.database import Database
from deploy.store.tables import Store
from tests.support.outbox_runs import route, run
from tests.support.receivers import Receiver

SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="
ROOT = Path(__file__).parents[2]


def _replica(url: str, claim_for: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.outbox_sender", url, str(claim_for)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def test_a_replica_killed_with_twenty_undelivered_leaves_them_to_the_other(
    database_url: str, receivers: Callable[..., Awaitable[Receiver]]
) -> None:
    receiver = await receivers(delay=0.15)
    store = Store(Database.open(database_url))
    route(store, "webhook", {"url": f"{receiver.url}/hooks", "secret_env": "HOOK_SECRET"})
    route(store, "webhook", {"url": f"{receiver.url}/hooks", "secret_env": "HOOK_SECRET"}, environment="production")
    for i in range(5):
        run(store, f"s{i}")
        run(store, f"p{i}", environment="production")
    assert 20 == len(store.outbox.listing())
    doomed, survivor = _replica(database_url, 2.0), _replica(database_url, 2.0)
    try:
        end = time.monotonic() + 120  # two processes importing the bot's modules on a busy machine
        while len(receiver.arrived) < 6:
            assert time.monotonic() < end, "the replicas sent nothing"
            await asyncio.sleep(0.02)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        in_flight = len(receiver.arrived) - len(receiver.requests)
        while store.outbox.listing():
            assert time.monotonic() < end + 30, [n.shown() for n in store.outbox.listing()]
            await asyncio.sleep(0.1)
    finally:
        for process in (doomed, survivor):
            if process.poll() is None:
                process.terminate()
                process.wait()
        store.close()
    accepted = [r for r in receiver.requests if r.status == 200]
    ids = Counter(r.headers["webhook-id"] for r in accepted)
    assert 20 == len(ids)
    twice = [i for i, n in ids.items() if n > 1]
    assert len(twice) <= max(in_flight, 0) <= 2  # only what the killed replica had on the wire
    for environment, prefix in (("staging", "s"), ("production", "p")):
        seen: list[tuple[str, str]] = []
        for r in accepted:
            doc = r.json()
            if doc["environment"] == environment and (doc["run_id"], doc["type"]) not in seen:
                seen.append((doc["run_id"], doc["type"]))
        expected = [(f"{prefix}{i}", t) for i in range(5) for t in ("run.started", "run.succeeded")]
        assert expected == seen
