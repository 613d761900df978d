"""What a Slack request asks of the bot, read from the body Slack sent: a message (a mention in a channel, a direct
message), a ``/deploy`` command or a click on one of the bot's buttons, with the key that names it in the store's
inbox (:mod:`deploy.store.inbox`) and a JSON form of it to write there, from which any replica can answer it later.

Keys: one human message is ``msg:<channel>:<ts>`` whichever event brings it (an ``app_mention`` and its ``message``
twin, and every re-delivery, share it), ``event:<event_id>`` when it has no channel or ts; a slash command is
``slash:<trigger_id>``, a click ``click:<trigger_id>`` (both unique per request, and never re-delivered by Slack).
Anything else (edits, bot posts, channel messages that do not mention the bot, other apps' actions) is ``None``: not
a request for the bot. Only what answering needs is kept: no token, no team or enterprise ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

What = Literal["message", "slash", "click"]
KIND = "slack"  # the inbox's kind for everything Slack sent
BUTTONS = frozenset(
    {"run_cancel", "run_rollback", "run_approve", "run_continue", "run_abort", "run_reject", "plan_commands"}
)
_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+>\s*")


@dataclass(frozen=True)
class Inbound:
    key: str
    what: What
    user: str
    channel: str
    text: str = ""  # a message without its leading mention, or what followed ``/deploy``
    thread_ts: str | None = None
    action: str = ""  # a click: the button's action_id and value (a run id)
    value: str = ""
    response_url: str = ""  # a slash command or a click: where its answer may go for 30 minutes
    run_id: str = ""  # the id a run it asks for gets, given when it is written down (the same if answered again)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Inbound:
        """The request written by :meth:`to_json`; ValueError for anything else."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"an inbox entry is not JSON: {err}") from None
        if not isinstance(data, dict) or data.get("what") not in ("message", "slash", "click"):
            raise ValueError("an inbox entry does not say what it is (message, slash or click)")
        texts = ("key", "user", "channel", "text", "action", "value", "response_url", "run_id")
        if any(not isinstance(data.get(f, ""), str) for f in texts) or not isinstance(
            data.get("thread_ts"), str | None
        ):
            raise ValueError("an inbox entry has a field that is not text")
        if not data.get("key"):
            raise ValueError("an inbox entry has no key")
        return cls(
            data["key"], data["what"], data.get("user", ""), data.get("channel", ""),
            **{f: data[f] for f in (*texts[3:], "thread_ts") if f in data},
        )  # fmt: skip


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def inbound(body: Any) -> Inbound | None:
    """What ``body`` (an Events API callback, a slash command's form, an interaction payload) asks, or None."""
    body = _dict(body)
    if body.get("type") == "event_callback":
        return _message(body)
    if body.get("type") == "block_actions":
        return _click(body)
    if _text(body.get("command")) and _text(body.get("trigger_id")):
        return Inbound(
            f"slash:{body['trigger_id']}", "slash", _text(body.get("user_id")), _text(body.get("channel_id")),
            text=_text(body.get("text")), response_url=_text(body.get("response_url")),
        )  # fmt: skip
    return None


def _message(body: dict[str, Any]) -> Inbound | None:
    event = _dict(body.get("event"))
    kind = event.get("type")
    if kind == "message" and (event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id")):
        return None  # channel messages come as app_mention; edits and bot posts are not commands
    if kind not in ("app_mention", "message"):
        return None
    channel, ts = _text(event.get("channel")), _text(event.get("ts"))
    key = f"msg:{channel}:{ts}" if channel and ts else f"event:{_text(body.get('event_id'))}"
    if key == "event:":
        return None
    thread = _text(event.get("thread_ts")) or None
    text = _MENTION.sub("", _text(event.get("text")), count=1)
    return Inbound(key, "message", _text(event.get("user")), channel, text=text, thread_ts=thread)


def _click(body: dict[str, Any]) -> Inbound | None:
    actions = body.get("actions")
    action = _dict(actions[0]) if isinstance(actions, list) and actions else {}
    action_id = _text(action.get("action_id"))
    trigger = _text(body.get("trigger_id"))
    if action_id not in BUTTONS or not trigger:
        return None
    channel = _text(_dict(body.get("channel")).get("id")) or _text(_dict(body.get("container")).get("channel_id"))
    return Inbound(
        f"click:{trigger}", "click", _text(_dict(body.get("user")).get("id")), channel,
        action=action_id, value=_text(action.get("value")), response_url=_text(body.get("response_url")),
    )  # fmt: skip
