"""The emulator as a server, and its Python API for tests.

:class:`SlackEmulator` binds a socket (``port=0`` picks a free one), serves the Web API
(``/api/``), Socket Mode (``/socket-mode``), response URLs (``/hooks/``), file uploads
(``/upload/``), the control API (``/control/``) and the web page (``/``), and offers async
helpers mirroring the control API::

    async with SlackEmulator(ack_timeout=0.5) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
        ts = await emu.post_message("alice", "#deploys", "hello")
        reply = await emu.wait_for(lambda m: m.bot_id is not None and m.thread_ts == ts)
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from slack_emulator.calls import ApiCall
from slack_emulator.config import EmulatorConfig
from slack_emulator.control import ControlApi
from slack_emulator.core import EmulatorCore
from slack_emulator.delivery import Attempt, Delivery
from slack_emulator.limits import RateRule, Storm
from slack_emulator.socket_mode import DisconnectMode
from slack_emulator.workspace import Message, Workspace

JSON = dict[str, Any]
STATIC = Path(__file__).parent / "static"
T = TypeVar("T")


class SlackEmulator:
    """A local Slack for one app. Use as ``async with SlackEmulator(...) as emu``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: Mapping[str, Any] | str | Path | None = None,
        config: EmulatorConfig | None = None,
        ack_timeout: float | None = None,
        max_retries: int | None = None,
        request_url: str | None = None,
        signing_secret: str | None = None,
        rate_rules: list[RateRule] | None = None,
        echo_bot_messages: bool | None = None,
        disconnect_grace: float | None = None,
    ) -> None:
        config = config or EmulatorConfig()
        if ack_timeout is not None:
            config.ack_timeout = ack_timeout
        if max_retries is not None:
            config.max_retries = max_retries
        if request_url is not None:
            config.request_url = request_url
        if signing_secret is not None:
            config.signing_secret = signing_secret
        if rate_rules is not None:
            config.rate_rules = list(rate_rules)
        if echo_bot_messages is not None:
            config.echo_bot_messages = echo_bot_messages
        if disconnect_grace is not None:
            config.disconnect_grace = disconnect_grace
        self.host = host
        self.port = port
        self.config = config
        self.core = EmulatorCore(config, seed)
        self.control = ControlApi(self.core)
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024**2)
        app.router.add_route("*", "/api/{method}", self.core.web_api.handle)
        app.router.add_get("/socket-mode", self.core.hub.handle)
        app.router.add_post("/hooks/{kind}/{team}/{token}", self.core.response_urls.handle)
        app.router.add_post("/upload/v1/{file_id}", self.core.files.handle_upload)
        self.control.add_routes(app)
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.core.close()

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.core.urls.base = f"http://{host}:{self.port}"
        self._runner = web.AppRunner(self.build_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- addresses and credentials ---------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (the web page is at ``url + "/"``)."""
        return self.core.urls.base

    @property
    def api_url(self) -> str:
        """``base_url`` for slack_sdk web clients: ``http://HOST:PORT/api/``."""
        return self.core.urls.api

    @property
    def bot_token(self) -> str:
        return self.config.bot_token

    @property
    def app_token(self) -> str:
        return self.config.app_token

    @property
    def signing_secret(self) -> str:
        return self.config.signing_secret

    @property
    def workspace(self) -> Workspace:
        return self.core.workspace

    @property
    def bot_user_id(self) -> str:
        return self.core.workspace.bot.user_id

    def user_id(self, ref: str) -> str:
        """The id of a user given by name or id."""
        return self.core.actions.user(ref).id

    def channel_id(self, ref: str) -> str:
        """The id of a channel given by name, ``#name`` or id (a user gives their DM)."""
        return self.core.actions.channel(ref).id

    # -- acting as users -------------------------------------------------------------------

    async def post_message(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> str:
        """Post as ``user``; returns the message ts. The app gets ``message`` (and ``app_mention``)."""
        return self.core.actions.post_message(user, channel, text, thread_ts).ts

    async def slash_command(self, user: str, channel: str, command: str, text: str | None = None) -> Delivery:
        """Run a slash command (``command`` may be the whole ``/deploy …`` line)."""
        return self.core.actions.slash_command(user, channel, command, text)

    async def click(
        self,
        user: str,
        channel: str,
        ts: str,
        action_id: str,
        *,
        block_id: str | None = None,
        value: str | None = None,
    ) -> Delivery:
        """Click button ``action_id`` of message ``ts`` as ``user``."""
        return self.core.actions.click(user, channel, ts, action_id, block_id, value)

    # -- reading ---------------------------------------------------------------------------

    async def messages(self, channel: str, as_user: str | None = None) -> list[JSON]:
        """Top-level messages of a channel with replies nested, as the control API shows them."""
        viewer = self.user_id(as_user) if as_user is not None else None
        return self.core.workspace.read(self.channel_id(channel), viewer)

    async def message(self, channel: str, ts: str) -> Message | None:
        return self.core.workspace.get_message(self.channel_id(channel), ts)

    async def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = 5.0, channel: str | None = None
    ) -> Message:
        """The first message (ephemerals and replies included) matching ``predicate``.

        Re-checked on every change, so edits count: a predicate on ``m.text`` sees updates.
        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        channel_id = self.channel_id(channel) if channel is not None else None
        return await self._wait(
            lambda: next(
                (
                    m
                    for m in self.core.workspace.all_messages()
                    if (channel_id is None or m.channel == channel_id) and predicate(m)
                ),
                None,
            ),
            timeout,
        )

    async def wait_for_call(
        self, method: str, predicate: Callable[[ApiCall], bool] | None = None, timeout: float = 5.0
    ) -> ApiCall:
        """The first logged Web API call of ``method`` matching ``predicate``."""
        return await self._wait(
            lambda: next((c for c in self.core.calls.list(method) if predicate is None or predicate(c)), None), timeout
        )

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``condition()`` holds, re-checking it whenever the emulator's state changes."""
        await self._wait(lambda: True if condition() else None, timeout)

    async def _wait(self, probe: Callable[[], T | None], timeout: float) -> T:
        feed = self.core.feed
        deadline = time.monotonic() + timeout
        while True:
            seen = feed.seq
            found = probe()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or feed.closed:
                raise TimeoutError("nothing matched in time")
            await feed.wait(seen, remaining)

    async def calls(self, method: str | None = None) -> list[ApiCall]:
        """Web API calls made so far (``response_url`` posts are logged as method ``response_url``)."""
        return self.core.calls.list(method)

    async def deliveries(self, kind: str | None = None) -> list[Delivery]:
        return [d for d in self.core.dispatcher.deliveries.values() if kind is None or d.kind == kind]

    async def wait_acked(self, delivery: Delivery | str, timeout: float = 5.0) -> Delivery:
        """Wait until the app acknowledged ``delivery``."""
        ref = delivery if isinstance(delivery, str) else delivery.id
        return await self.core.dispatcher.wait_acked(ref, timeout)

    # -- disturbances ----------------------------------------------------------------------

    async def redeliver(self, delivery: Delivery | str, reason: str = "timeout") -> Attempt:
        """Send a past delivery (by object, id, event id or envelope id) again as a retry."""
        ref = delivery if isinstance(delivery, str) else delivery.id
        return await self.core.dispatcher.redeliver(ref, reason)

    async def disconnect_socket(
        self, mode: DisconnectMode = "disconnect", reason: str = "warning", connection: str | None = None
    ) -> int:
        """``disconnect`` frame, clean ``close`` or TCP ``abort`` of Socket Mode connections."""
        return await self.core.hub.disconnect(mode, reason, connection)

    async def wait_connections(self, count: int = 1, timeout: float = 5.0) -> bool:
        return await self.core.hub.wait_connections(count, timeout)

    @property
    def connection_count(self) -> int:
        return len(self.core.hub.open_connections())

    async def storm(self, method: str, count: int, retry_after: int = 1) -> Storm:
        """The next ``count`` calls of ``method`` (``*``: any) answer 429 with ``Retry-After``."""
        return self.core.limiter.storm(method, count, retry_after)

    def set_rate_rule(self, rule: RateRule) -> None:
        self.core.limiter.set_rule(rule)

    def clear_rate_rules(self, method: str | None = None) -> None:
        self.core.limiter.remove_rules(method)

    async def verify_url(self) -> bool:
        """HTTP mode: run the ``url_verification`` handshake against the request URL."""
        if self.core.http is None:
            raise RuntimeError("no request_url configured")
        return await self.core.http.verify_url()

    async def reset(self) -> None:
        self.core.reset()
