"""Builders for what Slack sends an app: event callbacks, slash commands, block actions.

The shapes follow Slack's own examples (see the payload samples the project keeps):
``event_callback`` wrappers with ``authorizations`` and ``event_context``, ``message`` and
``app_mention`` events with ``rich_text`` blocks, slash command fields, and ``block_actions``
payloads with ``container``, ``message``, ``state`` and ``response_url``. Pure functions only.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from slack_emulator.workspace import MENTION_RE, Channel, Message, User, Workspace

JSON = dict[str, Any]


def new_event_id() -> str:
    return "Ev" + secrets.token_hex(5).upper()


def new_trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def rich_text(text: str) -> list[JSON]:
    """The ``rich_text`` block Slack derives from what a user typed (mentions become user elements)."""
    elements: list[JSON] = []
    pos = 0
    for match in MENTION_RE.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": text[pos : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": text[pos:]})
    block_id = secrets.token_urlsafe(4)[:5]
    return [
        {"type": "rich_text", "block_id": block_id, "elements": [{"type": "rich_text_section", "elements": elements}]}
    ]


def event_callback(ws: Workspace, event: JSON, event_id: str | None = None) -> JSON:
    """Wrap one event the way the Events API delivers it."""
    now = int(time.time())
    channel = str(event.get("channel", ""))
    return {
        "token": "",
        "team_id": ws.team.id,
        "api_app_id": ws.bot.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team.id,
                "user_id": ws.bot.user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event.get('type')}-{ws.team.id}-{channel}",
    }


def message_event(message: Message, channel: Channel, thread_parent: Message | None = None) -> JSON:
    """The ``message`` event for a freshly posted message."""
    event: JSON = {
        "type": "message",
        "text": message.text,
        "ts": message.ts,
        "team": message.team,
        "channel": message.channel,
        "event_ts": message.ts,
        "channel_type": channel.channel_type,
    }
    if message.user:
        event["user"] = message.user
    if message.client_msg_id:
        event["client_msg_id"] = message.client_msg_id
    if message.bot_id:
        event["bot_id"] = message.bot_id
        event["subtype"] = "bot_message"
        event["app_id"] = message.app_id
    event["blocks"] = message.blocks if message.blocks is not None else rich_text(message.text)
    if message.thread_ts:
        event["thread_ts"] = message.thread_ts
        if thread_parent is not None and thread_parent.user:
            event["parent_user_id"] = thread_parent.user
    return event


def app_mention_event(message: Message) -> JSON:
    """The ``app_mention`` event Slack sends alongside the ``message`` event of a mention."""
    event: JSON = {
        "type": "app_mention",
        "text": message.text,
        "user": message.user,
        "ts": message.ts,
        "team": message.team,
        "channel": message.channel,
        "event_ts": message.ts,
        "blocks": message.blocks if message.blocks is not None else rich_text(message.text),
    }
    if message.client_msg_id:
        event["client_msg_id"] = message.client_msg_id
    if message.thread_ts:
        event["thread_ts"] = message.thread_ts
    return event


def slash_command(
    ws: Workspace,
    token: str,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """Slash command fields (form body over HTTP, ``payload`` in Socket Mode)."""
    return {
        "token": token,
        "team_id": ws.team.id,
        "team_domain": ws.team.domain,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.bot.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions(
    ws: Workspace,
    token: str,
    user: User,
    channel: Channel,
    message: Message,
    action: JSON,
    response_url: str,
    trigger_id: str,
) -> JSON:
    """A ``block_actions`` payload for one click on ``message``."""
    return {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team.id},
        "api_app_id": ws.bot.app_id,
        "token": token,
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": message.ephemeral_to is not None,
        },
        "trigger_id": trigger_id,
        "team": {"id": ws.team.id, "domain": ws.team.domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": "directmessage" if channel.is_im else channel.name},
        "message": message.to_api(),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def find_action(blocks: list[JSON] | None, action_id: str, block_id: str | None = None) -> tuple[JSON, str] | None:
    """The interactive element ``action_id`` (in ``block_id`` if given) and its block's id."""
    for block in blocks or []:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates: list[Any] = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, str(block.get("block_id", ""))
    return None


def action_from_element(element: JSON, block_id: str, value: str | None = None) -> JSON:
    """The ``actions[0]`` entry for a click on ``element``."""
    action: JSON = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "type": element.get("type", "button"),
        "action_ts": f"{time.time():.6f}",
    }
    if "text" in element:
        text = dict(element["text"])
        if text.get("type") == "plain_text":
            text.setdefault("emoji", True)  # Slack fills it in on every plain_text it hands back
        action["text"] = text
    chosen = value if value is not None else element.get("value")
    if chosen is not None:
        action["value"] = chosen
    if "style" in element:
        action["style"] = element["style"]
    return action
