"""The real bolt app against the local Slack emulator, deploying to real sshd hosts."""

from __future__ import annotations

import pytest

from slack_emulator.workspace import Message
from tests.bot.conftest import Stack, StackFactory
from tests.engine.conftest import PIPELINE

pytestmark = pytest.mark.sshd

#: staging deploys one host, then the other; the second host's healthcheck hangs on v2 (h1 is live by then)
ROLLING = {"strategy": "rolling", "batches": [1, "100%"]}
HANGS_ON_H2 = {
    **PIPELINE,
    "healthcheck": {
        "run": 'case "$PWD" in */h2/*) if grep -q v2 VERSION; then sleep 4713; fi;; esac; ./health.sh',
        "retries": 1,
        "timeout": "600s",
    },
}


def versions(s: Stack) -> list[str]:
    """What the two staging hosts serve, read through their ``current`` links."""
    return [(h.local_deploy_to / "current" / "VERSION").read_text() for h in s.fleet.hosts[:2]]


async def v2_switched_on_h1(s: Stack) -> Message:
    """v1 live on both staging hosts, then a deploy of v2 that has switched h1 and hangs on h2: its report."""
    await s.say("bob", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "main" in m.text)
    await s.say("alice", "deploy feature/new-login to staging")
    report = await s.bot_message(lambda m: "run_cancel" in str(m.blocks) and "feature/new-login" in m.text)
    await s.emu.wait_until(lambda: versions(s)[0] == "v2\n", timeout=30)
    return report


async def test_a_mention_deploys_and_the_report_ends_green(stack: StackFactory) -> None:
    s = await stack(hosts=2)

    await s.say("alice", "deploy feature/new-login to staging")

    report = await s.bot_message(lambda m: "Deploy" in m.text and ":large_green_circle:" in str(m.blocks))
    sha = s.repo.sha("feature/new-login")
    assert sha[:7] in str(report.blocks)
    assert "*Requested by:*\\nalice" in str(report.blocks)
    final = await s.bot_message(lambda m: m.thread_ts == report.ts and "finished" in m.text)
    assert final.text.startswith(":large_green_circle:")
    assert (s.fleet.hosts[0].local_deploy_to / "current" / "VERSION").read_text() == "v2\n"


async def test_the_slash_command_deploys_as_slack_sends_it(stack: StackFactory) -> None:
    s = await stack(hosts=2)

    delivery = await s.emu.slash_command("bob", "#deploys", "/deploy", "main to staging")

    assert ("/deploy", "main to staging") == (delivery.payload["command"], delivery.payload["text"])
    report = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Deploy" in m.text)
    assert s.repo.sha("main")[:7] in str(report.blocks)
    assert "*Requested by:*\\nbob" in str(report.blocks)
    assert (s.fleet.hosts[0].local_deploy_to / "current" / "VERSION").read_text() == "v1\n"


async def test_slash_status_help_and_the_bare_command_are_answered(stack: StackFactory) -> None:
    s = await stack(hosts=2)
    await s.emu.slash_command("alice", "#deploys", "/deploy", "main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks))

    await s.emu.slash_command("alice", "#deploys", "/deploy", "status staging")
    status = await s.bot_message(lambda m: "consistent" in str(m.blocks))
    assert s.repo.sha("main")[:7] in str(status.blocks)

    await s.emu.slash_command("carol", "#deploys", "/deploy", "help")
    helped = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0CAROL" and "What you can do" in str(m.blocks))
    assert "deploy" in str(helped.blocks)

    await s.emu.slash_command("bob", "#deploys", "/deploy", "")
    bare = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0BOB" and "What you can do" in str(m.blocks))
    assert "know the command" not in bare.text + str(bare.blocks)


async def test_production_waits_for_an_approver_who_is_not_the_requester(stack: StackFactory) -> None:
    s = await stack(hosts=2)

    await s.say("alice", "deploy v1.0.0 to production")
    ask = await s.bot_message(lambda m: "approval" in m.text.lower() and "run_approve" in str(m.blocks))
    run_id = next(
        e["value"]
        for b in ask.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "run_approve"
    )

    await s.emu.click("alice", "#deploys", ask.ts, "run_approve", value=run_id)
    refusal = await s.emu.wait_for(lambda m: "not" in m.text.lower() and m.user == s.emu.bot_user_id and m.ephemeral_to)
    assert "U0ALICE" == refusal.ephemeral_to or "requester" in refusal.text.lower()
    assert not (s.fleet.hosts[1].local_deploy_to / "current").exists(), "nothing deployed on the requester's click"

    await s.emu.click("bob", "#deploys", ask.ts, "run_approve", value=run_id)
    report = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "production" in m.text)
    assert s.repo.sha("v1.0.0")[:7] in str(report.blocks)
    closed = await s.emu.message("#deploys", ask.ts)
    assert closed is not None and "run_approve" not in str(closed.blocks), "the approval buttons are gone"


