"""The web page in headless Chromium, driven over the DevTools protocol.

Alice types into the page; the message reaches the emulator as hers and shows up in the
list. Bot messages render their blocks (mrkdwn, buttons) without ever injecting HTML, edits
appear live, ephemerals show only to their user, and clicking a button becomes a
``block_actions`` delivery as the chosen user.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from slack_emulator import SlackEmulator
from tests.support.ports import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


class Page:
    """Just enough of the DevTools protocol: evaluate JavaScript, type, press Enter."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json(timeout=10)
            if msg.get("id") == call_id:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return dict(msg.get("result", {}))

    async def eval(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (value := await self.eval(expression)):
                await asyncio.sleep(0.1)
        return value

    async def type_and_enter(self, selector: str, text: str) -> None:
        await self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.send("Input.insertText", text=text)
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}
        await self.send("Input.dispatchKeyEvent", type="keyDown", text="\r", **key)
        await self.send("Input.dispatchKeyEvent", type="keyUp", **key)


@pytest.fixture
async def page(emu: SlackEmulator, tmp_path: Path) -> AsyncIterator[Page]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        f"--remote-debugging-port={port}",
        f"{emu.url}/?user=alice&channel=deploys",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            targets: list[dict[str, Any]] = []
            async with asyncio.timeout(30):
                while not any(t.get("type") == "page" for t in targets):
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                            targets = await resp.json()
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.2)
            target = next(t for t in targets if t.get("type") == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield Page(ws)
    finally:
        proc.terminate()
        await proc.wait()


async def test_type_a_message_and_see_it(emu: SlackEmulator, page: Page) -> None:
    await page.until("document.querySelectorAll('#user-select option').length > 0")
    assert await page.eval("document.getElementById('user-select').selectedOptions[0].value") == "U0ALICE"
    assert await page.eval("document.getElementById('channel-title').textContent") == "#deploys"

    await page.type_and_enter("#composer-input", "hello from the browser & co @shipbot")
    message = await emu.wait_for(lambda m: m.user == "U0ALICE")
    assert message.text == "hello from the browser &amp; co <@U0SHIPBOT>", "typed text is escaped like Slack's client"
    shown = await page.until(
        "[...document.querySelectorAll('#messages .message')].map(m => m.innerText).join('\\n')"
        ".includes('hello from the browser & co @shipbot') && document.getElementById('messages').innerText"
    )
    assert "alice" in shown


async def test_blocks_render_safely_update_live_and_buttons_click(emu: SlackEmulator, page: Page) -> None:
    await page.until("document.querySelectorAll('#user-select option').length > 0")
    web = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy #9"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*running* `main` &lt;img src=x onerror=alert(1)&gt;"}},
        {"type": "context", "elements": [{"type": "plain_text", "text": "<b>plain</b> <img src=y onerror=alert(2)>"}]},
        {
            "type": "actions",
            "block_id": "act-9",
            "elements": [
                {
                    "type": "button",
                    "action_id": "deploy_logs",
                    "text": {"type": "plain_text", "text": "Logs"},
                    "value": "9",
                }
            ],
        },
    ]
    posted = await web.chat_postMessage(channel="C0DEPLOY", text="Deploy #9", blocks=blocks)
    await page.until("!!document.querySelector('#messages button[data-action-id=deploy_logs]')")
    assert await page.eval("document.querySelector('#messages .block-header').textContent") == "Deploy #9"
    assert await page.eval("document.querySelector('#messages b').textContent") == "running"
    assert await page.eval("document.querySelector('#messages code').textContent") == "main"
    assert await page.eval("document.querySelectorAll('#messages img').length") == 0
    shown = await page.eval("document.getElementById('messages').innerText")
    assert "<img src=x onerror=alert(1)>" in shown
    assert "<b>plain</b> <img src=y onerror=alert(2)>" in shown
    assert await page.eval("document.querySelectorAll('#messages .block-context b').length") == 0

    await web.chat_update(channel="C0DEPLOY", ts=posted["ts"], text="Deploy #9 done", blocks=blocks[:1])
    await page.until("document.getElementById('messages').innerText.includes('(edited)')")
    assert await page.eval("document.querySelectorAll('#messages button[data-action-id]').length") == 0

    await web.chat_postEphemeral(channel="C0DEPLOY", user="U0ALICE", text="psst, alice")
    await web.chat_postEphemeral(channel="C0DEPLOY", user="U0BOB", text="psst, bob")
    await page.until("document.getElementById('messages').innerText.includes('psst, alice')")
    text = await page.eval("document.getElementById('messages').innerText")
    assert "Only visible to you" in text and "psst, bob" not in text

    clickable = await web.chat_postMessage(channel="C0DEPLOY", text="again", blocks=blocks[3:])
    await page.until("!!document.querySelector('#messages button[data-action-id=deploy_logs]')")
    await page.eval("document.querySelector('#messages button[data-action-id=deploy_logs]').click()")
    await emu.wait_until(lambda: bool(emu.core.dispatcher.deliveries))
    [delivery] = await emu.deliveries("interactive")
    assert delivery.payload["user"]["id"] == "U0ALICE"
    assert delivery.payload["actions"][0]["action_id"] == "deploy_logs"
    assert delivery.payload["container"]["message_ts"] == clickable["ts"]
