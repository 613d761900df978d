"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received" → post a card): the
request is a ``message`` whose one attachment is an Adaptive Card (Workflows take Adaptive Cards only, not the old
connector MessageCard). The URL itself is the secret: it is read from the variable ``url_env`` names.

Text from people (a ref, a commit subject, a reason) is escaped so that it never becomes Markdown, a link or an
Adaptive Card template function (``{{DATE(...)}}``) in the card.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import aiohttp

from deploy.notify.event_documents import headline
from sinks import http
from sinks.attempts import Attempt, secret

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")
_COLOURS = {
    "run.succeeded": "Good",
    "run.failed": "Attention",
    "run.cancelled": "Warning",
    "run.interrupted": "Warning",
    "freeze.started": "Warning",
    "freeze.ended": "Good",
}


def plain(text: str) -> str:
    """``text`` shown as it is: Markdown characters backslash-escaped, control characters dropped."""
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)
    return _MARKDOWN.sub(r"\\\1", text)


def card(document: Mapping[str, Any]) -> dict[str, Any]:
    """The Workflows request body for one event: a message with one Adaptive Card."""
    facts = [
        {"title": title, "value": plain(str(document[key]))}
        for key, title in (
            ("app", "App"), ("environment", "Environment"), ("ref", "Ref"), ("sha", "Commit"), ("user", "By"),
            ("run_id", "Run"), ("requested_by", "Asked by"), ("outcome", "Outcome"), ("message", "Result"),
            ("reason", "Reason"), ("ends_at", "Until"),
        )
        if document.get(key)
    ]  # fmt: skip
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock", "text": plain(headline(dict(document))), "weight": "Bolder", "size": "Medium",
            "wrap": True, "color": _COLOURS.get(str(document["type"]), "Default"),
        },
        {"type": "FactSet", "facts": facts},
    ]  # fmt: skip
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if document.get("url"):
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open the run", "url": str(document["url"])}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


async def deliver(
    session: aiohttp.ClientSession, msg_id: str, target: Mapping[str, Any], document: Mapping[str, Any]
) -> Attempt:
    url = secret(str(target["url_env"]))
    outcome, _ = await http.send(session, "POST", url, body=json.dumps(card(document)).encode())
    return outcome