async def test_an_unauthorized_user_is_refused_with_a_reason(stack: StackFactory) -> None:
    s = await stack(hosts=2)

    await s.say("carol", "deploy main to production")

    refusal = await s.emu.wait_for(lambda m: m.user == s.emu.bot_user_id and bool(m.ephemeral_to))
    assert "production" in refusal.text
    assert not (s.fleet.hosts[1].local_deploy_to / "current").exists()


async def test_a_redelivered_and_double_delivered_message_deploys_once(stack: StackFactory) -> None:
    s = await stack(hosts=2)

    await s.say("alice", "deploy main to staging")
    for delivery in await s.emu.deliveries("events_api"):
        await s.emu.redeliver(delivery)
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks))

    reports = [m for m in await s.emu.messages("#deploys") if m["user"] == s.emu.bot_user_id and "Deploy" in m["text"]]
    assert 1 == len(reports)
    assert 1 == len(s.store.list_runs("shop", "staging"))


async def test_cancel_button_after_a_host_switched_puts_it_back(stack: StackFactory) -> None:
    s = await stack(hosts=4, staging=ROLLING, pipeline=HANGS_ON_H2)
    report = await v2_switched_on_h1(s)

    await s.emu.click("alice", "#deploys", report.ts, "run_cancel", value=report.text.split()[1].rstrip(":"))

    ended = await s.bot_message(lambda m: m.ts == report.ts and ":octagonal_sign:" in str(m.blocks))
    assert "cancelled by alice" in str(ended.blocks)
    assert ["v1\n", "v1\n"] == versions(s), "the switched hosts are switched back"


async def test_the_rollback_button_goes_back_to_the_previous_release(stack: StackFactory) -> None:
    s = await stack(hosts=2)
    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "main" in m.text)
    await s.say("alice", "deploy feature/new-login to staging")
    second = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "feature/new-login" in m.text)

    run_id = second.text.split()[1].rstrip(":")
    await s.emu.click("bob", "#deploys", second.ts, "run_rollback", value=run_id)

    await s.bot_message(lambda m: "Rollback" in m.text and ":large_green_circle:" in str(m.blocks))
    assert (s.fleet.hosts[0].local_deploy_to / "current" / "VERSION").read_text() == "v1\n"


async def test_a_storm_of_429s_does_not_stop_the_deploy_and_the_message_ends_right(stack: StackFactory) -> None:
    s = await stack(hosts=2)
    await s.emu.storm("chat.update", 6, retry_after=1)

    await s.say("alice", "deploy main to staging")

    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks), timeout=60)
    statuses = [c.status for c in await s.emu.calls("chat.update")]
    assert 429 in statuses
    assert "success" == s.store.list_runs("shop", "staging")[0].state


async def test_a_socket_disconnect_mid_deploy_reconnects_and_the_report_still_ends_right(stack: StackFactory) -> None:
    s = await stack(hosts=2, pipeline={"build": ["sleep 2"]})

    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: "Deploy" in m.text)
    await s.emu.disconnect_socket("abort")

    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks), timeout=60)
    assert await s.emu.wait_connections(1, 20)
    await s.say("bob", "status staging")
    await s.bot_message(lambda m: "consistent" in str(m.blocks))
