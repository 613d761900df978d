"""The control API (JSON over HTTP under ``/control/``) for tests and the web page.

Acting as users (post a message, run a slash command, click a button), reading channels
(with threads, edit counts and the ephemerals a given user sees), reading the Web API call
log and the delivery log (envelopes, retries, ack latency), re-delivering an event,
forcing Socket Mode disconnects, configuring rate limits and storms, and resetting.
Readers accept ``since`` (a change cursor) and ``wait`` (seconds) to long-poll: the answer
comes as soon as anything changed after ``since``, or after ``wait`` seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from slack_emulator.core import EmulatorCore
from slack_emulator.errors import SlackError
from slack_emulator.limits import RateRule

JSON = dict[str, Any]
Route = Callable[[web.Request], Awaitable[web.Response]]
MAX_WAIT = 30.0


def _json_route(func: Callable[[web.Request], Awaitable[JSON]]) -> Route:
    async def route(request: web.Request) -> web.Response:
        try:
            result = await func(request)
        except SlackError as exc:
            return web.json_response(exc.to_json(), status=exc.status if exc.status != 200 else 400)
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"ok": False, "error": "invalid_arguments", "detail": str(exc)}, status=400)
        return web.json_response({"ok": True, **result})

    return route


async def _body(request: web.Request) -> JSON:
    if not request.body_exists:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


class ControlApi:
    def __init__(self, core: EmulatorCore) -> None:
        self.core = core

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/control/state", _json_route(self.state))
        r.add_get("/control/wait", _json_route(self.wait))
        r.add_get("/control/messages", _json_route(self.read_messages))
        r.add_post("/control/messages", _json_route(self.post_message))
        r.add_post("/control/commands", _json_route(self.slash_command))
        r.add_post("/control/click", _json_route(self.click))
        r.add_get("/control/calls", _json_route(self.calls))
        r.add_get("/control/deliveries", _json_route(self.deliveries))
        r.add_post("/control/redeliver", _json_route(self.redeliver))
        r.add_get("/control/connections", _json_route(self.connections))
        r.add_post("/control/disconnect", _json_route(self.disconnect))
        r.add_get("/control/ratelimit", _json_route(self.rate_limits))
        r.add_post("/control/ratelimit", _json_route(self.storm))
        r.add_put("/control/ratelimit/rules", _json_route(self.set_rule))
        r.add_delete("/control/ratelimit/rules", _json_route(self.delete_rules))
        r.add_post("/control/reset", _json_route(self.reset))

    async def _wait(self, request: web.Request) -> int:
        since = int(request.query.get("since", "-1"))
        wait = min(float(request.query.get("wait", "0")), MAX_WAIT)
        if since >= 0 and wait > 0:
            return await self.core.feed.wait(since, wait)
        return self.core.feed.seq

    async def state(self, request: web.Request) -> JSON:
        return {
            **self.core.workspace.directory(),
            "mode": self.core.mode,
            "cursor": self.core.feed.seq,
            "connections": len(self.core.hub.open_connections()),
            "urls": {"base": self.core.urls.base, "api": self.core.urls.api},
        }

    async def wait(self, request: web.Request) -> JSON:
        return {"cursor": await self._wait(request)}

    async def read_messages(self, request: web.Request) -> JSON:
        cursor = await self._wait(request)
        channel = self.core.actions.channel(request.query["channel"])
        as_user = _opt(request.query.get("as_user"))
        if as_user is not None:
            as_user = self.core.actions.user(as_user).id
        return {"channel": channel.id, "cursor": cursor, "messages": self.core.workspace.read(channel.id, as_user)}

    async def post_message(self, request: web.Request) -> JSON:
        body = await _body(request)
        message = self.core.actions.post_message(
            str(body["user"]), str(body["channel"]), str(body["text"]), _opt(body.get("thread_ts"))
        )
        return {"ts": message.ts, "channel": message.channel}

    async def slash_command(self, request: web.Request) -> JSON:
        body = await _body(request)
        text = body.get("text")
        delivery = self.core.actions.slash_command(
            str(body["user"]), str(body["channel"]), str(body["command"]), None if text is None else str(text)
        )
        return {
            "delivery_id": delivery.id,
            "response_url": delivery.payload["response_url"],
            "trigger_id": delivery.payload["trigger_id"],
        }

    async def click(self, request: web.Request) -> JSON:
        body = await _body(request)
        delivery = self.core.actions.click(
            str(body["user"]),
            str(body["channel"]),
            str(body["ts"]),
            str(body["action_id"]),
            block_id=_opt(body.get("block_id")),
            value=_opt(body.get("value")),
        )
        return {"delivery_id": delivery.id, "response_url": delivery.payload["response_url"]}

    async def calls(self, request: web.Request) -> JSON:
        cursor = await self._wait(request)
        method = _opt(request.query.get("method"))
        since = max(0, int(request.query.get("since", "0")))
        return {"cursor": cursor, "calls": [c.to_json() for c in self.core.calls.list(method, since)]}

    async def deliveries(self, request: web.Request) -> JSON:
        cursor = await self._wait(request)
        kind = _opt(request.query.get("kind"))
        items = [d.to_json() for d in self.core.dispatcher.deliveries.values() if kind is None or d.kind == kind]
        return {"cursor": cursor, "deliveries": items}

    async def redeliver(self, request: web.Request) -> JSON:
        body = await _body(request)
        try:
            attempt = await self.core.dispatcher.redeliver(str(body["id"]), str(body.get("reason", "timeout")))
        except KeyError as exc:
            raise SlackError("delivery_not_found", status=404) from exc
        return attempt.to_json()

    async def connections(self, request: web.Request) -> JSON:
        return {"connections": [c.to_json() for c in self.core.hub.history]}

    async def disconnect(self, request: web.Request) -> JSON:
        body = await _body(request)
        mode = str(body.get("mode", "disconnect"))
        if mode not in ("disconnect", "close", "abort"):
            raise ValueError(f"unknown mode {mode!r}")
        count = await self.core.hub.disconnect(
            mode,  # type: ignore[arg-type]
            str(body.get("reason", "warning")),
            _opt(body.get("connection")),
        )
        return {"count": count}

    async def rate_limits(self, request: web.Request) -> JSON:
        limiter = self.core.limiter
        return {"rules": [r.to_json() for r in limiter.rules], "storms": [vars(s) for s in limiter.storms]}

    async def storm(self, request: web.Request) -> JSON:
        body = await _body(request)
        storm = self.core.limiter.storm(str(body["method"]), int(body["count"]), int(body.get("retry_after", 1)))
        return {"storm": vars(storm)}

    async def set_rule(self, request: web.Request) -> JSON:
        rule = RateRule.from_json(await _body(request))
        self.core.limiter.set_rule(rule)
        return {"rules": [r.to_json() for r in self.core.limiter.rules]}

    async def delete_rules(self, request: web.Request) -> JSON:
        self.core.limiter.remove_rules(_opt(request.query.get("method")))
        return {"rules": [r.to_json() for r in self.core.limiter.rules]}

    async def reset(self, request: web.Request) -> JSON:
        self.core.reset()
        return {"cursor": self.core.feed.seq}
