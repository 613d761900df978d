"""A forge's deployment as the use cases see it, and the pure decisions about it (the heaven contract).

GitHub emits a ``deployment`` event when someone (a chat bot like hubot-deploy, GitHub Actions' environments, the
API) creates a deployment; shipbot deploys it. :class:`DeploymentEvent` is what the webhook adapter
(:mod:`webhooks.deployment_payload`) parses the event into. The decisions, table-tested:

- :func:`app_for`: the app whose ``deployments.github.repo`` is the event's repository (compared without case,
  as GitHub does);
- :func:`person_for`: the person a GitHub login acts as (``access.github_users``); a login not listed there acts
  as nobody and the deployment is refused;
- :func:`created_by_shipbot`: a deployment shipbot created itself carries ``payload.shipbot_run_id``; its event
  coming back is ignored, so nothing deploys twice;
- :func:`description`: a status description as GitHub takes it (one line, at most 140 characters).

:class:`StatusOutbox` is the port statuses leave through (the durable outbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from commands.access_config import AppPolicy
from deploy.config.models import Config
from deploy.notify.forge_runs import DeploymentTarget

DEPLOY_TASK = "deploy"
MAX_DESCRIPTION = 140  # GitHub refuses a longer deployment status description


@dataclass(frozen=True)
class DeploymentEvent:
    """One deployment created on the forge: deploy ``sha`` (created from ``ref``) to ``environment``."""

    provider: str  # github
    delivery: str  # X-GitHub-Delivery
    deployment_id: str
    repository: str  # owner/name
    sha: str
    ref: str
    task: str  # "deploy", or the name of a task
    environment: str
    creator: str  # the login that created the deployment
    shipbot_run: str = ""  # payload.shipbot_run_id: a deployment shipbot created itself

    def target(self, app: str) -> DeploymentTarget:
        return DeploymentTarget(self.provider, self.repository, self.deployment_id, app, self.environment)

    @property
    def requester(self) -> str:
        """How the creator is named in the run's text: ``octocat (GitHub)``."""
        return f"{self.creator or 'someone'} (GitHub)"


@dataclass(frozen=True)
class DeploymentStatus:
    """One status of a deployment (GitHub: ``queued``, ``in_progress``, ``success``, ``failure``, ``error``)."""

    state: str
    description: str = ""
    log_url: str = ""
    environment_url: str = ""


class StatusOutbox(Protocol):
    """Where a deployment's statuses are written (:meth:`deploy.notify.outbox.Outbox.tell_deployment`, awaited
    through the store's door): each a row of the durable outbox, written in one transaction with the run's reported
    state moving forward, delivered in order by the outbox's sender, retried with backoff, after a restart too."""

    def tell_deployment(
        self, target: DeploymentTarget, state: str, description: str, run_id: str | None = None
    ) -> bool: ...


def app_for(event: DeploymentEvent, configs: list[Config]) -> Config | None:
    """The app whose ``deployments.github.repo`` is the event's repository."""
    wanted = event.repository.lower()
    for config in configs:
        github = config.deployments.github if config.deployments is not None else None
        if github is not None and event.provider == "github" and github.repo.lower() == wanted:
            return config
    return None


def person_for(policy: AppPolicy, login: str) -> str | None:
    """The Slack user ID ``login`` acts as in this app (``access.github_users``), or ``None``."""
    if policy.access is None or not login:
        return None
    return policy.access.slack_user_for_github(login)


def created_by_shipbot(event: DeploymentEvent) -> bool:
    return bool(event.shipbot_run)


def description(text: str) -> str:
    """``text`` as a status description: its first line, control characters dropped, at most 140 characters."""
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    clean = "".join(ch for ch in line if ch.isprintable()).strip()
    return clean if len(clean) <= MAX_DESCRIPTION else clean[: MAX_DESCRIPTION - 1] + "…"
