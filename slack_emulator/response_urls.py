"""``response_url`` endpoints: where an app answers a slash command or a button click.

Each slash command and each click gets its own URL (``/hooks/commands/…`` or
``/hooks/actions/…``). The app POSTs a message to it:

* ``response_type: "in_channel"`` posts visibly in the channel, anything else (the default)
  posts an ephemeral message only the invoking user sees;
* ``replace_original: true`` edits the message the click came from (or the command's last
  response), recorded as an edit like ``chat.update``; ``delete_original: true`` deletes it;
* ``thread_ts`` posts into a thread.

As on Slack a URL works at most 5 times within 30 minutes; content limits apply.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from slack_emulator.blocks import ContentError, check_content, parse_blocks, with_block_ids
from slack_emulator.calls import CallLog
from slack_emulator.config import EmulatorConfig, Urls
from slack_emulator.errors import SlackError
from slack_emulator.workspace import Message, Workspace

JSON = dict[str, Any]
Kind = Literal["commands", "actions"]


@dataclass
class ResponseTarget:
    """What one response_url answers to."""

    token: str
    kind: Kind
    channel: str
    user: str
    message_ts: str | None = None
    created: float = 0.0
    uses: int = 0


class ResponseUrls:
    def __init__(self, ws: Workspace, calls: CallLog, config: EmulatorConfig, urls: Urls) -> None:
        self.ws = ws
        self.calls = calls
        self.config = config
        self.urls = urls
        self.targets: dict[str, ResponseTarget] = {}

    def issue(self, kind: Kind, channel: str, user: str, message_ts: str | None = None) -> str:
        token = secrets.token_urlsafe(18)
        self.targets[token] = ResponseTarget(token, kind, channel, user, message_ts, created=time.time())
        return f"{self.urls.base}/hooks/{kind}/{self.ws.team.id}/{token}"

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body: Any
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            form = await request.post()
            body = json.loads(str(form.get("payload", "{}")))
        if not isinstance(body, dict):
            body = {}
        try:
            result = self.respond(request.match_info["token"], body)
        except SlackError as exc:
            self.calls.record("response_url", exc.status, False, exc.error, body)
            return web.json_response(exc.to_json(), status=exc.status)
        self.calls.record("response_url", 200, True, None, body)
        return web.json_response(result)

    def respond(self, token: str, body: JSON) -> JSON:
        """Apply one POST to a response_url."""
        target = self.targets.get(token)
        if target is None or time.time() - target.created > self.config.response_url_ttl:
            raise SlackError("expired_url", status=404)
        if target.uses >= self.config.response_url_max_uses:
            raise SlackError("used_url", status=410)
        try:
            blocks = parse_blocks(body.get("blocks"))
            text = body.get("text")
            check_content(text, blocks)
        except ContentError as exc:
            raise SlackError(exc.error, status=400, response_metadata={"messages": exc.messages}) from exc
        target.uses += 1
        original = self.ws.get_message(target.channel, target.message_ts) if target.message_ts else None
        if body.get("delete_original") in (True, "true"):
            if original is None:
                raise SlackError("message_not_found", status=404)
            self.ws.delete_message(original)
            return {"ok": True}
        if text is None and blocks is None:
            raise SlackError("no_text", status=400)
        blocks = with_block_ids(blocks) if blocks is not None else None
        if body.get("replace_original") in (True, "true") and original is not None:
            self.ws.update_message(original, str(text or ""), blocks, via="response_url")
            return {"ok": True}
        message = self._post(target, str(text or ""), blocks, body)
        if target.kind == "commands":
            target.message_ts = message.ts
        return {"ok": True}

    def _post(self, target: ResponseTarget, text: str, blocks: list[JSON] | None, body: JSON) -> Message:
        thread_ts = body.get("thread_ts")
        in_channel = body.get("response_type") == "in_channel"
        return self.ws.post_as_bot(
            target.channel,
            text,
            blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            ephemeral_to=None if in_channel else target.user,
        )
