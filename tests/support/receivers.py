"""HTTP receivers the sink tests send to: real aiohttp servers on 127.0.0.1, each recording every request it got
(method, path, headers, raw body) and answering what the test scripted (a status per request, or "down until").
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[["Receiver", web.Request, bytes], "web.Response | None"]


@dataclass
class Receiver:
    """``answers``: statuses for the next requests, in order (then 2xx); ``down_until``: a monotonic time before
    which every request gets 500; ``handler`` answers what it wants (None: the default)."""

    answers: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    down_until: float = 0.0
    handler: Handler | None = None
    delay: float = 0.0  # seconds before answering each request
    requests: list[Request] = field(default_factory=list)
    arrived: list[dict[str, str]] = field(default_factory=list)  # each request's headers as soon as it arrives
    runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.arrived.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        response: web.Response | None = None
        if time.monotonic() < self.down_until:
            response = web.Response(status=500, text="down for maintenance\nsecond line")
        elif self.answers:
            answer = self.answers.pop(0)
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            response = web.Response(status=status, text=f"scripted {status}\ndetail", headers=headers)
        elif self.handler is not None:
            response = self.handler(self, request, body)
        response = response or web.Response(status=200, text="ok")
        headers = dict(request.headers)
        self.requests.append(
            Request(request.method, request.path, dict(request.query), headers, body, time.monotonic(), response.status)
        )
        return response
