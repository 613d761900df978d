"""The webhook endpoints: ``POST /webhooks/{github,gitlab,gitea}``, each request verified before anything else.

HTTP answers (JSON bodies ``{"ok": ..., "note"|"error": ...}``):

=====  ====================================================================================================
413    the body is over :data:`MAX_BODY` (25 MiB), by its Content-Length or once read past it
401    missing or wrong signature (GitHub ``X-Hub-Signature-256``, Gitea ``X-Gitea-Signature``) or token
       (GitLab ``X-Gitlab-Token``); nothing else is looked at
400    the body is not a push payload (not JSON, no ``ref``/``after``)
200    a GitHub ``ping``; a redelivery (same delivery id) of a push already taken, ignored
202    an event other than a push, or a push nothing follows (``ignored`` says why); a push taken (``app``,
       ``deploying``): it is acted on in the background
404    no configured app has this repository (``repo`` or ``source``)
422    the pushed ref or commit id fails git's rules
=====  ====================================================================================================
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from aiohttp import web

from commands.pushes import Push
from commands.usecases.pushes import Accepted, BadPush, Duplicate, Ignored, Received, UnknownRepository
from webhooks.payloads import NotAPush, PayloadError, Ping, parse
from webhooks.signatures import signed

log = structlog.get_logger("shipbot.webhooks")
MAX_BODY = 25 * 1024 * 1024
PROVIDERS = ("github", "gitlab", "gitea")


class PushReceiver(Protocol):
    def receive(self, push: Push) -> Received: ...


def _answer(status: int, **body: Any) -> web.Response:
    return web.json_response({"ok": status < 400, **body}, status=status)


async def _read_capped(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` once it is longer than ``limit`` (whatever Content-Length said)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(receiver: PushReceiver, secret: str, max_body: int = MAX_BODY) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        with structlog.contextvars.bound_contextvars(provider=provider, remote=request.remote):
            body = await _read_capped(request, max_body)
            if body is None:
                log.warning("webhook_too_large", content_length=request.content_length)
                return _answer(413, error=f"the body is larger than {max_body} bytes")
            headers = {k.lower(): v for k, v in request.headers.items()}
            if not signed(provider, secret, body, headers):
                log.warning("webhook_unsigned")
                what = "X-Gitlab-Token" if provider == "gitlab" else "signature"
                return _answer(
                    401, error=f"missing or wrong {what}: check the webhook's secret (SHIPBOT_WEBHOOK_SECRET)"
                )
            try:
                event = parse(provider, headers, body)
            except PayloadError as err:
                return _answer(400, error=str(err))
            if isinstance(event, Ping):
                return _answer(200, note="pong")
            if isinstance(event, NotAPush):
                return _answer(202, ignored=f"event {event.event!r} is not a push")
            return _received(receiver.receive(event), event)

    app = web.Application(client_max_size=max_body)
    app.router.add_post(r"/webhooks/{provider:github|gitlab|gitea}", handle)
    return app


def _received(result: Received, push: Push) -> web.Response:
    log.info("webhook_push", ref=push.ref, sha=push.after, result=type(result).__name__)
    match result:
        case Accepted(plans=plans):
            taken = [
                {"app": p.app, "deploying": list(p.deploy), "release_notes": p.release, "preview": p.preview}
                for p in plans
                if not p.ignored
            ]
            return _answer(202, note="taken; it is acted on in the background", apps=taken)
        case Ignored(note=note):
            return _answer(202, ignored=note)
        case Duplicate(delivery=delivery):
            return _answer(200, ignored=f"delivery {delivery} was received before")
        case UnknownRepository(urls=urls):
            return _answer(404, error=f"no configured app has the repository {', '.join(urls) or '(none named)'}: "
                           "set the app's repo (or source: owner/name) to it")  # fmt: skip
        case BadPush(problem=problem):
            return _answer(422, error=problem)
    raise AssertionError(f"unhandled result {result!r}")  # pragma: no cover


async def start_webhook_server(receiver: PushReceiver, secret: str, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve the endpoints on ``host``:``port`` (0: any free port); returns the runner and the port bound."""
    runner = web.AppRunner(build_app(receiver, secret), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    return runner, bound
