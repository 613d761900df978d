"""The bot's inbox, seen from chat (the real bolt app against the emulator, real sshd hosts): every request is in the
store before it is acknowledged and marked answered once answered; one a stopped replica left (written here as that
replica would have, held by it, its TTL run out) is answered by this bot, saying so, once; one left too long ago is
not carried out and its requester is told to ask again; one whose run had already started is not started twice."""

from __future__ import annotations

import asyncio

from bot.app import PICKED_UP
from bot.inbound import KIND, Inbound
from deploy.store.inbox import Inbox
from tests.bot.conftest import Stack, StackFactory

DEAD = "gone-host:4242:0123456789ab"  # a replica that received these requests and stopped


def channel_id(s: Stack) -> str:
    found = s.emu.core.workspace.find_channel("#deploys")
    assert found is not None
    return found.id


def answered_keys(s: Stack) -> dict[str, bool]:
    rows = s.store.db.execute("SELECT key, answered_at FROM inbox WHERE kind = ?", (KIND,)).fetchall()
    return {str(k): a is not None for k, a in rows}


def left_by_dead_replica(s: Stack, request: Inbound, age: float = 0.0) -> None:
    """What a replica killed between its acknowledgement and its answer leaves: the request, held by it, expired."""
    assert Inbox(s.store.db, DEAD, 0.0).receive(request.key, KIND, request.to_json())
    if age:
        s.store.db.execute("UPDATE inbox SET received_at = received_at - ? WHERE key = ?", (age, request.key))


async def test_mentions_slash_commands_and_clicks_are_written_down_and_marked_answered(stack: StackFactory) -> None:
    s = await stack(hosts=1)
    ts = await s.say("alice", "history staging")
    await s.emu.slash_command("bob", "#deploys", "/deploy", "where can I deploy")
    await s.emu.wait_until(lambda: len(answered_keys(s)) == 2 and all(answered_keys(s).values()), 10)
    keys = answered_keys(s)
    assert f"msg:{channel_id(s)}:{ts}" in keys
    assert any(k.startswith("slash:") for k in keys)


async def test_a_request_a_stopped_replica_left_is_answered_here_once_saying_so(stack: StackFactory) -> None:
    s = await stack(hosts=1)
    channel = channel_id(s)
    parent = await s.emu.post_message("alice", "#deploys", "about staging")
    request = Inbound(f"msg:{channel}:1.000001", "message", "U0ALICE", channel, "history staging", parent)
    left_by_dead_replica(s, request)

    answer = await s.bot_message(lambda m: m.thread_ts == parent, timeout=15)
    await s.emu.wait_until(lambda: answered_keys(s).get(request.key) is True, 5)
    await asyncio.sleep(2.5)  # another tick of the bot's timer: a second answer, if any, would come now

    assert PICKED_UP in str(answer.blocks)
    assert "*shop staging*" in str(answer.blocks), "the history it asked for"
    said = [m for m in s.emu.core.workspace.all_messages() if m.user == s.emu.bot_user_id and m.thread_ts == parent]
    assert 1 == len(said)


async def test_a_request_left_too_long_ago_is_not_carried_out_and_its_requester_is_told(stack: StackFactory) -> None:
    s = await stack(hosts=1)
    channel = channel_id(s)
    request = Inbound(f"msg:{channel}:2.000002", "message", "U0ALICE", channel, "deploy main to staging")
    left_by_dead_replica(s, request, age=1200)

    told = await s.bot_message(lambda m: "not carried out" in m.text, timeout=15)
    await s.emu.wait_until(lambda: answered_keys(s).get(request.key) is True, 5)

    assert "`deploy main to staging`" in told.text and "Ask again" in told.text
    assert told.ephemeral_to == "U0ALICE"
    assert [] == await s.running.service.engines["shop"].history("staging")


async def test_a_picked_up_deploy_whose_run_had_started_is_not_started_again(stack: StackFactory) -> None:
    s = await stack(hosts=1)
    await s.say("alice", "deploy main to staging")
    started = await s.bot_message(lambda m: "run_cancel" in str(m.blocks))
    [run] = await s.running.service.engines["shop"].history("staging")
    channel = channel_id(s)
    # the same command, as a replica that started this run and died before answering left it
    request = Inbound(
        f"msg:{channel}:3.000003", "message", "U0ALICE", channel, "deploy main to staging", run_id=run.run_id
    )
    left_by_dead_replica(s, request)

    said = await s.bot_message(lambda m: "already started run" in m.text, timeout=15)

    assert run.run_id in said.text and started.ts != said.ts
    assert [run.run_id] == [r.run_id for r in await s.running.service.engines["shop"].history("staging")]
