"""The control API over plain HTTP, as tests in other languages and the web page use it."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from slack_emulator import SlackEmulator


async def _call(emu: SlackEmulator, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession() as session, session.request(method, emu.url + path, json=body) as resp:
        return resp.status, await resp.json()


async def test_post_and_read_a_channel(emu: SlackEmulator) -> None:
    status, posted = await _call(
        emu, "POST", "/control/messages", {"user": "alice", "channel": "#deploys", "text": "hi"}
    )
    assert status == 200 and posted["channel"] == "C0DEPLOY"
    _, reply = await _call(
        emu, "POST", "/control/messages", {"user": "bob", "channel": "deploys", "text": "yo", "thread_ts": posted["ts"]}
    )
    _, read = await _call(emu, "GET", "/control/messages?channel=deploys")
    [message] = read["messages"]
    assert message["user"] == "U0ALICE" and message["text"] == "hi"
    assert [r["ts"] for r in message["replies"]] == [reply["ts"]]


async def test_long_poll_returns_as_soon_as_a_message_arrives(emu: SlackEmulator, web: AsyncWebClient) -> None:
    _, first = await _call(emu, "GET", "/control/messages?channel=deploys")
    cursor = first["cursor"]

    async def post_later() -> None:
        await asyncio.sleep(0.3)
        await web.chat_postMessage(channel="C0DEPLOY", text="late")

    started = time.monotonic()
    poster = asyncio.ensure_future(post_later())
    _, polled = await _call(emu, "GET", f"/control/messages?channel=deploys&since={cursor}&wait=10")
    elapsed = time.monotonic() - started
    await poster
    assert 0.25 < elapsed < 5
    assert polled["cursor"] > cursor
    assert [m["text"] for m in polled["messages"]] == ["late"]


async def test_storm_through_control_and_call_log(emu: SlackEmulator, web: AsyncWebClient) -> None:
    status, _ = await _call(
        emu, "POST", "/control/ratelimit", {"method": "chat.postMessage", "count": 1, "retry_after": 3}
    )
    assert status == 200
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            emu.api_url + "chat.postMessage",
            json={"channel": "C0DEPLOY", "text": "x"},
            headers={"Authorization": f"Bearer {emu.bot_token}"},
        ) as resp,
    ):
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "3"
        assert await resp.json() == {"ok": False, "error": "ratelimited"}
    await web.chat_postMessage(channel="C0DEPLOY", text="x")
    _, calls = await _call(emu, "GET", "/control/calls?method=chat.postMessage")
    assert [(c["status"], c["error"]) for c in calls["calls"]] == [(429, "ratelimited"), (200, None)]


async def test_rate_rules_can_be_replaced(emu: SlackEmulator, web: AsyncWebClient) -> None:
    status, rules = await _call(
        emu,
        "PUT",
        "/control/ratelimit/rules",
        {"method": "chat.postMessage", "limit": 1, "window": 60, "scope": "channel"},
    )
    assert status == 200
    assert {"method": "chat.postMessage", "limit": 1, "window": 60.0, "scope": "channel"} in rules["rules"]
    await web.chat_postMessage(channel="C0DEPLOY", text="one")
    await web.chat_postMessage(channel="C0GENERAL", text="other channel, own budget")
    _, calls = await _call(emu, "GET", "/control/calls?method=chat.postMessage")
    assert [c["status"] for c in calls["calls"]] == [200, 200]


async def test_reset_forgets_messages_and_calls(emu: SlackEmulator, web: AsyncWebClient) -> None:
    await web.chat_postMessage(channel="C0DEPLOY", text="x")
    await _call(emu, "POST", "/control/reset")
    _, read = await _call(emu, "GET", "/control/messages?channel=deploys")
    _, calls = await _call(emu, "GET", "/control/calls")
    assert read["messages"] == [] and calls["calls"] == []


async def test_unknown_user_or_channel_is_a_clear_error(emu: SlackEmulator) -> None:
    status, body = await _call(emu, "POST", "/control/messages", {"user": "mallory", "channel": "deploys", "text": "x"})
    assert (status, body["error"]) == (404, "user_not_found")
    status, body = await _call(emu, "POST", "/control/messages", {"user": "alice", "channel": "#nope", "text": "x"})
    assert (status, body["error"]) == (404, "channel_not_found")


async def test_state_and_web_page_are_served(emu: SlackEmulator) -> None:
    _, state = await _call(emu, "GET", "/control/state")
    assert {u["name"] for u in state["users"]} >= {"alice", "bob", "carol", "admin"}
    assert {g["handle"] for g in state["usergroups"]} >= {"deployers"}
    assert state["mode"] == "socket_mode"
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.url + "/") as resp:
            assert resp.status == 200
            assert 'id="composer-input"' in await resp.text()
        async with session.get(emu.url + "/static/app.js") as resp:
            assert resp.status == 200


async def test_seed_data_replaces_the_defaults() -> None:
    seed = {
        "users": [{"id": "U1", "name": "dora"}],
        "channels": [{"id": "C1", "name": "ops"}],
        "usergroups": [{"id": "S1", "handle": "sre", "name": "SRE", "members": ["dora"]}],
    }
    async with SlackEmulator(seed=seed) as emu:
        web = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
        assert (await web.usergroups_users_list(usergroup="S1"))["users"] == ["U1"]
        ts = await emu.post_message("dora", "#ops", "hello ops")
        assert [m["ts"] for m in await emu.messages("ops")] == [ts]


async def test_cli_serves_and_prints_its_urls(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"channels": [{"id": "C9", "name": "releases"}]}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "slack_emulator",
        "--port",
        "0",
        "--seed",
        str(seed),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            lines: list[str] = []
            while not any(line.startswith("  delivery:") for line in lines):
                lines.append((await proc.stdout.readline()).decode())
        api_url = next(line for line in lines if line.startswith("  SLACK_API_URL=")).split("=", 1)[1].strip()
        token = next(line for line in lines if line.startswith("  SLACK_BOT_TOKEN=")).split("=", 1)[1].strip()
        web = AsyncWebClient(token=token, base_url=api_url)
        assert (await web.auth_test())["ok"]
        assert (await web.conversations_info(channel="C9"))["channel"]["name"] == "releases"
    finally:
        proc.send_signal(signal.SIGINT)
        assert await proc.wait() == 0
