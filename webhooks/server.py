"""The webhook endpoints: ``POST /webhooks/{github,gitlab,gitea}``, each request verified before anything else.

Each forge has its own secret (``secrets``: provider -> secret); a forge without one is refused on its path, so
GitLab's token (sent in clear, shown in GitLab's settings) never signs a GitHub or Gitea request. A request
without its forge's signature or token header is refused before a byte of its body is read (GitLab's token is
checked whole then); the body is read as it streams in, never past :data:`MAX_BODY`.

HTTP answers (JSON bodies ``{"ok": ..., "note"|"error": ...}``):

=====  ====================================================================================================
401    no secret is set for this forge; the forge's signature (GitHub ``X-Hub-Signature-256``, Gitea
       ``X-Gitea-Signature``) or token (GitLab ``X-Gitlab-Token``) is missing (the body is not read) or wrong
413    the body is over :data:`MAX_BODY` (25 MiB), by its Content-Length or once read past it
400    the body is not a push payload (not JSON, no ``ref``/``after``), or not a deployment payload
200    a GitHub ``ping``; a redelivery (same delivery id) of a push already taken, ignored; a GitHub deployment
       received before (``ignored``)
202    an event other than a push, or a push nothing follows (``ignored`` says why); a push taken (``app``,
       ``deploying``): it is acted on in the background; a GitHub ``deployment`` decided: ``run_id`` and
       ``deployment_status`` (``in_progress`` or ``queued``), or ``refused`` with the reason (also sent to GitHub
       as the deployment's ``error`` status)
404    no configured app has this repository (``repo`` or ``source``; for a deployment, ``deployments.github.repo``)
422    a field fails its rules: ``ref`` (git's ref format, a branch or a tag), ``before``/``after``/a commit's
       ``id`` (40 or 64 hex digits); the error names the field
=====  ====================================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import structlog
from aiohttp import web

from commands.push_rules import Push
from commands.reply_texts import STORE_NOT_ANSWERING
from commands.usecases.push_intake import Accepted, BadPush, Duplicate, Ignored, Received, UnknownRepository
from deploy.errors import StoreUnavailable
from webhooks.deployment_events import DeploymentReceiver, answer_deployment
from webhooks.payloads import NotAPush, PayloadError, Ping, parse
from webhooks.signatures import HEADER, signed

log = structlog.get_logger("shipbot.webhooks")
MAX_BODY = 25 * 1024 * 1024
PROVIDERS = ("github", "gitlab", "gitea")
SECRET_VARIABLE = {p: f"SHIPBOT_WEBHOOK_SECRET_{p.upper()}" for p in PROVIDERS}


class PushReceiver(Protocol):
    async def receive(self, push: Push) -> Received: ...


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


def _unsigned(provider: str, secrets: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """Why a request is refused before its body is read (no secret for the forge, no signature or token header,
    a wrong GitLab token), or None."""
    secret, header = secrets.get(provider), HEADER[provider]
    if not secret:
        return f"webhooks from {provider} are not accepted here: set {SECRET_VARIABLE[provider]} to take them"
    if not headers.get(header):
        return f"the request has no {header} header: set the webhook's secret in {provider}"
    if provider == "gitlab" and not signed(provider, secret, b"", dict(headers)):
        return f"wrong {header}: check the webhook's secret token ({SECRET_VARIABLE[provider]})"
    return None


def build_app(
    receiver: PushReceiver,
    secrets: Mapping[str, str],
    max_body: int = MAX_BODY,
    deployments: DeploymentReceiver | None = None,
) -> web.Application:
    """``secrets``: each forge's own secret (a forge missing from it is refused on its path); ``deployments``: who
    takes GitHub's ``deployment`` events (none: they are ignored like any other event)."""

    async def handle(request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        with structlog.contextvars.bound_contextvars(provider=provider, remote=request.remote):
            headers = {k.lower(): v for k, v in request.headers.items()}
            refused = _unsigned(provider, secrets, headers)
            if refused:
                log.warning("webhook_unsigned", why=refused.partition(":")[0])
                return _answer(401, error=refused)
            body = await _read_capped(request, max_body)
            if body is None:
                log.warning("webhook_too_large", content_length=request.content_length)
                return _answer(413, error=f"the body is larger than {max_body} bytes")
            if not signed(provider, secrets[provider], body, headers):
                log.warning("webhook_unsigned", why="wrong signature")
                return _answer(401, error=f"wrong signature: check the webhook's secret ({SECRET_VARIABLE[provider]})")
            if provider == "github" and deployments is not None and headers.get("x-github-event") == "deployment":
                return await answer_deployment(deployments, headers, body)
            try:
                event = parse(provider, headers, body)
            except PayloadError as err:
                log.warning("webhook_refused", status=err.status, field=err.field)
                return _answer(err.status, error=str(err))
            if isinstance(event, Ping):
                return _answer(200, note="pong")
            if isinstance(event, NotAPush):
                return _answer(202, ignored=f"event {event.event!r} is not a push")
            try:
                result = await receiver.receive(event)
            except StoreUnavailable as err:  # nothing was taken: the provider's redelivery is taken once it answers
                log.warning("webhook_store_not_answering", error=str(err))
                return _answer(503, error=STORE_NOT_ANSWERING)
            return _received(result, event)

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


async def start_webhook_server(
    receiver: PushReceiver,
    secrets: Mapping[str, str],
    host: str,
    port: int,
    deployments: DeploymentReceiver | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve the endpoints on ``host``:``port`` (0: any free port); returns the runner and the port bound."""
    runner = web.AppRunner(build_app(receiver, secrets, deployments=deployments), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    return runner, bound
