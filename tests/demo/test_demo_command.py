"""``shipbot demo`` and ``shipbot run`` started as a user would: in a subprocess, on free ports."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))


def processes_mentioning(text: str) -> list[int]:
    """Pids of processes whose command line or environment mentions ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(entry.name))
    return found


async def read_until(stream: asyncio.StreamReader, pattern: str, timeout: float) -> re.Match[str]:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(stream.readline(), deadline - time.monotonic())
        if not line:
            break
        seen += line.decode()
        match = re.search(pattern, seen)
        if match:
            return match
    raise AssertionError(f"never printed {pattern!r}; output was:\n{seen}")


async def test_the_demo_deploys_from_chat_and_stops_leaving_nothing_running(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    proc = await asyncio.create_subprocess_exec(
        SHIPBOT, "demo", "--port", "0", "--data-dir", str(data),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready = await read_until(proc.stdout, r"shipbot demo ready: (http://127\.0\.0\.1:\d+) \(ops port (\d+)\)", 60)
        url, ops = ready.group(1), ready.group(2)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{ops}/healthz") as r:
                assert 200 == r.status
            async with http.post(
                f"{url}/control/messages",
                json={"user": "alice", "channel": "#deploys", "text": "<@U0SHIPBOT> deploy feature/new-login to stg"},
            ) as r:
                assert 200 == r.status
            report = None
            for _ in range(60):
                async with http.get(f"{url}/control/messages", params={"channel": "#deploys"}) as r:
                    messages = (await r.json())["messages"]
                report = next((m for m in messages if ":large_green_circle:" in str(m.get("blocks"))), None)
                if report:
                    break
                await asyncio.sleep(0.5)
            assert report is not None, messages
            assert "feature/new-login" in report["text"] and "staging" in report["text"]
            assert [] != sorted(data.glob("demo/hosts/stg-*/shop/releases/*"))
        proc.send_signal(signal.SIGINT)
        assert 0 == await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:  # a failed assertion: stop it the way a person would, so it cleans up
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    await asyncio.sleep(0.5)
    assert [] == processes_mentioning(str(data)), "the demo left processes running"


def test_run_without_settings_fails_fast_with_one_line_per_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBOT_"))}
    result = subprocess.run([SHIPBOT, "run"], capture_output=True, text=True, env=env, timeout=30, cwd=tmp_path)

    assert 2 == result.returncode
    lines = result.stderr.splitlines()
    assert [line.split(" is not set")[0] for line in lines] == ["shipbot: SLACK_BOT_TOKEN", "shipbot: SLACK_APP_TOKEN"]
    assert all(line.endswith("see .env.example") for line in lines)


def test_run_in_http_mode_without_a_signing_secret_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBOT_"))}
    env |= {"SLACK_BOT_TOKEN": "xoxb-1", "SHIPBOT_MODE": "http", "SHIPBOT_HTTP_PORT": "not-a-port"}
    result = subprocess.run([SHIPBOT, "run"], capture_output=True, text=True, env=env, timeout=30, cwd=tmp_path)

    assert 2 == result.returncode
    lines = result.stderr.splitlines()
    assert any(line.startswith("shipbot: SHIPBOT_HTTP_PORT in the environment is invalid") for line in lines), lines
    assert any(line.startswith("shipbot: SLACK_SIGNING_SECRET is not set") for line in lines), lines
    assert "xoxb-1" not in result.stderr, "a token is never printed"
