"""What the forge sinks share: where the deployments they created are remembered (the store, through its door)."""

from __future__ import annotations

from typing import Protocol


class Deployments(Protocol):
    """The forge deployments shipbot created, per run (:class:`deploy.notify.outbox.Outbox`, awaited through the
    door)."""

    async def known(self, forge: str, repo: str, run_id: str) -> str | None: ...

    async def remember(self, forge: str, repo: str, deployment_id: str, run_id: str) -> None: ...

    async def taken(self, forge: str, repo: str, deployment_id: str) -> bool:
        """True when the deployment is remembered for a run (or a preview's commit) already."""
        ...


# the forge's state for each event: GitHub deployment status, GitLab deployment status
STATES = {
    "run.started": ("in_progress", "running"),
    "run.succeeded": ("success", "success"),
    "run.failed": ("failure", "failed"),
    "run.cancelled": ("error", "canceled"),
    "run.interrupted": ("error", "failed"),
}
DEPLOYING_KINDS = ("deploy", "rollback", "converge")  # runs that put a commit on an environment (not tasks)


def description(document: dict[str, object]) -> str:
    """A status description GitHub accepts (at most 140 characters), plain text."""
    text = str(document.get("message") or document["type"])
    return " ".join(text.split())[:140]
