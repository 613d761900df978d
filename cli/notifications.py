"""``shipbot notifications [--failed] [--json]``: what the outbox holds that is not delivered (pending, or given up
with its last error); and the outbox sent by a CLI run before the command exits (:func:`notifying`).

A run started here (``shipbot deploy``, ``rollback``, ``converge``, ``task``) writes its notifications in the
store like any run; the command sends what it can before it exits, waiting at most :data:`SEND_WITHIN` seconds,
and a running bot's sender (any replica) delivers whatever is left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path

import structlog

from cli.reading import open_store
from cli.settings import OperatorSettings
from deploy.errors import StoreError
from deploy.store.ports import Store
from sinks.sender import Sender

log = structlog.get_logger("shipbot.cli")
SEND_WITHIN = 5.0  # seconds a CLI run spends sending its notifications before it exits

Command = Callable[[argparse.Namespace, OperatorSettings], Coroutine[object, object, int]]


def notifying(command: Command, stores: Callable[[], list[Store]]) -> Command:
    """``command``, then the outbox of every store it opened sent for at most :data:`SEND_WITHIN` seconds."""

    async def run(args: argparse.Namespace, settings: OperatorSettings) -> int:
        try:
            return await command(args, settings)
        finally:
            for store in list(stores()):
                await send_before_exit(store)

    return run


async def send_before_exit(store: Store, within: float = SEND_WITHIN) -> None:
    sender = Sender(store)
    try:
        await asyncio.wait_for(sender.drain(within), within + 1.0)
    except (StoreError, TimeoutError) as err:  # left for a running bot's sender
        log.warning("notifications_left_to_the_bot", error=str(err) or type(err).__name__)
    finally:
        await sender.close()


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def notifications(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """The list, oldest first; exit 0 (an empty list too)."""
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else settings.data_dir
    store = open_store(settings, data_dir)
    try:
        rows = [n.shown() for n in store.outbox.listing(failed=args.failed)]
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no notification gave up" if args.failed else "nothing pending: every notification was delivered")
        return 0
    for row in rows:
        due = f"next {_when(row['next_attempt_at'])}" if row["state"] == "pending" else "gave up"
        error = f": {row['last_error']}" if row["last_error"] else ""
        print(
            f"{row['id']}  {row['sink']:<8} {row['type']:<16} {row['run_id'] or '-':<8} {row['state']:<8} "
            f"{row['attempts']} attempts, {due}{error}"
        )
    return 0
