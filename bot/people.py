"""People named the way Slack shows them: display names from ``users.info``, cached, put into messages as they leave.

Rendering stays pure: :func:`bot.mrkdwn.user` writes a *person* marker around a user ID, :func:`bot.mrkdwn.mention`
a real ``<@U…>`` mention, which notifies that person and is kept for those who should be notified (the approvers of an
approval request, the requester when their run ends). :class:`NamingWebClient` is the Web API client every part of
the bot uses; on the way out of ``chat.postMessage``, ``chat.postEphemeral`` and ``chat.update`` it replaces each
marker with that user's display name (profile ``display_name``, else ``real_name``, else ``name``; escaped), asking
``users.info`` once per user and ``ttl`` seconds. When Slack cannot be asked the ID is shown, never nothing.
Access is never decided by names: the policy sees IDs only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.metrics import BotMetrics
from bot.mrkdwn import PERSON, esc
from bot.slack_calls import client_options, safe

_TTL = 600.0
_NAMED_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update"})


def display_name(user: dict[str, Any]) -> str:
    """The name Slack shows for a ``users.info`` user object."""
    profile = user.get("profile") or {}
    for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return str(user.get("id", ""))


class People:
    """Display names by user ID, asked of ``users.info`` and kept ``ttl`` seconds."""

    def __init__(self, client: AsyncWebClient, metrics: BotMetrics, ttl: float = _TTL) -> None:
        self.client = client
        self.metrics = metrics
        self.ttl = ttl
        self._names: dict[str, tuple[float, str]] = {}
        self._asking: dict[str, asyncio.Future[str]] = {}

    async def name(self, user_id: str) -> str:
        hit = self._names.get(user_id)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        if user_id in self._asking:  # one users.info per user, however many messages wait for it
            return await asyncio.shield(self._asking[user_id])
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._asking[user_id] = future
        try:
            data = await safe(self.metrics, "users.info", self.client.users_info(user=user_id))
            user = (data or {}).get("user")
            name = display_name(user) if isinstance(user, dict) else user_id
            if data is not None:
                self._names[user_id] = (time.monotonic(), name)
            future.set_result(name)
            return name
        finally:
            del self._asking[user_id]
            if not future.done():  # cancelled while asking: whoever waits on it shows the ID
                future.set_result(user_id)

    async def named(self, value: Any) -> Any:
        """``value`` (a message's text, blocks, or any JSON) with every person marker replaced by a name."""
        if isinstance(value, str):
            return await self._fill(value)
        if isinstance(value, list):
            return [await self.named(v) for v in value]
        if isinstance(value, dict):
            return {k: await self.named(v) for k, v in value.items()}
        return value

    async def _fill(self, text: str) -> str:
        if PERSON.search(text) is None:
            return text
        ids = dict.fromkeys(m.group(1) for m in PERSON.finditer(text))
        names = {user_id: esc(await self.name(user_id)) for user_id in ids}
        return PERSON.sub(lambda m: names[m.group(1)], text)


class NamingWebClient(AsyncWebClient):
    """The bot's Web API client: messages it sends name people (see the module docstring)."""

    people: People

    async def api_call(
        self, api_method: str, *, json: dict[str, Any] | None = None, **kwargs: Any
    ) -> AsyncSlackResponse:
        if json is not None and api_method in _NAMED_METHODS:
            json = await self.people.named(json)
        return await super().api_call(api_method, json=json, **kwargs)


def naming_client(token: str, base_url: str, metrics: BotMetrics) -> NamingWebClient:
    """The Web API client every part of the bot uses (SLACK_API_URL as its base URL)."""
    client = NamingWebClient(**client_options(token, base_url, metrics))
    client.people = People(client, metrics)
    return client
