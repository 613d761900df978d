"""/healthz through the real bot: 200 while it can serve Slack, 503 once the socket has been down past the grace."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.bot.conftest import StackFactory

pytestmark = pytest.mark.sshd


async def healthz(port: int) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
        return r.status


async def test_healthz_turns_unhealthy_when_the_socket_stays_down_past_the_grace(stack: StackFactory) -> None:
    s = await stack(hosts=1, settings={"SHIPBOT_SOCKET_GRACE": 2})
    assert 200 == await healthz(s.running.ops_port)

    await s.emu.storm("apps.connections.open", 1000, retry_after=30)  # Slack will not hand out a new socket
    await s.emu.disconnect_socket("abort")
    await asyncio.sleep(0.5)
    assert 200 == await healthz(s.running.ops_port), "a dropped socket gets its grace"

    await asyncio.sleep(2.5)
    assert 503 == await healthz(s.running.ops_port)
