"""Who is asking: an :class:`Actor` is a Slack user ID plus the group names it belongs to (pure).

Identity is the immutable user ID (``U…``/``W…``) Slack puts on every event, never a display name, so renaming
oneself gains nothing. Group membership is resolved to IDs before any decision: config groups
(``access.groups``) directly, any other ``@handle`` through Slack user groups. The async resolution lives in the
service (it asks the :class:`~commands.ports.GroupResolver` port for exactly :func:`slack_handles`); this module
only combines the answers, so policy stays pure. A config group wins over a Slack group of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from commands.access_config import USER_ID, AccessConfig, AppPolicy, EnvironmentAccess


@dataclass(frozen=True)
class Actor:
    user_id: str
    groups: frozenset[str] = frozenset()  # group names without the leading '@'


def is_user_id(value: str) -> bool:
    return bool(USER_ID.fullmatch(value))


def _all_principals(access: AccessConfig) -> set[str]:
    found = set(access.admins)
    for rules in access.environments.values():
        for field in EnvironmentAccess.model_fields:
            value = getattr(rules, field)
            if isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
    return found


def slack_handles(policy: AppPolicy) -> frozenset[str]:
    """The ``@handles`` this policy names that are not config groups: they resolve through Slack."""
    if policy.access is None:
        return frozenset()
    access = policy.access
    return frozenset(p[1:] for p in _all_principals(access) if p.startswith("@") and p[1:] not in access.groups)


def actor_for(policy: AppPolicy, user_id: str, slack_members: Mapping[str, frozenset[str]] | None = None) -> Actor:
    """``user_id`` with every group of ``policy`` it belongs to; ``slack_members`` maps handle -> member IDs."""
    if policy.access is None:
        return Actor(user_id)
    groups = {name for name, members in policy.access.groups.items() if user_id in members}
    for handle, members in (slack_members or {}).items():
        if handle not in policy.access.groups and user_id in members:
            groups.add(handle)
    return Actor(user_id, frozenset(groups))
