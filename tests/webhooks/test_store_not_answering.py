"""The bot (the real bolt app against the Slack emulator, its webhook server over real HTTP, real sshd hosts) while its
SQLite store is held by another writer past SHIPBOT_DB_STATEMENT_TIMEOUT: a command typed in chat is answered
"the store is not answering" instead of nothing, a push is refused with 503 and nothing taken, so the provider's
redelivery, once the writer is gone, deploys the commit once; and chat answers as usual again."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.bot.conftest import Stack, StackFactory
from tests.webhooks.hooks import headers, payload, send
from tests.webhooks.test_push_deploys import FOLLOW_MAIN, HOOKS, deployed, until

pytestmark = pytest.mark.sshd
QUICK = {**HOOKS, "SHIPBOT_DB_STATEMENT_TIMEOUT": 0.5}


@contextmanager
def another_writer(s: Stack) -> Iterator[None]:
    """Another process holds the store's writer's lock (``BEGIN IMMEDIATE``) while the block runs."""
    path = s.store.path
    assert isinstance(path, Path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_while_the_store_is_held_chat_is_told_and_a_push_is_refused_then_taken_once_on_redelivery(
    stack: StackFactory,
) -> None:
    s = await stack(hosts=2, staging=FOLLOW_MAIN, settings=QUICK)
    port = s.running.webhook_port
    assert port
    pushed = s.repo.commit("pushed change", {"VERSION": "v2\n"})
    body = json.dumps(payload("github", str(s.repo.path), "refs/heads/main", pushed)).encode()
    head = headers("github", body, "delivery-1")

    with another_writer(s):
        await s.say("alice", "history staging")
        told = await s.bot_message(lambda m: "store is not answering" in m.text, 30)
        status, refused = await send(port, "github", body, head)

    assert "try again in a moment" in told.text
    assert (503, "the store is not answering; try again in a moment.") == (status, refused.get("error")), refused
    assert [] == deployed(s)
    status, taken = await send(port, "github", body, head)  # the provider redelivers the same delivery
    assert 202 == status, taken
    await until(lambda: bool(deployed(s)), what="the deploy")
    status, again = await send(port, "github", body, head)
    assert 200 == status and "received before" in again["ignored"]

    await s.say("alice", "history staging")
    answer = await s.bot_message(lambda m: m.ts != told.ts and pushed[:7] in f"{m.text}{m.blocks}", 30)
    assert "not answering" not in answer.text
    assert [pushed] == deployed(s), "deployed once"
