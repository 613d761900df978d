"""GitHub's ``deployment`` event (``X-GitHub-Event: deployment``) into a
:class:`commands.forge_deployments.DeploymentEvent`. Pure; the shape is GitHub's documented example
(tests/fixtures/github/deployment.payload.json)::

    {"action": "created",
     "deployment": {"id": 145988746, "sha": "f95f…", "ref": "master", "task": "deploy", "environment": "production",
                    "payload": {}, "creator": {"login": "Codertocat", ...}, ...},
     "repository": {"full_name": "Codertocat/Hello-World", ...}, "sender": {...}}

The body is validated by pydantic models before any of it is used: ``deployment.id`` a positive integer,
``deployment.sha`` a full commit id (40 or 64 hex digits), ``deployment.environment`` and
``repository.full_name`` strings; ``ref``, ``task`` and the creator's login are kept as capped text, data only
(the environment and the task are compared with the config's names, never used as they came). ``payload`` may be
an object or a string (GitHub accepts both); a deployment shipbot created carries ``{"shipbot_run_id": ...}``
in it. An ``action`` other than ``created`` is not a new deployment (:class:`NotADeployment`). Malformed input
raises :class:`webhooks.payloads.PayloadError`: 400 when it is not a deployment payload at all, 422 naming the
field that fails its rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from commands.forge_deployments import DEPLOY_TASK, DeploymentEvent
from webhooks.payloads import PayloadError

EVENT = "deployment"
MAX_TEXT = 200  # an environment's, a task's, a ref's or a login's length kept
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class NotADeployment:
    action: str


def _commit_id(value: str) -> str:
    if not _COMMIT_ID.fullmatch(value):
        raise ValueError("is not a full commit id (40 or 64 hex digits)")
    return value.lower()


def _text(value: Any) -> Any:
    """Any JSON value as capped text: a string cut to :data:`MAX_TEXT` characters, anything else empty."""
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _object(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


def _marker(value: Any) -> str:
    """``payload.shipbot_run_id`` (or ``payload.shipbot.run_id``) of a deployment's ``payload`` (an object, or a
    string holding one)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return ""
    if not isinstance(value, dict):
        return ""
    mine = value.get("shipbot")
    run = value.get("shipbot_run_id") or (mine.get("run_id") if isinstance(mine, dict) else None)
    return run[:MAX_TEXT] if isinstance(run, str) else ""


Text = Annotated[str, BeforeValidator(_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class _Login(_Model):
    login: Text = ""


class _Deployment(_Model):
    id: int = Field(gt=0)
    sha: Annotated[str, AfterValidator(_commit_id)]
    ref: Text = ""
    task: Text = DEPLOY_TASK
    environment: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    payload: Annotated[str, BeforeValidator(_marker)] = ""
    creator: Annotated[_Login, BeforeValidator(_object)] = _Login()


class _Repository(_Model):
    full_name: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class _Event(_Model):
    action: Text = "created"
    deployment: _Deployment
    repository: _Repository


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _body(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    if headers.get("content-type", "").split(";")[0].strip() == "application/x-www-form-urlencoded":
        body = "".join(parse_qs(body.decode("utf-8", "replace")).get("payload", [""])[:1]).encode()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError(f"the body is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    if not isinstance(data.get("deployment"), dict):
        raise PayloadError("the payload has no 'deployment' object")
    return data


def parse_deployment(headers: dict[str, str], body: bytes) -> DeploymentEvent | NotADeployment:
    """``headers`` with lowercased names; the event header says ``deployment``."""
    data = _body(headers, body)
    try:
        event = _Event.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = _where(first["loc"])
        if first["type"] in ("missing", "string_type", "int_type", "model_type"):
            raise PayloadError(f"the payload has no {field!r} of the right type", 400, field) from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise PayloadError(f"the payload's {field!r} {message}: {repr(first.get('input'))[:80]}", 422, field) from None
    if event.action != "created":
        return NotADeployment(event.action)
    d = event.deployment
    return DeploymentEvent(
        provider="github",
        delivery=headers.get("x-github-delivery", "").strip()[:200],
        deployment_id=str(d.id),
        repository=event.repository.full_name,
        sha=d.sha,
        ref=d.ref,
        task=d.task or DEPLOY_TASK,
        environment=d.environment,
        creator=d.creator.login,
        shipbot_run=d.payload,
    )
