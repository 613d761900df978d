"""GitHub's ``deployment`` event on ``POST /webhooks/github``: parsed (:mod:`webhooks.deployment_payload`), handed
to the use case (:class:`commands.usecases.forge_service.DeploymentStarts`) and answered. The request was
verified with GitHub's secret before it gets here, as a push is (:mod:`webhooks.server`)."""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from aiohttp import web

from commands.forge_deployments import DeploymentEvent
from commands.reply_texts import STORE_NOT_ANSWERING
from commands.usecases.forge_service import Duplicate, Ignored, Received, Refused, Taken, UnknownRepository
from deploy.errors import StoreUnavailable
from webhooks.deployment_payload import NotADeployment, parse_deployment
from webhooks.payloads import PayloadError

log = structlog.get_logger("shipbot.webhooks")


class DeploymentReceiver(Protocol):
    async def receive(self, event: DeploymentEvent) -> Received: ...


def _answer(status: int, **body: Any) -> web.Response:
    return web.json_response({"ok": status < 400, **body}, status=status)


async def answer_deployment(receiver: DeploymentReceiver, headers: dict[str, str], body: bytes) -> web.Response:
    try:
        event = parse_deployment(headers, body)
    except PayloadError as err:
        log.warning("webhook_refused", status=err.status, field=err.field, event="deployment")
        return _answer(err.status, error=str(err))
    if isinstance(event, NotADeployment):
        return _answer(202, ignored=f"deployment action {event.action!r} is not a new deployment")
    try:
        result = await receiver.receive(event)
    except StoreUnavailable as err:
        log.warning("webhook_store_not_answering", error=str(err))
        return _answer(503, error=STORE_NOT_ANSWERING)
    match result:
        case Taken(app=app, environment=environment, run_id=run_id, state=state):
            return _answer(202, app=app, environment=environment, run_id=run_id, deployment_status=state)
        case Refused(app=app, reason=reason):
            return _answer(202, app=app, refused=reason)
        case Ignored(note=note):
            return _answer(202, ignored=note)
        case Duplicate(deployment_id=deployment_id):
            return _answer(200, ignored=f"deployment {deployment_id} was received before")
        case UnknownRepository(repository=repository):
            return _answer(404, error=f"no configured app has deployments.github.repo: {repository[:200]}")
    raise AssertionError(f"unhandled result {result!r}")  # pragma: no cover
