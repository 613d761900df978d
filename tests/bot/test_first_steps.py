"""What someone new to shipbot sees in chat, through the real bolt app and the emulator: task output, a cancel said
once, people by name, the run ID on an approval request, status during a run, a compact plan, sentences with
plurals by count, and hosts by the names the config gives them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from slack_emulator.workspace import Message
from tests.bot.conftest import Stack, StackFactory
from tests.bot.test_end_to_end import HANGS_ON_H2, ROLLING, v2_switched_on_h1, versions

pytestmark = pytest.mark.sshd

#: the emulator's people, with display names that differ from their handles (Slack shows the display name)
SEED = {
    "users": [
        {"id": "U0ALICE", "name": "alice", "real_name": "Alice Archer", "display_name": "Alice A."},
        {"id": "U0BOB", "name": "bob", "real_name": "Bob Baker", "display_name": "Bobby"},
        {"id": "U0CAROL", "name": "carol", "real_name": "Carol Cruz", "display_name": "Carol C."},
        {"id": "U0ADMIN", "name": "admin", "real_name": "Ada Admin", "is_admin": True},
    ]
}
TASKS = {"hello": {"run": 'echo "hello from $(basename "$(dirname "$PWD")")"; echo second line'}}


def named_hosts(data: dict[str, Any]) -> None:
    """Staging's hosts are named stg-1, stg-2 in the config; production's prod-1, ..."""
    for env, prefix in (("staging", "stg"), ("production", "prod")):
        for i, host in enumerate(data["environments"][env]["hosts"], 1):
            host["name"] = f"{prefix}-{i}"
    data["tasks"] = TASKS


def everything(m: Message) -> str:
    return f"{m.text} {m.blocks}"


def bot_said(s: Stack) -> str:
    """Every message the bot posted (channel, threads, ephemerals), as one text."""
    return "\n".join(everything(m) for m in s.emu.core.workspace.all_messages() if m.user == s.emu.bot_user_id)


async def test_a_task_shows_each_hosts_output_in_chat_under_the_hosts_names(stack: StackFactory) -> None:
    s = await stack(hosts=4, edit=named_hosts)
    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Deploy" in m.text)

    await s.say("alice", "run hello on staging")

    report = await s.bot_message(lambda m: m.text.startswith("Task") and ":large_green_circle:" in str(m.blocks))
    shown = str(report.blocks)
    assert "*stg-1*" in shown and "*stg-2*" in shown
    assert shown.count("second line") == 2, "each host's output is in the run message"
    assert "Ref:" not in shown and "healthy" not in shown, "a task is not reported as a deploy"
    assert "*Task:*\\n`hello`" in shown and "2 done" in shown
    assert "127.0.0.1:" not in shown, "hosts are shown by name"


async def test_a_cancelled_run_says_once_who_cancelled_it_and_where_the_hosts_are(stack: StackFactory) -> None:
    s = await stack(hosts=4, staging=ROLLING, pipeline=HANGS_ON_H2, seed=SEED)
    report = await v2_switched_on_h1(s)
    run_id = report.text.split()[1].rstrip(":")
    # h2 hangs in its health check, after its switch: both hosts are switched when the cancel lands
    await s.emu.wait_until(lambda: versions(s) == ["v2\n", "v2\n"], timeout=30)

    await s.say("alice", f"cancel {run_id}")

    ended = await s.bot_message(lambda m: m.ts == report.ts and ":octagonal_sign:" in str(m.blocks))
    assert ["v1\n", "v1\n"] == versions(s)
    assert "*Status:*\\n:octagonal_sign: cancelled" in str(ended.blocks) and ":red_circle:" not in str(ended.blocks)
    assert "cancelled by Alice A.; the 2 switched hosts went back; staging is still on its previous release" in str(
        ended.blocks
    )
    final = await s.bot_message(lambda m: m.thread_ts == report.ts and m.text.startswith(":octagonal_sign:"))
    assert "cancelled by Alice A." in final.text and "<@U0ALICE>" in final.text, "the requester is notified"
    ack = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE" and "Cancelling" in everything(m))
    assert run_id in everything(ack)
    channel = [m for m in s.emu.core.workspace.all_messages() if m.user == s.emu.bot_user_id and not m.ephemeral_to]
    saying_cancelled = [m for m in channel if "cancel" in everything(m).lower() and m.thread_ts != report.ts]
    assert [report.ts] == [m.ts for m in saying_cancelled], "only the run's message (and its thread) says it"
    assert "could not run" not in bot_said(s)


async def test_people_are_named_by_display_name_and_mentioned_only_to_be_notified(stack: StackFactory) -> None:
    s = await stack(hosts=2, seed=SEED)
    await s.say("alice", "lock staging for release checks")
    await s.bot_message(lambda m: ":lock:" in str(m.blocks))

    await s.say("bob", "deploy main to staging")
    refusal = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0BOB" and "locked" in everything(m))
    assert "staging is locked by Alice A." in everything(refusal)
    assert "Ask Alice A. to `unlock staging`" in everything(refusal)
    await s.say("carol", "deploy main to production")
    denied = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0CAROL")
    assert "U0CAROL" not in everything(denied)

    await s.say("alice", "unlock staging")
    await s.bot_message(lambda m: ":unlock:" in str(m.blocks))
    await s.say("bob", "deploy main to staging")
    report = await s.bot_message(lambda m: m.text.startswith("Deploy") and ":large_green_circle:" in str(m.blocks))
    assert "*Requested by:*\\nBobby" in str(report.blocks)
    final = await s.bot_message(lambda m: m.thread_ts == report.ts and "finished" in m.text)
    assert "<@U0BOB>" in final.text, "the requester hears that their run ended"

    said = bot_said(s)
    assert re.findall(r"<@U0[A-Z]+>", said) == ["<@U0BOB>"], "nobody else is pinged"
    assert "U0ALICE" not in said and "U0BOB" not in said.replace("<@U0BOB>", "")
    asked = [c.args.get("user") for c in s.emu.core.calls.list("users.info")]
    assert {"U0ALICE", "U0BOB"} <= set(asked) and len(asked) == len(set(asked)), "each name asked once, then kept"


async def test_an_approval_request_shows_its_run_id_and_notifies_the_approvers(stack: StackFactory) -> None:
    access = {
        "admins": ["U0ADMIN"],
        "environments": {"production": {"deploy": ["U0BOB"], "approve": ["U0CAROL"], "approval": "required"}},
    }
    s = await stack(hosts=2, access=access, seed=SEED)

    await s.say("bob", "deploy main to production")

    request = await s.bot_message(lambda m: "run_approve" in str(m.blocks))
    run_id = request.text.split()[-1]
    section = request.blocks[0]["text"]["text"]
    assert f"Run `{run_id}`" in section and f"`approve {run_id}`" in section
    assert "Bobby wants to deploy" in section and "<@U0CAROL>" in section


async def test_status_during_a_run_says_a_run_is_in_progress_not_that_hosts_are_behind(stack: StackFactory) -> None:
    s = await stack(hosts=4, staging=ROLLING, pipeline=HANGS_ON_H2)
    await v2_switched_on_h1(s)

    await s.say("carol", "status staging")

    status = await s.bot_message(lambda m: m.text == "status" and "staging" in str(m.blocks))
    shown = str(status.blocks)
    assert "a run is in progress" in shown
    assert "behind" not in shown and "converge staging" not in shown


async def test_plan_is_a_summary_for_the_asker_with_the_commands_behind_a_button(stack: StackFactory) -> None:
    s = await stack(hosts=4, edit=named_hosts)
    await s.say("alice", "deploy main to staging")
    report = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "Deploy" in m.text)
    await s.bot_message(lambda m: m.thread_ts == report.ts and "finished" in m.text)
    before = len([m for m in s.emu.core.workspace.all_messages() if not m.ephemeral_to])

    await s.say("alice", "plan main to staging")

    plan = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE" and "Plan" in everything(m), timeout=30)
    shown = str(plan.blocks)
    assert "is already live: nothing new would ship" in shown
    assert "stg-1, stg-2" in shown and "On 2 hosts" in shown
    assert "*Steps:*" in shown and "build" in shown
    assert "/releases/" not in shown and "…" not in shown, "no command lines in the summary"
    assert len(shown) < 1500
    assert before + 1 == len([m for m in s.emu.core.workspace.all_messages() if not m.ephemeral_to]), (
        "only the asker's own message: the plan went to the asker alone"
    )
    button = next(e for b in plan.blocks or [] if b["type"] == "actions" for e in b["elements"])
    assert "Show commands" == button["text"]["text"]

    await s.emu.click("alice", "#deploys", plan.ts, "plan_commands", value=button["value"])

    commands = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE" and "Commands" in everything(m), 30)
    assert "/releases/" in str(commands.blocks) and "*stg-2*" in str(commands.blocks)


async def test_replies_are_sentences_with_plurals_by_count(stack: StackFactory) -> None:
    s = await stack(hosts=2)
    await s.say("alice", "deploy main to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "main" in m.text)
    await s.say("alice", "deploy feature/new-login to staging")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "feature/new-login" in m.text)
    before = {m.ts for m in s.emu.core.workspace.all_messages()}

    await s.say("alice", "rollback staging")

    starting = await s.emu.wait_for(
        lambda m: m.ephemeral_to == "U0ALICE" and "Starting" in everything(m) and m.ts not in before
    )
    assert "a rollback of shop staging" in everything(starting)
    rollback = await s.bot_message(lambda m: m.text.startswith("Rollback") and "large_green" in str(m.blocks))
    assert "staging · 1 host" in str(rollback.blocks) and "1 hosts" not in str(rollback.blocks)
    await s.say("alice", "history staging")
    await s.bot_message(lambda m: m.text == "history")
    said = bot_said(s)
    assert "(s)" not in said
    assert "shop a rollback" not in said and "a converge to the live release →" not in said


async def test_a_host_named_in_the_config_is_shown_and_targeted_by_its_name(stack: StackFactory) -> None:
    s = await stack(hosts=4, edit=named_hosts)

    await s.say("alice", "deploy main to staging/stg-2")

    report = await s.bot_message(lambda m: m.text.startswith("Deploy") and ":large_green_circle:" in str(m.blocks))
    assert "staging · 1 host" in str(report.blocks)
    deployed = [(h.local_deploy_to / "current").exists() for h in s.fleet.hosts[:2]]
    assert [False, True] == deployed, "only stg-2 was deployed"
    await s.say("alice", "status staging")
    status = await s.bot_message(lambda m: m.text == "status")
    assert "• stg-1: no release" in str(status.blocks) and "• stg-2: " in str(status.blocks)
    assert "127.0.0.1" not in str(status.blocks)
