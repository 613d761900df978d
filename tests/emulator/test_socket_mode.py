"""Socket Mode through slack_sdk's real aiohttp SocketModeClient."""

from __future__ import annotations

import json

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from slack_emulator import SlackEmulator
from tests.emulator.conftest import SocketFactory


async def test_hello_frame_has_slacks_shape(emu: SlackEmulator) -> None:
    url = (await AsyncWebClient(base_url=emu.api_url).apps_connections_open(app_token=emu.app_token))["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url, autoping=False) as ws:
        hello = json.loads((await ws.receive()).data)
        await ws.ping(b"sdk-ping-pong:1")
        pong = await ws.receive()
    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": emu.workspace.bot.app_id}
    assert set(hello["debug_info"]) == {"host", "build_number", "approximate_connection_time"}
    assert pong.type == aiohttp.WSMsgType.PONG and pong.data == b"sdk-ping-pong:1"


async def test_socket_without_ticket_is_refused(emu: SlackEmulator) -> None:
    async with aiohttp.ClientSession() as session, session.get(emu.url + "/socket-mode?ticket=forged") as resp:
        assert resp.status == 401


async def test_client_gets_hello_and_events_and_acks(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    app = await socket_app()
    await app.wait(lambda: any(f.get("type") == "hello" for f in app.frames))
    ts = await emu.post_message("alice", "#deploys", "morning")
    await app.wait(lambda: len(app.events("message")) == 1)
    event = app.events("message")[0]
    assert event["text"] == "morning"
    assert event["user"] == "U0ALICE"
    assert event["ts"] == ts
    assert event["channel_type"] == "channel"
    [delivery] = await emu.deliveries("events_api")
    await emu.wait_acked(delivery)
    [attempt] = delivery.attempts
    assert attempt.ack_latency is not None and 0 <= attempt.ack_latency < 0.4
    assert delivery.status == "acked"


async def test_mention_produces_message_and_app_mention(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    app = await socket_app()
    ts = await emu.post_message("bob", "deploys", f"<@{emu.bot_user_id}> deploy main to staging")
    await app.wait(lambda: len(app.events()) == 2)
    by_type = {e["type"]: e for e in app.events()}
    assert set(by_type) == {"message", "app_mention"}
    assert by_type["message"]["ts"] == by_type["app_mention"]["ts"] == ts
    assert by_type["app_mention"]["text"] == f"<@{emu.bot_user_id}> deploy main to staging"
    event_ids = {r.payload["event_id"] for r in app.requests}
    assert len(event_ids) == 2, "two distinct events, as Slack sends them"


async def test_direct_message_is_an_im_message_only(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    app = await socket_app()
    await emu.post_message("carol", "@carol", f"<@{emu.bot_user_id}> status?")
    await app.wait(lambda: len(app.events()) >= 1)
    [event] = app.events()
    assert event["type"] == "message"
    assert event["channel_type"] == "im"
    assert event["channel"].startswith("D")


async def test_unacked_event_is_redelivered_with_retry_attempt(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    app = await socket_app()
    app.should_ack = lambda req: req.retry_attempt == 2
    await emu.post_message("alice", "deploys", "are you there?")
    await app.wait(lambda: len(app.requests) == 3, timeout=5)
    assert [(r.retry_attempt, r.retry_reason) for r in app.requests] == [(0, ""), (1, "timeout"), (2, "timeout")]
    assert len({r.payload["event_id"] for r in app.requests}) == 1
    assert len({r.envelope_id for r in app.requests}) == 3
    [delivery] = await emu.deliveries("events_api")
    await emu.wait_acked(delivery)
    assert [a.outcome for a in delivery.attempts] == ["timeout", "timeout", "acked"]


async def test_event_never_acked_is_retried_three_times_then_dropped(
    emu: SlackEmulator, socket_app: SocketFactory
) -> None:
    app = await socket_app()
    app.should_ack = lambda req: False
    await emu.post_message("alice", "deploys", "hello?")
    await app.wait(lambda: len(app.requests) == 4, timeout=5)
    assert [r.retry_attempt for r in app.requests] == [0, 1, 2, 3]
    [delivery] = await emu.deliveries("events_api")
    await emu.wait_until(lambda: delivery.status == "failed", timeout=2)
    assert [a.outcome for a in delivery.attempts] == ["timeout"] * 4
    assert len(app.requests) == 4


async def test_redeliver_on_demand_repeats_the_event(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    app = await socket_app()
    await emu.post_message("alice", "deploys", "once")
    await app.wait(lambda: len(app.requests) == 1)
    [delivery] = await emu.deliveries("events_api")
    await emu.wait_acked(delivery)
    attempt = await emu.redeliver(str(delivery.event_id))
    await app.wait(lambda: len(app.requests) == 2)
    first, second = app.requests
    assert second.payload == first.payload
    assert second.retry_attempt == attempt.retry_attempt == 1
    assert second.envelope_id != first.envelope_id


async def test_disconnect_frame_then_client_reconnects_and_still_receives(
    emu: SlackEmulator, socket_app: SocketFactory
) -> None:
    app = await socket_app()
    first = emu.core.hub.open_connections()[0]
    assert await emu.disconnect_socket(reason="refresh_requested") == 1
    await app.wait(lambda: any(f.get("type") == "disconnect" for f in app.frames))
    disconnect = next(f for f in app.frames if f.get("type") == "disconnect")
    assert disconnect["reason"] == "refresh_requested"
    assert disconnect["connection_info"] == {"app_id": emu.workspace.bot.app_id}
    assert await emu.wait_connections(1)
    await app.wait(lambda: not first.open and emu.connection_count == 1)
    assert len(emu.core.hub.history) == 2

    await emu.post_message("alice", "deploys", "after reconnect")
    await app.wait(lambda: [e["text"] for e in app.events()] == ["after reconnect"])
    [delivery] = await emu.deliveries("events_api")
    assert delivery.attempts[0].connection != first.id


async def test_dropped_socket_is_replaced_by_the_client(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    app = await socket_app(ping_interval=0.2)
    assert await emu.disconnect_socket(mode="abort") == 1
    assert emu.connection_count == 0
    assert await emu.wait_connections(1, timeout=5)
    await emu.post_message("alice", "deploys", "still there?")
    await app.wait(lambda: len(app.events()) == 1)
    assert len(emu.core.hub.history) == 2


async def test_several_connections_share_the_events(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    one = await socket_app()
    two = await socket_app()
    assert await emu.wait_connections(2)
    for n in range(6):
        await emu.post_message("alice", "deploys", f"m{n}")
    await one.wait(lambda: len(one.events()) + len(two.events()) == 6)
    texts = sorted(str(e["text"]) for e in one.events() + two.events())
    assert texts == [f"m{n}" for n in range(6)], "each event exactly once"
    assert one.events() and two.events(), "both connections carry traffic"


async def test_an_event_one_connection_leaves_unacked_is_retried_on_another(
    emu: SlackEmulator, socket_app: SocketFactory
) -> None:
    """Two connections of one app (two replicas): an envelope the first never acknowledges (it died) comes again,
    with the next retry_attempt, on the other connection."""
    silent = await socket_app()
    silent.should_ack = lambda req: False
    assert await emu.wait_connections(1)
    silent_conn = emu.core.hub.open_connections()[0].id
    alive = await socket_app()
    assert await emu.wait_connections(2)
    if (nxt := emu.core.hub.next_connection()) is not None and nxt.id != silent_conn:
        await emu.post_message("alice", "deploys", "warm-up")  # goes to the live one, which acks it
        await alive.wait(lambda: len(alive.requests) == 1, timeout=5)
    await emu.post_message("alice", "deploys", "anyone?")
    await alive.wait(lambda: any(r.payload.get("event", {}).get("text") == "anyone?" for r in alive.requests), 5)
    delivery = next(d for d in await emu.deliveries("events_api") if d.payload["event"]["text"] == "anyone?")
    await emu.wait_acked(delivery)
    assert [(a.retry_attempt, a.retry_reason, a.connection != silent_conn) for a in delivery.attempts] == [
        (0, "", False),
        (1, "timeout", True),
    ]
    assert [a.outcome for a in delivery.attempts] == ["timeout", "acked"]
