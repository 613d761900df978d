"""What to do with a push: the use case behind the webhook endpoints and the branch poller.

:meth:`PushService.receive` decides at once, for the HTTP answer: the apps the pushed repository belongs to
(:func:`commands.push_rules.apps_for`; none: :class:`UnknownRepository`), whether git would accept the pushed ref
(:class:`BadPush`), whether this delivery was taken before (:class:`Duplicate`: its provider's delivery id is
written to the store's inbox, :mod:`deploy.store.inbox`, the one de-duplication Slack commands go through too, and
marked answered once the push is carried out), and what it means for each app (:func:`commands.push_rules.plan_push`;
nothing: :class:`Ignored`). The work itself (fetching the pushed commit, the announcements, the auto-deploys of
:mod:`commands.usecases.autodeploys`, release notes, previews) runs in the background under the run supervisor, so
the answer (:class:`Accepted`) never waits for git or a deploy. Each push is stamped with when it arrived, and of
several pushes the one that arrived last wins (:mod:`commands.usecases.autodeploys`), however long each one takes
to carry out.

Release notes: a pushed tag matching ``release_tags`` posts the commits since the previous matching tag (by version
order, from the mirror) to every notify channel of the app.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from fnmatch import fnmatchcase

import structlog

from commands.clock import Clock
from commands.ports import AutoDeployRefused, EnginePort, PreviewEvents, Pushed, PushReporter, ReleaseNotes, TagSource
from commands.push_rules import Push, PushPlan, apps_for, ignored_note, plan_push, push_problem
from commands.supervisor import RunSupervisor
from commands.usecases.autodeploys import AutoDeploys, notify_channels
from deploy.errors import ShipbotError
from deploy.records import Commit
from deploy.store.ports import InboxPort, PushLedger

log = structlog.get_logger("shipbot.push")
NOTES_LIMIT = 50  # commits listed in release notes


@dataclass(frozen=True)
class Accepted:
    plans: tuple[PushPlan, ...]


@dataclass(frozen=True)
class Ignored:
    note: str


@dataclass(frozen=True)
class Duplicate:
    delivery: str


@dataclass(frozen=True)
class UnknownRepository:
    urls: tuple[str, ...]


@dataclass(frozen=True)
class BadPush:
    problem: str


Received = Accepted | Ignored | Duplicate | UnknownRepository | BadPush


class PushService:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        autodeploys: AutoDeploys,
        ledger: PushLedger,
        inbox: InboxPort,
        reporter: PushReporter,
        supervisor: RunSupervisor,
        tags: Mapping[str, TagSource],
        previews: PreviewEvents,
        clock: Clock,
    ) -> None:
        self._engines = dict(engines)
        self._autodeploys = autodeploys
        self._ledger = ledger
        self._inbox = inbox
        self._open: dict[str, int] = {}  # inbox key -> apps whose part of the push is not carried out yet
        self._reporter = reporter
        self._supervisor = supervisor
        self._tags = dict(tags)
        self._previews = previews
        self._clock = clock

    async def receive(self, push: Push) -> Received:
        """Decide now what the push is; act on it in the background."""
        push = replace(push, received_at=push.received_at or self._clock())
        apps = apps_for(push, [e.config for e in self._engines.values()])
        if not apps:
            return UnknownRepository(push.repository_urls or push.repository_names)
        problem = push_problem(push)
        if problem:
            return BadPush(problem)
        plans = tuple(plan_push(self._engines[app].config, push) for app in apps)
        if all(p.ignored for p in plans):
            return Ignored("; ".join(ignored_note(push, self._engines[p.app].config) for p in plans))
        key = f"push:{push.provider}:{push.delivery}" if push.delivery else ""
        if key and not await self._inbox.receive(key, "push", json.dumps(asdict(push), default=str)):
            return Duplicate(push.delivery)
        if key:
            self._open[key] = sum(1 for p in plans if not p.ignored)
        for plan in plans:
            for env in plan.deploy:  # written down before the answer: a stop before it is decided loses nothing
                await self._autodeploys.received(
                    plan.app, env, push.after, push.branch or push.tag or push.ref, push.requester, push.received_at
                )
            if not plan.ignored:
                task_id = f"push-{push.delivery or uuid.uuid4().hex}-{plan.app}"
                self._supervisor.start(task_id, f"push:{plan.app}", self._carry_out(push, plan, key))
        return Accepted(plans)

    async def _carry_out(self, push: Push, plan: PushPlan, key: str) -> None:
        structlog.contextvars.clear_contextvars()  # this task's own copy: nothing of the HTTP request that made it
        with structlog.contextvars.bound_contextvars(app=plan.app, ref=push.ref, sha=push.after, user=push.requester):
            try:
                await self._act(push, plan)
            except Exception:
                log.exception("push_failed")  # with the push's context; the supervisor keeps the error too
                raise
            if key:  # answered once every app's part is decided; one not carried out stays written down
                self._open[key] -= 1
                if not self._open[key]:
                    del self._open[key]
                    await self._inbox.answered(key)

    async def _act(self, push: Push, plan: PushPlan) -> None:
        log.info("push_received", provider=push.provider, deploy=plan.deploy, release=plan.release)
        if plan.preview == "deleted" and push.branch is not None:
            await self._previews.preview_deleted(plan.app, push.branch, push.pusher)
        if push.deleted:
            return
        engine = self._engines[plan.app]
        name = push.branch or push.tag or push.ref
        try:
            sha = await engine.resolve_ref(push.after)  # fetches the mirror; the pushed commit must be there
        except ShipbotError as err:
            for env in plan.deploy:
                await self._autodeploys.decided(plan.app, env, push.after)
                refused = AutoDeployRefused(
                    notify_channels(engine, env), plan.app, env, name, push.after, push.requester,
                    f"the pushed commit is not in the repository: {err}",
                )  # fmt: skip
                await self._reporter.announce(refused)
            return
        if plan.preview == "pushed" and push.branch is not None:
            await self._previews.preview_pushed(plan.app, push.branch, sha, push.pusher)
        if plan.release and push.tag is not None:
            await self._release_notes(engine, plan.app, push.tag, sha, push.requester)
        if plan.deploy:
            commits = push.commits or tuple(await self._commits(engine, push.before, sha, 10))
            channels = _union(notify_channels(engine, env) for env in plan.deploy)
            await self._reporter.announce(Pushed(channels, plan.app, name, sha, push.requester, commits, plan.deploy))
        for env in plan.deploy:
            await self._autodeploys.offer(plan.app, env, sha, name, push.requester, push.received_at, push.commits)

    async def _release_notes(self, engine: EnginePort, app: str, tag: str, sha: str, pusher: str) -> None:
        pattern = engine.config.release_tags or "*"
        tags = [t for t in await self._tags[app].tags() if fnmatchcase(t, pattern)]
        older = tags[tags.index(tag) + 1 :] if tag in tags else tags
        previous = older[0] if older else None
        base = await engine.resolve_ref(previous) if previous else None
        commits = await self._commits(engine, base, sha, NOTES_LIMIT)
        channels = _union(notify_channels(engine, env) for env in engine.config.environments)
        await self._reporter.announce(ReleaseNotes(channels, app, tag, sha, previous, tuple(commits), pusher))

    @staticmethod
    async def _commits(engine: EnginePort, old: str | None, new: str, limit: int) -> list[Commit]:
        old = None if old is None or set(old) == {"0"} else old
        try:
            return await engine.commits_between(old, new, limit)
        except ShipbotError:
            return []


def _union(groups: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for channel in group:
            seen.setdefault(channel, None)
    return tuple(seen)
