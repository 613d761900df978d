"""Runs recorded in a store the way the engine records them (its run slot, lease and end), for the outbox tests:
each start and end writes its notifications in the same transaction."""

from __future__ import annotations

import asyncio
import time

from deploy.notify.outbox import Route
from deploy.records import RunRecord
from deploy.store.tables import Store
from sinks.sender import Sender

SHA = "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d"


def route(store: Store, sink: str, target: dict[str, object], app: str = "shop", environment: str = "staging") -> None:
    store.outbox.route(app, environment, [*store.outbox.routed(app, environment), Route(sink, target)])


def run(
    store: Store, run_id: str, state: str = "success", *, app: str = "shop", environment: str = "staging",
    sha: str = SHA, kind: str = "deploy", ref: str = "main", user: str = "U0ALICE", message: str = "",
) -> None:  # fmt: skip
    """One run from start to ``state`` (success, failed, cancelled, interrupted)."""
    record = RunRecord(run_id, kind, app, environment, user, ref, sha, "20261207000000", "running", time.time(),
                       hosts=1)  # fmt: skip
    store.start_run(record, f"{app} {ref}")
    store.finish_run(run_id, state, message or f"{state} on 1 host")


async def deliver_all(store: Store, seconds: float = 20.0, first_delay: float = 0.1, longest: float = 0.2) -> None:
    """Send the store's outbox until it is empty (failing past ``seconds``), as the bot's sender would, with short
    backoffs."""
    sender = Sender(store, first_delay=first_delay, longest=longest)
    try:
        end = time.monotonic() + seconds
        while store.outbox.listing():
            assert time.monotonic() < end, f"left: {[n.shown() for n in store.outbox.listing()]}"
            await sender.tick()
            await sender.settle()
            await asyncio.sleep(0.05)
    finally:
        await sender.close()
