"""Slack user groups as the policy's ``@group`` principals (implements :class:`commands.ports.GroupResolver`).

``@deployers`` that is not defined under ``access.groups`` resolves through ``usergroups.list`` (handle -> id) and
``usergroups.users.list`` (id -> member user IDs). Answers are cached for a minute; if Slack cannot be asked,
the group has no members (access is denied, never granted, on error).
"""

from __future__ import annotations

import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import BotMetrics
from bot.slack_calls import safe

_TTL = 60.0


class SlackGroups:
    def __init__(self, client: AsyncWebClient, metrics: BotMetrics) -> None:
        self.client = client
        self.metrics = metrics
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def members(self, handle: str) -> frozenset[str]:
        handle = handle.lstrip("@")
        hit = self._cache.get(handle)
        if hit and time.monotonic() - hit[0] < _TTL:
            return hit[1]
        group_id = handle if handle.startswith("S") and handle.isupper() else await self._group_id(handle)
        users: frozenset[str] = frozenset()
        if group_id:
            data = await safe(
                self.metrics, "usergroups.users.list", self.client.usergroups_users_list(usergroup=group_id)
            )
            if data is not None:
                users = frozenset(str(u) for u in data.get("users", []))
        self._cache[handle] = (time.monotonic(), users)
        return users

    async def _group_id(self, handle: str) -> str | None:
        data = await safe(self.metrics, "usergroups.list", self.client.usergroups_list())
        for group in (data or {}).get("usergroups", []):
            if group.get("handle") == handle:
                return str(group.get("id"))
        return None
