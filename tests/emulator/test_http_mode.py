"""HTTP delivery: signed POSTs to the app's request URL, checked with slack_sdk's SignatureVerifier."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from slack_emulator import SlackEmulator


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class FakeApp:
    """An HTTP endpoint standing in for the app: records requests, answers as scripted."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    reply: dict[str, object] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(body, dict(request.headers)))
        if body.startswith(b'{"token": "", "challenge"'):
            return web.json_response({"challenge": json.loads(body)["challenge"]})
        status = self.statuses.pop(0) if self.statuses else 200
        if self.reply is not None and status == 200:
            return web.json_response(self.reply)
        return web.Response(status=status)


@pytest.fixture
async def fake_app() -> AsyncIterator[FakeApp]:
    fake = FakeApp()
    server = web.Application()
    server.router.add_post("/slack/events", fake.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}/slack/events"
    await web.SockSite(runner, sock).start()
    yield fake
    await runner.cleanup()


@pytest.fixture
async def http_emu(fake_app: FakeApp) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(request_url=fake_app.url, ack_timeout=0.5, signing_secret="s3cr3t") as emulator:
        yield emulator


def _verified(received: Received, secret: str) -> bool:
    verifier = SignatureVerifier(signing_secret=secret)
    return verifier.is_valid(
        body=received.body.decode(),
        timestamp=received.headers["X-Slack-Request-Timestamp"],
        signature=received.headers["X-Slack-Signature"],
    )


async def test_event_is_signed_and_retried_with_retry_headers(http_emu: SlackEmulator, fake_app: FakeApp) -> None:
    fake_app.statuses = [500]
    await http_emu.post_message("alice", "deploys", f"<@{http_emu.bot_user_id}> ping")
    await http_emu.wait_until(
        lambda: (
            all(d.status == "acked" for d in http_emu.core.dispatcher.deliveries.values())
            and len(fake_app.received) == 3
        )
    )
    bodies = [json.loads(r.body) for r in fake_app.received]
    assert all(b["type"] == "event_callback" for b in bodies)
    assert all(_verified(r, "s3cr3t") for r in fake_app.received)
    assert not _verified(fake_app.received[0], "another-secret")
    retried = [r for r in fake_app.received if "X-Slack-Retry-Num" in r.headers]
    assert len(retried) == 1
    assert retried[0].headers["X-Slack-Retry-Num"] == "1"
    assert retried[0].headers["X-Slack-Retry-Reason"] == "http_error"
    first_try = next(
        r for r in fake_app.received if json.loads(r.body)["event_id"] == json.loads(retried[0].body)["event_id"]
    )
    assert first_try is not retried[0]
    assert json.loads(first_try.body) == json.loads(retried[0].body), "a retry repeats the same event"
    assert {b["event"]["type"] for b in bodies} == {"message", "app_mention"}


async def test_slash_command_form_body_and_reply_body(http_emu: SlackEmulator, fake_app: FakeApp) -> None:
    fake_app.reply = {"text": "Queued deploy: main to staging"}
    delivery = await http_emu.slash_command("bob", "deploys", "/deploy main to staging")
    await http_emu.wait_acked(delivery)
    [received] = fake_app.received
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _verified(received, "s3cr3t")
    form = {k: v[0] for k, v in parse_qs(received.body.decode()).items()}
    assert form["command"] == "/deploy" and form["text"] == "main to staging" and form["user_id"] == "U0BOB"
    assert form["response_url"].startswith(http_emu.url + "/hooks/commands/")
    reply = await http_emu.wait_for(lambda m: m.text == "Queued deploy: main to staging")
    assert reply.ephemeral_to == "U0BOB"


async def test_click_is_a_signed_payload_form(http_emu: SlackEmulator, fake_app: FakeApp) -> None:
    blocks = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "OK"}, "value": "1"}
            ],
        }
    ]
    ts = http_emu.workspace.post_as_bot("C0DEPLOY", "approve?", blocks).ts
    delivery = await http_emu.click("alice", "deploys", ts, "approve")
    await http_emu.wait_acked(delivery)
    [received] = fake_app.received
    assert _verified(received, "s3cr3t")
    payload = json.loads(parse_qs(received.body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "approve"
    assert payload["actions"][0]["value"] == "1"


async def test_url_verification_handshake(http_emu: SlackEmulator, fake_app: FakeApp) -> None:
    assert await http_emu.verify_url()
    assert _verified(fake_app.received[0], "s3cr3t")
