"""A replica's outbox sender in a process of its own (the bot's loop, :func:`cli.loops.deliver`), so a test can
SIGKILL it mid-delivery: ``python -m tests.support.outbox_sender DATABASE_URL CLAIM_FOR``."""

from __future__ import annotations

import asyncio
import sys

from cli.loops import deliver
from deploy.store.database import Database
from deploy.store.tables import Store
from sinks.sender import Sender


async def main(url: str, claim_for: float) -> None:
    store = Store(Database.open(url))
    await deliver(Sender(store, first_delay=0.2, longest=0.5, claim_for=claim_for), asyncio.Event(), every=0.1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
