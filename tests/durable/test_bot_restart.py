"""The bot (``shipbot run``, a real process against the local Slack emulator) killed mid-deploy and started again:
the run's message ends with "interrupted" and what was repaired, and the fleet is back on one release."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import yaml

from slack_emulator.server import SlackEmulator
from tests.durable.conftest import SHIPBOT, TTL, World, leftovers, wait_for

pytestmark = pytest.mark.sshd


def bot(world: World, emu: SlackEmulator, config: str) -> subprocess.Popen[bytes]:
    env = {
        **world.env(), "SLACK_BOT_TOKEN": emu.bot_token, "SLACK_APP_TOKEN": emu.app_token, "SLACK_API_URL": emu.api_url,
        "SHIPBOT_CONFIG": config, "SHIPBOT_OPS_PORT": "0", "SHIPBOT_UPDATE_INTERVAL": "0.2",
    }  # fmt: skip
    return subprocess.Popen(
        [SHIPBOT, "run"], cwd=world.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def test_a_bot_killed_mid_deploy_reports_the_repair_in_the_runs_message_when_it_starts_again(
    world: World, baseline: None
) -> None:
    live = world.one_release_everywhere()
    config = yaml.safe_load((world.cwd / "shipbot.yml").read_text())
    config["access"] = {"environments": {"staging": {"deploy": ["*"], "cancel": ["*"], "rollback": ["*"]}}}
    (world.cwd / "bot.yml").write_text(yaml.safe_dump(config))
    emu = SlackEmulator()
    await emu.start()
    first = second = None
    try:
        first = bot(world, emu, "bot.yml")
        assert await emu.wait_connections(1, 30)
        started = world.slow(2, "RESTART")
        await emu.post_message("alice", "#deploys", f"<@{emu.bot_user_id}> deploy feature/new-login to staging")
        message = await emu.wait_for(lambda m: m.user == emu.bot_user_id and "feature/new-login" in m.text, 60)
        wait_for(started.exists, what="the slow restart")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        world.calm()
        time.sleep(TTL)

        second = bot(world, emu, "bot.yml")
        repaired = await emu.wait_for(lambda m: m.ts == message.ts and "interrupted, repaired" in m.text, 60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
        await emu.stop()
        world.calm()

    assert "switched back to" in repaired.text
    assert live == world.one_release_everywhere()
    assert [] == leftovers()
    assert world.database_url is not None or os.path.exists(world.cwd / "data" / "shipbot.sqlite3")
