"""The buttons that act on a running deploy (Cancel, Continue, Abort) are answered while the bot finishes its runs
on SIGTERM, and Abort at a pause is answered during a freeze, through the real bolt app and the emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.bot.conftest import ACCESS, StackFactory

pytestmark = pytest.mark.sshd

ROLLING = {"strategy": "rolling", "batches": [1, "100%"], "pause": True}


def frozen_staging() -> dict[str, object]:
    today = datetime.now(UTC).date()
    window = {
        "environments": ["staging"],
        "from": str(today - timedelta(days=1)),
        "to": str(today + timedelta(days=1)),
        "reason": "launch week",
    }
    staging = {**ACCESS["environments"]["staging"], "force": ["U0ALICE"]}
    return {**ACCESS, "environments": {**ACCESS["environments"], "staging": staging}, "freeze": [window]}


async def test_cancel_is_answered_while_the_bot_finishes_its_runs(stack: StackFactory) -> None:
    s = await stack(
        hosts=2,
        pipeline={"build": ["sleep 4713"]},
        settings={"SHIPBOT_ON_SHUTDOWN": "finish", "SHIPBOT_SHUTDOWN_GRACE": 20},
    )
    await s.say("alice", "deploy main to staging")
    report = await s.bot_message(lambda m: "run_cancel" in str(m.blocks) and "Deploy" in m.text)
    run_id = report.text.split()[1].rstrip(":")

    stopping = asyncio.create_task(s.stop())
    await s.bot_message(lambda m: "shipbot is restarting" in m.text and "finish" in m.text, timeout=10)
    await s.emu.click("alice", "#deploys", report.ts, "run_cancel", value=run_id)

    # well before the 20 s grace would cancel it anyway: the click reached the stopping bot
    ended = await s.bot_message(lambda m: m.ts == report.ts and ":octagonal_sign:" in str(m.blocks), timeout=10)
    assert "cancelled by alice" in str(ended.blocks)
    await asyncio.wait_for(stopping, 30)
    restarting = [m for m in await s.emu.messages("#deploys", as_user="alice") if "not taking commands" in m["text"]]
    assert [] == restarting, "the click was answered, not refused"


async def test_abort_at_a_pause_is_answered_during_a_freeze(stack: StackFactory) -> None:
    s = await stack(hosts=4, staging=ROLLING, access=frozen_staging())

    await s.say("alice", "deploy! feature/new-login to staging")
    report = await s.bot_message(lambda m: "run_abort" in str(m.blocks))
    run_id = report.text.split()[1].rstrip(":")
    assert (s.fleet.hosts[0].local_deploy_to / "current").exists(), "the first batch is live"

    await s.emu.click("bob", "#deploys", report.ts, "run_abort", value=run_id)

    ended = await s.bot_message(lambda m: m.ts == report.ts and ":octagonal_sign:" in str(m.blocks))
    assert "aborted" in str(ended.blocks)
    assert [False, False] == [(h.local_deploy_to / "current").exists() for h in s.fleet.hosts[:2]]
