"""Wiring: one object that builds and owns every part of an emulator instance.

The workspace, change feed, call log, rate limiter, dispatcher and its transport (Socket
Mode hub, or HTTP delivery when a request URL is configured), response URLs, files and the
Web API are created here, so the HTTP layer (``server``/``control``) and the Python API
share exactly the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slack_emulator.actions import UserActions
from slack_emulator.calls import CallLog
from slack_emulator.changes import ChangeFeed
from slack_emulator.config import EmulatorConfig, Urls
from slack_emulator.delivery import Dispatcher
from slack_emulator.files import FileStore
from slack_emulator.http_delivery import HttpDelivery
from slack_emulator.limits import RateLimiter
from slack_emulator.response_urls import ResponseUrls
from slack_emulator.socket_mode import SocketModeHub
from slack_emulator.web_api import WebApi
from slack_emulator.workspace import Workspace


class EmulatorCore:
    def __init__(self, config: EmulatorConfig, seed: Mapping[str, Any] | str | Path | None = None) -> None:
        self.config = config
        self.urls = Urls()
        self.feed = ChangeFeed()
        if isinstance(seed, (str, Path)):
            self.workspace = Workspace.from_file(seed, self.feed)
        else:
            self.workspace = Workspace(seed, self.feed)
        self.calls = CallLog(self.feed)
        self.limiter = RateLimiter(config.rate_rules)
        self.dispatcher = Dispatcher(self.feed, config.ack_timeout, config.max_retries)
        self.hub = SocketModeHub(self.workspace.bot.app_id, self.feed, self.dispatcher.ack, config.disconnect_grace)
        self.http: HttpDelivery | None = None
        if config.request_url:
            self.http = HttpDelivery(config.request_url, config.signing_secret, self.dispatcher.ack)
            self.dispatcher.transport = self.http
        else:
            self.dispatcher.transport = self.hub
        self.response_urls = ResponseUrls(self.workspace, self.calls, config, self.urls)
        self.actions = UserActions(self.workspace, self.dispatcher, self.response_urls, config)
        self.files = FileStore(self.workspace, self.urls)
        self.web_api = WebApi(
            self.workspace, config, self.urls, self.limiter, self.calls, self.hub, self.actions, self.files
        )

    @property
    def mode(self) -> str:
        return "http" if self.http is not None else "socket_mode"

    def reset(self) -> None:
        """Forget messages, calls, deliveries, storms and rate counters; keep directory and sockets."""
        self.workspace.clear_messages()
        self.calls.clear()
        self.dispatcher.reset()
        self.limiter.reset()
        self.response_urls.targets.clear()
        self.feed.bump()

    async def close(self) -> None:
        await self.dispatcher.close()
        self.feed.close()
        await self.hub.close()
        if self.http is not None:
            await self.http.close()
