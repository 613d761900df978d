"""The Web API: ``/api/<method>``, as slack_sdk's web clients call it.

Arguments are read from the query string and from a JSON or form-encoded body (Block Kit
and other structured arguments arrive as JSON strings in forms). The token comes from
``Authorization: Bearer …`` or a ``token`` argument: bot methods need the bot token
(``xoxb-``), ``apps.connections.open`` the app-level token (``xapp-``). Answers follow
Slack: HTTP 200 with ``ok``/``error`` for ordinary failures, HTTP 429 with ``Retry-After`` and
``{"ok": false, "error": "ratelimited"}`` when a rate limit or a test's storm applies.
Every call is logged, refused ones included.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from slack_emulator.actions import UserActions
from slack_emulator.blocks import ContentError, check_content, parse_blocks, with_block_ids
from slack_emulator.calls import CallLog
from slack_emulator.config import EmulatorConfig, Urls
from slack_emulator.errors import SlackError
from slack_emulator.files import FileStore
from slack_emulator.limits import RateLimiter
from slack_emulator.socket_mode import SocketModeHub
from slack_emulator.workspace import Channel, Message, Workspace

JSON = dict[str, Any]
Handler = Callable[[JSON], Awaitable[JSON]]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
JSON_ARGS = ("blocks", "attachments", "files", "metadata")


async def read_args(request: web.Request) -> JSON:
    """All arguments of a call, whatever way they were sent."""
    args: JSON = dict(request.query)
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise SlackError("invalid_json") from exc
            if isinstance(body, dict):
                args.update(body)
        elif request.content_type in FORM_TYPES:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in JSON_ARGS:
        value = args.get(key)
        if isinstance(value, str) and value.strip().startswith(("[", "{")):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)
    return args


def _flag(value: Any) -> bool | None:
    """A boolean argument, sent as JSON ``true`` or form ``"true"``/``"1"``."""
    if value is None or value == "":
        return None
    return value is True or str(value).lower() in ("true", "1")


def token_of(request: web.Request, args: JSON) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    token = args.pop("token", None)
    return str(token) if token else None


class WebApi:
    def __init__(
        self,
        ws: Workspace,
        config: EmulatorConfig,
        urls: Urls,
        limiter: RateLimiter,
        calls: CallLog,
        hub: SocketModeHub,
        actions: UserActions,
        files: FileStore,
    ) -> None:
        self.ws = ws
        self.config = config
        self.urls = urls
        self.limiter = limiter
        self.calls = calls
        self.hub = hub
        self.actions = actions
        self.files = files
        self.bot_methods: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.delete": self.chat_delete,
            "chat.getPermalink": self.chat_get_permalink,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "usergroups.list": self.usergroups_list,
            "conversations.info": self.conversations_info,
            "conversations.replies": self.conversations_replies,
            "conversations.history": self.conversations_history,
            "files.getUploadURLExternal": self.files_get_upload_url,
            "files.completeUploadExternal": self.files_complete,
        }
        self.app_methods: dict[str, Handler] = {"apps.connections.open": self.apps_connections_open}

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: JSON = {}
        try:
            args = await read_args(request)
            token = token_of(request, args)
            handler = self._authorize(method, token)
            retry_after = self.limiter.check(method, args)
            if retry_after is not None:
                self.calls.record(method, 429, False, "ratelimited", args, retry_after)
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                    content_type="application/json",
                )
            result = await handler(args)
        except SlackError as exc:
            self.calls.record(method, exc.status, False, exc.error, args)
            return web.json_response(exc.to_json(), status=exc.status)
        except ContentError as exc:
            self.calls.record(method, 200, False, exc.error, args)
            return web.json_response({"ok": False, "error": exc.error, "response_metadata": {"messages": exc.messages}})
        self.calls.record(method, 200, True, None, args)
        return web.json_response({"ok": True, **result})

    def _authorize(self, method: str, token: str | None) -> Handler:
        if method not in self.bot_methods and method not in self.app_methods:
            raise SlackError("unknown_method", status=404)
        if token not in (self.config.bot_token, self.config.app_token):
            raise SlackError("invalid_auth")
        if method in self.app_methods:
            if token != self.config.app_token:
                raise SlackError("not_allowed_token_type")
            return self.app_methods[method]
        if token != self.config.bot_token:
            raise SlackError("not_allowed_token_type")
        return self.bot_methods[method]

    # -- helpers ---------------------------------------------------------------------------

    def _channel(self, args: JSON, key: str = "channel") -> Channel:
        ref = args.get(key)
        channel = self.ws.find_channel(str(ref)) if ref else None
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def _message(self, channel: Channel, ts: Any) -> Message:
        message = self.ws.get_message(channel.id, str(ts)) if ts else None
        if message is None:
            raise SlackError("message_not_found")
        return message

    @staticmethod
    def _content(args: JSON) -> tuple[str | None, list[JSON] | None]:
        blocks = parse_blocks(args.get("blocks"))
        text = args.get("text")
        check_content(text, blocks)
        return (str(text) if text is not None else None), (with_block_ids(blocks) if blocks is not None else None)

    # -- methods ---------------------------------------------------------------------------

    async def auth_test(self, args: JSON) -> JSON:
        return {
            "url": f"https://{self.ws.team.domain}.slack.com/",
            "team": self.ws.team.name,
            "user": self.ws.bot.name,
            "team_id": self.ws.team.id,
            "user_id": self.ws.bot.user_id,
            "bot_id": self.ws.bot.bot_id,
            "is_enterprise_install": False,
        }

    async def apps_connections_open(self, args: JSON) -> JSON:
        return {"url": self.hub.issue_url(self.urls.ws)}

    async def chat_post_message(self, args: JSON) -> JSON:
        channel = self._channel(args)
        text, blocks = self._content(args)
        attachments = args.get("attachments") if isinstance(args.get("attachments"), list) else None
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        thread_ts = args.get("thread_ts")
        message = self.ws.post_as_bot(
            channel.id,
            text or "",
            blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            attachments=attachments,
            unfurl_links=_flag(args.get("unfurl_links")),
            unfurl_media=_flag(args.get("unfurl_media")),
            subtype="thread_broadcast" if thread_ts and _flag(args.get("reply_broadcast")) else None,
        )
        if self.config.echo_bot_messages:
            self.actions.emit_message_events(message)
        return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}

    async def chat_update(self, args: JSON) -> JSON:
        channel = self._channel(args)
        message = self._message(channel, args.get("ts"))
        if message.bot_id != self.ws.bot.bot_id:
            raise SlackError("cant_update_message")
        text, blocks = self._content(args)
        if text is None and blocks is None:
            raise SlackError("no_text")
        self.ws.update_message(message, text, blocks, via="chat.update")
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": message.to_api()}

    async def chat_post_ephemeral(self, args: JSON) -> JSON:
        channel = self._channel(args)
        user = self.ws.find_user(str(args.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        text, blocks = self._content(args)
        if not text and not blocks:
            raise SlackError("no_text")
        thread_ts = args.get("thread_ts")
        message = self.ws.post_as_bot(
            channel.id, text or "", blocks, thread_ts=str(thread_ts) if thread_ts else None, ephemeral_to=user.id
        )
        return {"message_ts": message.ts}

    async def chat_delete(self, args: JSON) -> JSON:
        channel = self._channel(args)
        message = self._message(channel, args.get("ts"))
        if message.bot_id != self.ws.bot.bot_id:
            raise SlackError("cant_delete_message")
        self.ws.delete_message(message)
        return {"channel": channel.id, "ts": message.ts}

    async def chat_get_permalink(self, args: JSON) -> JSON:
        channel = self._channel(args)
        message = self._message(channel, args.get("message_ts"))
        link = f"https://{self.ws.team.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        return {"channel": channel.id, "permalink": link}

    async def users_info(self, args: JSON) -> JSON:
        user = self.ws.users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user.to_api(self.ws.team.id)}

    async def usergroups_users_list(self, args: JSON) -> JSON:
        group = self.ws.usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group.members)}

    async def usergroups_list(self, args: JSON) -> JSON:
        include_users = str(args.get("include_users", "")).lower() in ("1", "true")
        groups = []
        for g in self.ws.usergroups.values():
            entry: JSON = {"id": g.id, "team_id": self.ws.team.id, "handle": g.handle, "name": g.name}
            if include_users:
                entry["users"] = list(g.members)
            groups.append(entry)
        return {"usergroups": groups}

    async def conversations_info(self, args: JSON) -> JSON:
        channel = self.ws.channels.get(str(args.get("channel") or ""))
        if channel is None:
            raise SlackError("channel_not_found")
        return {"channel": channel.to_api()}

    async def conversations_replies(self, args: JSON) -> JSON:
        channel = self._channel(args)
        parent = self._message(channel, args.get("ts"))
        replies = self.ws.thread(channel.id, parent.ts)
        return {
            "messages": [parent.to_api()] + [r.to_api() for r in replies if r.ephemeral_to is None],
            "has_more": False,
        }

    async def conversations_history(self, args: JSON) -> JSON:
        channel = self._channel(args)
        messages = [
            m.to_api()
            for m in reversed(self.ws.messages.get(channel.id, []))
            if not m.deleted and m.ephemeral_to is None and not m.is_reply
        ]
        limit = int(args.get("limit") or 100)
        return {"messages": messages[:limit], "has_more": len(messages) > limit}

    async def files_get_upload_url(self, args: JSON) -> JSON:
        return self.files.get_upload_url(args)

    async def files_complete(self, args: JSON) -> JSON:
        return self.files.complete(args)
