"""The bot (``shipbot run`` against the local Slack emulator) killed while a rolling deploy waits at its pause, and
started again: the Continue and Abort buttons on the run's original message still work. Continue runs the remaining
batches once and updates that message; Abort switches the first batch's host back."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
import yaml

from slack_emulator.server import SlackEmulator
from slack_emulator.workspace import Message
from tests.durable.conftest import TTL, World, leftovers
from tests.durable.test_bot_restart import bot

pytestmark = pytest.mark.sshd


def button(message: Message, action_id: str) -> dict[str, Any] | None:
    for block in message.blocks or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return dict(element)
    return None


@pytest.mark.parametrize("go", [True, False], ids=["continue", "abort"])
async def test_the_pause_buttons_of_a_run_work_after_the_bot_was_killed_and_started_again(
    world: World, baseline: None, go: bool
) -> None:
    live = world.one_release_everywhere()
    config = yaml.safe_load((world.cwd / "shipbot.yml").read_text())
    config["environments"]["staging"].update({"strategy": "rolling", "batches": [1, "100%"], "pause": True})
    config["access"] = {"environments": {"staging": {"deploy": ["*"], "cancel": ["*"], "rollback": ["*"]}}}
    (world.cwd / "paused.yml").write_text(yaml.safe_dump(config))
    emu = SlackEmulator()
    await emu.start()
    first = second = None
    try:
        first = bot(world, emu, "paused.yml")
        assert await emu.wait_connections(1, 30)
        await emu.post_message("alice", "#deploys", f"<@{emu.bot_user_id}> deploy feature/new-login to staging")
        paused = await emu.wait_for(lambda m: m.user == emu.bot_user_id and button(m, "run_continue") is not None, 90)
        run_id = str((button(paused, "run_continue") or {})["value"])
        assert [True, False, False] == [world.current(i) != live for i in range(3)], "the canary went live"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        time.sleep(TTL)

        second = bot(world, emu, "paused.yml")
        await emu.wait_for(lambda m: m.thread_ts == paused.ts and "still waits" in m.text, 60)
        await emu.click("bob", "#deploys", paused.ts, "run_continue" if go else "run_abort", value=run_id)
        outcome = "success" if go else "cancelled"
        ended = await emu.wait_for(lambda m: m.ts == paused.ts and f": {outcome}" in m.text, 120)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
        await emu.stop()
        world.calm()

    now = world.one_release_everywhere()
    if go:
        assert live != now
        restarts = [(world.disk(i) / "restarts.log").read_text().split().count(now.split("/")[-1]) for i in range(3)]
        assert [1, 1, 1] == restarts, "each host went live on the new release once"
    else:
        assert live == now
        assert "a person chose Abort" in ended.text
    assert [] == leftovers()
