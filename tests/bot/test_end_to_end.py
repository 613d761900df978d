"""The real bolt app against the local Slack emulator, deploying to real sshd hosts."""

from __future__ import annotations

import pytest

from tests.bot.conftest import StackFactory

pytestmark = pytest.mark.sshd


async def test_a_mention_deploys_and_the_report_ends_green(stack: StackFactory) -> None:
    s = await stack(hosts=2)

    await s.say("alice", "deploy feature/new-login to staging")

    report = await s.bot_message(lambda m: "Deploy" in m.text and ":large_green_circle:" in str(m.blocks))
    sha = s.repo.sha("feature/new-login")
    assert sha[:7] in str(report.blocks)
    assert "<@U0ALICE>" in str(report.blocks)
    final = await s.bot_message(lambda m: m.thread_ts == report.ts and "finished" in m.text)
    assert final.text.startswith(":large_green_circle:")
    assert (s.fleet.hosts[0].local_deploy_to / "current" / "VERSION").read_text() == "v2\n"
