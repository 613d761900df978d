"""The JSON lines a chat deploy logs carry the run id, environment, app and user, and the command's lines the
user and channel (structlog contextvars bound at the chat entry points and in the run's task)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from cli import logs
from tests.bot.conftest import StackFactory

pytestmark = pytest.mark.sshd


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure("json", "INFO", stream)
    yield stream
    structlog.reset_defaults()


async def test_a_deploys_log_lines_carry_the_run_and_the_person(stack: StackFactory, log_lines: io.StringIO) -> None:
    s = await stack(hosts=2)

    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks))
    await s.say("bob", "status staging")
    await s.bot_message(lambda m: "consistent" in str(m.blocks))

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    received, status = [line for line in lines if line["event"] == "command_received"]
    assert "U0ALICE" == received["user"] and received["channel"].startswith("C")
    [started, finished] = [line for line in lines if line["event"] in ("run_started", "run_finished")]
    run_id = s.store.list_runs("shop", "staging")[0].run_id
    for line in (started, finished):
        assert {"run_id": run_id, "environment": "staging", "app": "shop", "user": "U0ALICE"}.items() <= line.items()
    assert "U0BOB" == status["user"] and "run_id" not in status, "the context is cleared after the run"
