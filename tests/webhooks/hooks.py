"""Signed webhook requests built from the providers' documented payloads (tests/webhooks/payloads), rewritten to
point at a test repository and commit, sent over real HTTP to the bot's webhook server."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "hook-s3cret"  # GitHub's
SECRETS = {"github": SECRET, "gitlab": "hook-gitlab-t0ken", "gitea": "hook-gitea-s3cret"}
HOOKS: dict[str, object] = {
    "SHIPBOT_WEBHOOK_PORT": 0,
    **{f"SHIPBOT_WEBHOOK_SECRET_{forge.upper()}": secret for forge, secret in SECRETS.items()},
}
"""The bot's settings for serving the webhooks, each forge with its own secret."""
_FILES = {"github": "github_push.json", "gitlab": "gitlab_push.json", "gitea": "gitea_push.json"}


def payload(provider: str, repo: str, ref: str, sha: str, name: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(json.loads((PAYLOADS / (name or _FILES[provider])).read_text()))
    data["ref"], data["after"] = ref, sha
    if provider == "gitlab":
        data["project"]["git_http_url"] = repo
        data["checkout_sha"] = sha
    else:
        data["repository"]["clone_url"] = repo
    return data


def headers(provider: str, body: bytes, delivery: str | None = None, secret: str | None = None) -> dict[str, str]:
    """The provider's headers for ``body``, signed with ``secret`` (default: that forge's own secret)."""
    delivery = delivery or str(uuid.uuid4())
    secret = SECRETS[provider] if secret is None else secret
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if provider == "github":
        return {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": f"sha256={digest}"}
    if provider == "gitlab":
        event = "Tag Push Hook" if b'"refs/tags/' in body else "Push Hook"
        return {"X-Gitlab-Event": event, "X-Gitlab-Event-UUID": delivery, "X-Gitlab-Token": secret}
    return {"X-Gitea-Event": "push", "X-Gitea-Delivery": delivery, "X-Gitea-Signature": digest}


async def send(port: int, provider: str, body: bytes, head: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/webhooks/{provider}",
            data=body,
            headers={"Content-Type": "application/json", **(head if head is not None else headers(provider, body))},
        ) as response,
    ):
        return response.status, await response.json()


async def push(
    port: int, provider: str, repo: str, ref: str, sha: str, delivery: str | None = None
) -> tuple[int, dict[str, Any]]:
    body = json.dumps(payload(provider, repo, ref, sha)).encode()
    return await send(port, provider, body, headers(provider, body, delivery))
