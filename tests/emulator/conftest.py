"""Fixtures: a running emulator, a real slack_sdk web client and real Socket Mode clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMessage
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from slack_emulator import SlackEmulator


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(ack_timeout=0.4, disconnect_grace=0.5) as emulator:
        yield emulator


@pytest.fixture
def web(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)


@dataclass
class Recorder:
    """A Socket Mode app: records every request and acks those ``should_ack`` accepts."""

    client: SocketModeClient
    requests: list[SocketModeRequest] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    should_ack: Callable[[SocketModeRequest], bool] = lambda _req: True
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        self.arrived.set()
        if self.should_ack(req):
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    async def on_frame(self, message: WSMessage) -> None:
        """Every text frame as the client's socket received it (``hello`` and ``disconnect`` included)."""
        self.frames.append(json.loads(message.data))
        self.arrived.set()

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [
            r.payload["event"]
            for r in self.requests
            if r.type == "events_api" and (event_type is None or r.payload["event"]["type"] == event_type)
        ]

    async def wait(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self.arrived.clear()
                if condition():
                    return
                await self.arrived.wait()


SocketFactory = Callable[..., Awaitable[Recorder]]


@pytest.fixture
async def socket_app(emu: SlackEmulator) -> AsyncIterator[SocketFactory]:
    """Connects real slack_sdk aiohttp Socket Mode clients to the emulator."""
    made: list[Recorder] = []

    async def connect(ping_interval: float = 0.3) -> Recorder:
        client = SocketModeClient(
            app_token=emu.app_token,
            web_client=AsyncWebClient(base_url=emu.api_url),
            ping_interval=ping_interval,
        )
        recorder = Recorder(client)
        client.socket_mode_request_listeners.append(recorder.on_request)
        client.on_message_listeners.append(recorder.on_frame)
        await client.connect()  # type: ignore[no-untyped-call]
        made.append(recorder)
        return recorder

    yield connect
    for recorder in made:
        await recorder.client.close()  # type: ignore[no-untyped-call]
