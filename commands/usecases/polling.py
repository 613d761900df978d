"""Polling, for repositories that cannot send webhooks: ``auto_deploy: {branch: main, poll: 60s}``.

:meth:`BranchPoller.poll` fetches the app's mirror (:meth:`EnginePort.resolve_ref` fetches) and, when the branch
moved since it last looked, hands :class:`~commands.push_rules.Push` of the new head to the push use case, exactly
as a webhook would (recorded as the head commit's author, ``Ada Dev (poll)``). The first look compares with what
the following environment last deployed, so a branch that moved while the bot was down deploys once it is back;
the store's one-deploy-per-commit row keeps a second bot polling the same branch from deploying it again.
The bot owns one task per watched branch (``cli/root.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from commands.ports import EnginePort
from commands.push_rules import Push
from commands.usecases.push_intake import PushService, Received


@dataclass(frozen=True)
class Watch:
    app: str
    branch: str
    interval: float


class BranchPoller:
    def __init__(self, engines: Mapping[str, EnginePort], pushes: PushService) -> None:
        self._engines = dict(engines)
        self._pushes = pushes
        self._seen: dict[tuple[str, str], str] = {}

    def watches(self) -> list[Watch]:
        """One watch per app and polled branch, at the shortest interval asked for it."""
        found: dict[tuple[str, str], float] = {}
        for app, engine in self._engines.items():
            for env in engine.config.environments.values():
                auto = env.auto_deploy
                if auto is not None and auto.branch is not None and auto.poll is not None:
                    key = (app, auto.branch)
                    found[key] = min(found.get(key, auto.poll), auto.poll)
        return [Watch(app, branch, interval) for (app, branch), interval in sorted(found.items())]

    async def _baseline(self, engine: EnginePort, branch: str, head: str) -> str:
        for name, env in engine.config.environments.items():
            if env.auto_deploy is not None and env.auto_deploy.branch == branch:
                deployed = await engine.deployed_sha(name)
                if deployed:
                    return deployed
        return head

    async def poll(self, watch: Watch) -> Received | None:
        """Look once; what the push use case made of a moved branch, or ``None`` when it did not move."""
        engine = self._engines[watch.app]
        head = await engine.resolve_ref(watch.branch)
        key = (watch.app, watch.branch)
        last = self._seen.get(key) or await self._baseline(engine, watch.branch, head)
        self._seen[key] = head
        if head == last:
            return None
        commits = tuple(await engine.commits_between(last, head, 20))
        push = Push(
            provider="poll",
            delivery=f"{watch.app}:{watch.branch}:{head}",
            ref=f"refs/heads/{watch.branch}",
            before=last,
            after=head,
            pusher=commits[0].author if commits else "",
            repository_urls=(engine.config.repo,),
            commits=commits,
        )
        return await self._pushes.receive(push)
