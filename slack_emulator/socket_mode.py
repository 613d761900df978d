"""Socket Mode: the websocket side of the emulator.

``apps.connections.open`` issues a ticket URL (``ws://HOST:PORT/socket-mode?ticket=…``);
connecting to it yields a ``hello`` frame shaped like Slack's. Envelopes are sent to one
open connection at a time, round robin, as Slack spreads them over an app's connections.
Acknowledgements (``{"envelope_id": …, "payload": …}``) go to the dispatcher. Pings are
answered with pongs carrying the same data, which is how slack_sdk's aiohttp client checks
that its session is alive.

Tests can ask for a ``disconnect`` frame (the client then opens a fresh connection and the
server closes the old one after a grace period), a clean close, or an abrupt TCP abort.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

from slack_emulator.changes import ChangeFeed
from slack_emulator.delivery import Attempt, Delivery

JSON = dict[str, Any]
DisconnectMode = Literal["disconnect", "close", "abort"]
AckCallback = Callable[[str, JSON | None], bool]


@dataclass
class Connection:
    """One websocket from the app."""

    id: str
    ws: web.WebSocketResponse
    request: web.Request
    opened_at: float = field(default_factory=time.time)
    closed_at: float | None = None
    sent: int = 0
    acks: int = 0

    @property
    def open(self) -> bool:
        return self.closed_at is None and not self.ws.closed

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "open": self.open,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "sent": self.sent,
            "acks": self.acks,
        }


class SocketModeHub:
    """Accepts Socket Mode connections and is the dispatcher's transport in Socket Mode."""

    kind = "socket_mode"

    def __init__(self, app_id: str, feed: ChangeFeed, on_ack: AckCallback, disconnect_grace: float = 10.0) -> None:
        self.app_id = app_id
        self.feed = feed
        self.on_ack = on_ack
        self.disconnect_grace = disconnect_grace
        self.connections: list[Connection] = []
        self.history: list[Connection] = []
        self._tickets: set[str] = set()
        self._next = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # -- connecting ------------------------------------------------------------------------

    def issue_url(self, ws_base: str) -> str:
        """A fresh Socket Mode URL, as ``apps.connections.open`` returns."""
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return f"{ws_base}/socket-mode?ticket={ticket}&app_id={self.app_id}"

    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if c.open]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The websocket endpoint."""
        if request.query.get("ticket") not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(id="c" + secrets.token_hex(4), ws=ws, request=request)
        self.connections.append(conn)
        self.history.append(conn)
        self.feed.bump()
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self.open_connections()),
                    "debug_info": {
                        "host": "applink-emulator-" + conn.id,
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            conn.closed_at = time.time()
            if conn in self.connections:
                self.connections.remove(conn)
            self.feed.bump()
        return ws

    def _on_text(self, conn: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
            payload = message.get("payload")
            if self.on_ack(message["envelope_id"], payload if isinstance(payload, dict) else None):
                conn.acks += 1

    async def wait_connections(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` connections are open."""
        deadline = time.monotonic() + timeout
        while len(self.open_connections()) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.feed.closed:
                return False
            await self.feed.wait(self.feed.seq, remaining)
        return True

    def next_connection(self) -> Connection | None:
        """The open connection the next envelope goes to (round robin), or None when none is open."""
        conns = self.open_connections()
        return conns[self._next % len(conns)] if conns else None

    # -- sending ---------------------------------------------------------------------------

    async def send(self, delivery: Delivery, attempt: Attempt, deadline: float) -> None:
        """Send one envelope to one open connection, waiting for one until ``deadline``."""
        envelope = json.dumps(delivery.envelope(attempt))
        while time.monotonic() < deadline and not self.feed.closed:
            conns = self.open_connections()
            if not conns:
                await self.feed.wait(self.feed.seq, deadline - time.monotonic())
                continue
            conn = conns[self._next % len(conns)]
            self._next += 1
            try:
                await conn.ws.send_str(envelope)
            except (ConnectionError, RuntimeError):
                conn.closed_at = time.time()
                continue
            conn.sent += 1
            attempt.sent_at = time.time()
            attempt.outcome = "sent"
            attempt.connection = conn.id
            return
        attempt.outcome = "undeliverable"

    # -- disconnecting ---------------------------------------------------------------------

    async def disconnect(
        self, mode: DisconnectMode = "disconnect", reason: str = "warning", connection: str | None = None
    ) -> int:
        """Disconnect the open connections (or one of them); returns how many."""
        targets = [c for c in self.open_connections() if connection is None or c.id == connection]
        for conn in targets:
            if mode == "disconnect":
                frame = {
                    "type": "disconnect",
                    "reason": reason,
                    "num_connections": len(self.open_connections()),
                    "debug_info": {"host": "applink-emulator-" + conn.id},
                    "connection_info": {"app_id": self.app_id},
                }
                try:
                    await conn.ws.send_json(frame)
                except (ConnectionError, RuntimeError):
                    continue
                task = asyncio.ensure_future(self._close_later(conn))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif mode == "close":
                await conn.ws.close(code=1001, message=reason.encode())
            else:
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
                conn.closed_at = time.time()
        self.feed.bump()
        return len(targets)

    async def _close_later(self, conn: Connection) -> None:
        await asyncio.sleep(self.disconnect_grace)
        if not conn.ws.closed:
            await conn.ws.close(code=1001, message=b"disconnect")

    async def close(self) -> None:
        """Close every socket (server shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self.connections):
            if not conn.ws.closed:
                await conn.ws.close(code=1001, message=b"server shutdown")
