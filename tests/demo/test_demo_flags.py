"""The demo shows feature flags: its app reads ``new-login`` through the real OpenFeature SDK and flagd provider
from the flag file shipbot writes, and ``flag on new-login in staging`` in the emulator changes what its page
serves within 5 seconds, without a deploy (``shipbot demo`` started as a user would, in a subprocess)."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import aiohttp

from tests.demo.test_demo_command import SHIPBOT, processes_mentioning, read_until


async def say(http: aiohttp.ClientSession, url: str, text: str) -> None:
    message = {"user": "alice", "channel": "#deploys", "text": f"<@U0SHIPBOT> {text}"}
    async with http.post(f"{url}/control/messages", json=message) as r:
        assert r.status == 200


async def page(http: aiohttp.ClientSession, app: str) -> str:
    async with http.get(app) as r:
        return await r.text()


async def test_flag_on_in_the_demo_changes_the_staging_pages_without_a_deploy(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    proc = await asyncio.create_subprocess_exec(
        SHIPBOT, "demo", "--port", "0", "--data-dir", str(data),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        apps = (await read_until(proc.stdout, r"The staging apps answer on (.*)\n", 60)).group(1).split(", ")
        url = (await read_until(proc.stdout, r"shipbot demo ready: (http://127\.0\.0\.1:\d+)", 60)).group(1)
        async with aiohttp.ClientSession() as http:
            await say(http, url, "deploy main to staging")
            messages: list[dict[str, object]] = []
            for _ in range(360):
                async with http.get(f"{url}/control/messages", params={"channel": "#deploys"}) as r:
                    messages = (await r.json())["messages"]
                if any(":large_green_circle:" in str(m.get("blocks")) for m in messages):
                    break
                await asyncio.sleep(0.5)
            assert any(":large_green_circle:" in str(m.get("blocks")) for m in messages), [
                m.get("text") for m in messages
            ]
            assert [re.search(r"new-login: <b>(\w+)", await page(http, app)).group(1) for app in apps] == [  # type: ignore[union-attr]
                "off"
            ] * len(apps)

            await say(http, url, "flag on new-login in staging")
            started = time.monotonic()
            pages: list[str] = []
            while time.monotonic() - started < 5:
                pages = [await page(http, app) for app in apps]
                if all("new-login: <b>on</b>" in p for p in pages):
                    break
                await asyncio.sleep(0.2)
            assert all("new-login: <b>on</b>" in p for p in pages), pages
            assert len(list(data.glob("demo/hosts/stg-*/shop/releases/*"))) == len(apps)  # no deploy since
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    await asyncio.sleep(0.5)
    assert processes_mentioning(str(data)) == [], "the demo left processes running"
