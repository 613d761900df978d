"""Slash commands, response URLs and button clicks, driven through a small slack_bolt AsyncApp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from slack_emulator import SlackEmulator
from tests.emulator.conftest import SocketFactory

BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "Deploy #7 *running*"}},
    {
        "type": "actions",
        "block_id": "act-7",
        "elements": [
            {
                "type": "button",
                "action_id": "deploy_cancel",
                "text": {"type": "plain_text", "text": "Cancel"},
                "value": "7",
                "style": "danger",
            },
            {
                "type": "button",
                "action_id": "deploy_logs",
                "text": {"type": "plain_text", "text": "Logs"},
                "value": "7",
            },
        ],
    },
]


@pytest.fixture
async def bolt(emu: SlackEmulator) -> AsyncIterator[tuple[AsyncApp, list[dict[str, Any]]]]:
    """A bolt app in Socket Mode: /deploy answers, its Cancel button rewrites the message."""
    app = AsyncApp(
        client=AsyncWebClient(token=emu.bot_token, base_url=emu.api_url),
        signing_secret=emu.signing_secret,
    )
    seen: list[dict[str, Any]] = []

    @app.command("/deploy")
    async def deploy(ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        seen.append(body)
        await ack(text=f"Queued: {body['text']}")
        await respond(response_type="in_channel", text=f"<@{body['user_id']}> started a deploy: {body['text']}")
        await client.chat_postMessage(channel=body["channel_id"], text="Deploy #7 running", blocks=BUTTONS)

    @app.action("deploy_cancel")
    async def cancel(ack: Any, body: dict[str, Any], respond: Any) -> None:
        seen.append(body)
        await ack()
        await respond(replace_original=True, text="Deploy #7 cancelled")

    handler = AsyncSocketModeHandler(app, emu.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    assert await emu.wait_connections(1)
    yield app, seen
    await handler.close_async()  # type: ignore[no-untyped-call]


async def test_slash_command_ack_and_response_url(
    emu: SlackEmulator, bolt: tuple[AsyncApp, list[dict[str, Any]]]
) -> None:
    _, seen = bolt
    delivery = await emu.slash_command("alice", "#deploys", "/deploy main to staging")
    await emu.wait_acked(delivery)
    running = await emu.wait_for(lambda m: m.text == "Deploy #7 running", channel="deploys")

    body = seen[0]
    assert body["command"] == "/deploy"
    assert body["text"] == "main to staging"
    assert body["user_id"] == "U0ALICE" and body["channel_id"] == "C0DEPLOY"
    assert body["trigger_id"] and body["response_url"].startswith(emu.url + "/hooks/commands/")

    as_alice = [m["text"] for m in await emu.messages("deploys", as_user="alice")]
    as_bob = [m["text"] for m in await emu.messages("deploys", as_user="bob")]
    assert "Queued: main to staging" in as_alice, "the ack text is alice's ephemeral reply"
    assert "Queued: main to staging" not in as_bob
    assert "<@U0ALICE> started a deploy: main to staging" in as_bob, "in_channel response is public"
    assert running.ts in [m["ts"] for m in await emu.messages("deploys", as_user="bob")]
    assert [c.status for c in await emu.calls("response_url")] == [200]


async def test_button_click_envelope_and_replace_original(
    emu: SlackEmulator, bolt: tuple[AsyncApp, list[dict[str, Any]]]
) -> None:
    _, seen = bolt
    await emu.slash_command("bob", "deploys", "/deploy", "feature/x to prod")
    message = await emu.wait_for(lambda m: m.text == "Deploy #7 running")
    click = await emu.click("carol", "deploys", message.ts, "deploy_cancel")
    await emu.wait_acked(click)
    await emu.wait_for(lambda m: m.ts == message.ts and m.text == "Deploy #7 cancelled")

    body = seen[-1]
    assert body["type"] == "block_actions"
    assert body["user"]["id"] == "U0CAROL"
    [action] = body["actions"]
    assert (action["action_id"], action["value"], action["block_id"]) == ("deploy_cancel", "7", "act-7")
    assert body["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": "C0DEPLOY",
        "is_ephemeral": False,
    }
    assert body["message"]["ts"] == message.ts and body["message"]["blocks"][1]["block_id"] == "act-7"
    assert body["response_url"].startswith(emu.url + "/hooks/actions/")
    [shown] = [m for m in await emu.messages("deploys") if m["ts"] == message.ts]
    assert shown["update_count"] == 1 and shown["edits"][0]["via"] == "response_url"


async def test_click_on_missing_button_is_refused(emu: SlackEmulator) -> None:
    ts = emu.workspace.post_as_bot("C0DEPLOY", "no buttons here").ts
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            emu.url + "/control/click", json={"user": "alice", "channel": "deploys", "ts": ts, "action_id": "nope"}
        ) as resp,
    ):
        assert resp.status == 404
        assert (await resp.json())["error"] == "action_not_found"


async def test_unacknowledged_command_tells_the_user(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    app = await socket_app()
    app.should_ack = lambda req: False
    await emu.slash_command("alice", "deploys", "/deploy", "main")
    notice = await emu.wait_for(lambda m: m.user == "USLACKBOT", timeout=3)
    assert notice.text == '/deploy failed with the error "operation_timeout"'
    assert notice.ephemeral_to == "U0ALICE"
    assert len(app.requests) == 1, "slash commands are never retried"


async def test_command_with_no_app_connected_fails_dispatch(emu: SlackEmulator) -> None:
    await emu.slash_command("alice", "deploys", "/deploy", "main")
    notice = await emu.wait_for(lambda m: m.user == "USLACKBOT", timeout=3)
    assert notice.text == '/deploy failed with the error "dispatch_failed"'


async def test_response_url_is_limited_to_five_uses(emu: SlackEmulator, socket_app: SocketFactory) -> None:
    await socket_app()
    delivery = await emu.slash_command("alice", "deploys", "/deploy", "x")
    url = delivery.payload["response_url"]
    async with aiohttp.ClientSession() as session:
        statuses = []
        for n in range(6):
            async with session.post(url, json={"text": f"r{n}"}) as resp:
                statuses.append(resp.status)
    assert statuses == [200] * 5 + [410]
    assert len(await emu.messages("deploys", as_user="alice")) == 5
