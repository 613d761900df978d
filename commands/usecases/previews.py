"""Previews per branch: what a push, a deleted branch, a person in chat and the clock do to them.

:class:`PreviewService` is what a webhook adapter calls (``preview_pushed``, ``preview_deleted``: a push of a branch
matching ``previews.branches``, or of a branch that already has a preview, makes or updates its preview; deleting the
branch removes it) and what the chat commands use (``preview BRANCH``, ``teardown BRANCH``, ``previews``). The bot's
timer calls :meth:`PreviewService.expire`: a preview whose last push is older than ``previews.ttl`` is removed.

Results reach people as :class:`~commands.replies.PreviewNotice` through ``notify``: in the channel a person asked
in, or for pushes, deletions and expiry in ``previews.channel`` (without one they are only logged). A push is trusted
(the adapter checks the webhook's signature); chat needs the ``preview`` or ``teardown`` right
(:func:`commands.policy.decide_preview`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

import structlog

from commands.clock import Clock
from commands.command import ListPreviews, Preview, Teardown
from commands.ports import PreviewPort
from commands.replies import PreviewNotice, PreviewRemoved, PreviewsListed, PreviewStarted, Refusal, Reply
from commands.usecases.permissions import Permissions, refusal
from deploy.config.durations import format_duration
from deploy.errors import ShipbotError
from deploy.previews import layout as pv
from deploy.previews.preview_runner import PreviewBroken

log = structlog.get_logger("shipbot.previews")

PreviewNotify = Callable[[PreviewNotice], Awaitable[None]]
RETRY_AFTER = 60.0  # a preview whose removal failed (a host down) is tried again this much later


class PreviewService:
    def __init__(
        self,
        previews: Mapping[str, PreviewPort],
        permissions: Permissions,
        notify: PreviewNotify,
        clock: Clock = time.time,
    ) -> None:
        self._previews = {app: p for app, p in previews.items() if p.enabled}
        self._permissions = permissions
        self._notify = notify
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry: dict[tuple[str, str], float] = {}

    # -- the webhook side ---------------------------------------------------------------------------------------

    async def preview_pushed(self, app: str, branch: str, sha: str, pusher: str) -> None:
        """A push of ``branch`` at ``sha``: make or update its preview (when the branch gets one); returns when
        the preview is live or the push was refused or failed (then said in ``previews.channel``)."""
        port = self._previews.get(app)
        if port is None or not (port.matches(branch) or await port.find(branch) is not None):
            log.info("preview_push_ignored", app=app, branch=branch, pusher=pusher)
            return
        await self._up(port, branch, sha, pusher, self._channel(port))

    async def preview_deleted(self, app: str, branch: str, pusher: str) -> None:
        """``branch`` was deleted: remove its preview, if it has one."""
        port = self._previews.get(app)
        if port is None or await port.find(branch) is None:
            log.info("preview_delete_ignored", app=app, branch=branch, pusher=pusher)
            return
        await self._down(port, branch, pusher, "branch deleted")

    # -- chat ---------------------------------------------------------------------------------------------------

    async def preview(self, command: Preview, user: str, channel: str) -> Reply:
        """``preview [APP] BRANCH``: check, resolve the branch's head, and make the preview in the background."""
        port = self._port(command.app, "preview")
        if isinstance(port, Refusal):
            return port
        decision = await self._permissions.preview(port.config.app, user, "preview")
        if not decision.allowed:
            return refusal(decision)
        try:
            name = await port.check(command.branch)
            sha = await port.resolve(command.branch)
        except ShipbotError as exc:
            return Refusal(str(exc), "`previews` lists the previews that run.")
        existing = await port.find(command.branch)
        assert port.config.previews is not None
        url = pv.url(name, port.config.previews.domain)
        task = asyncio.create_task(self._up(port, command.branch, sha, user, channel), name=f"preview {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return PreviewStarted(port.config.app, command.branch, sha, name, url, user, update=existing is not None)

    async def teardown(self, command: Teardown, user: str, channel: str) -> Reply:
        """``teardown [APP] BRANCH``: remove the branch's preview now."""
        port = self._port(command.app, "teardown")
        if isinstance(port, Refusal):
            return port
        decision = await self._permissions.preview(port.config.app, user, "teardown")
        if not decision.allowed:
            return refusal(decision)
        try:
            gone = await port.down(command.branch, user)
        except ShipbotError as exc:
            log.warning("preview_teardown_failed", app=port.config.app, branch=command.branch, error=str(exc))
            return Refusal(f"the preview of `{command.branch}` could not be removed: {exc}", "Try again later.")
        if gone is None:
            return Refusal(f"`{command.branch}` has no preview", "`previews` lists the previews that run.")
        log.info("preview_removed", app=gone.app, preview=gone.name, branch=gone.branch, by=user, why="teardown")
        return PreviewRemoved(gone, user, "teardown")

    async def listing(self, command: ListPreviews) -> Reply:
        """``previews [APP]``: every preview, oldest first, with age and address."""
        ports = [p for a, p in self._previews.items() if command.app in (None, a)]
        found = tuple([info for p in ports for info in await p.all_previews()])
        return PreviewsListed(found, self._clock(), configured=bool(ports))

    # -- the clock ----------------------------------------------------------------------------------------------

    async def expire(self) -> None:
        """Remove every preview whose time to live (since its last push) ran out; the bot's timer calls it."""
        now = self._clock()
        for port in self._previews.values():
            assert port.config.previews is not None
            for info in await port.due(now):
                key = (info.app, info.name)
                if self._retry.get(key, 0.0) > now:
                    continue
                ttl = format_duration(port.config.previews.ttl)
                if await self._down(port, info.branch, "shipbot", f"no push for {ttl}"):
                    self._retry.pop(key, None)
                else:
                    self._retry[key] = now + RETRY_AFTER

    async def close(self) -> None:
        """Stop the previews being made in the background (shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def settled(self) -> None:
        """Wait for the previews being made in the background (tests, and a graceful stop)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- plumbing -----------------------------------------------------------------------------------------------

    def _port(self, app: str | None, verb: str) -> PreviewPort | Refusal:
        if app is not None:
            port = self._previews.get(app)
            if port is None:
                return Refusal(f"{app} has no previews", "An admin can add a previews section to its config.")
            return port
        if not self._previews:
            return Refusal("no app has previews", "An admin can add a previews section to an app's config.")
        if len(self._previews) > 1:
            names = ", ".join(f"`{a}`" for a in self._previews)
            return Refusal(f"which app? {names} have previews", f"Name it: `{verb} APP BRANCH`.")
        return next(iter(self._previews.values()))

    @staticmethod
    def _channel(port: PreviewPort) -> str:
        return port.config.previews.channel or "" if port.config.previews else ""

    async def _say(self, notice: PreviewNotice) -> None:
        if not notice.channel:
            return
        try:
            await self._notify(notice)
        except Exception:  # a notice that cannot be posted never stops previews
            log.exception("preview_notice_failed", app=notice.app, branch=notice.branch, kind=notice.kind)

    async def _up(self, port: PreviewPort, branch: str, sha: str, by: str, channel: str) -> None:
        app = port.config.app
        try:
            outcome = await port.up(branch, sha, by)
        except pv.PreviewRefused as exc:
            log.warning("preview_refused", app=app, branch=branch, sha=sha, by=by, reason=str(exc))
            await self._say(PreviewNotice(channel, app, branch, "refused", by, message=str(exc)))
            return
        except PreviewBroken as exc:
            log.error("preview_broken", app=app, branch=branch, sha=sha, by=by, error=str(exc))
            await self._say(PreviewNotice(channel, app, branch, "broken", by, await port.find(branch), str(exc)))
            return
        except ShipbotError as exc:
            log.warning("preview_failed", app=app, branch=branch, sha=sha, by=by, error=str(exc))
            await self._say(PreviewNotice(channel, app, branch, "failed", by, await port.find(branch), str(exc)))
            return
        except Exception as exc:
            log.exception("preview_crashed", app=app, branch=branch, sha=sha, by=by)
            await self._say(PreviewNotice(channel, app, branch, "failed", by, message=f"internal error: {exc!r}"))
            return
        if outcome.unchanged:
            log.info("preview_unchanged", app=app, branch=branch, sha=sha)
            return
        kind = "live" if outcome.created else "updated"
        await self._say(PreviewNotice(channel, app, branch, kind, by, outcome.info))

    async def _down(self, port: PreviewPort, branch: str, by: str, why: str) -> bool:
        app = port.config.app
        try:
            gone = await port.down(branch, by)
        except ShipbotError as exc:
            log.warning("preview_removal_failed", app=app, branch=branch, by=by, why=why, error=str(exc))
            return False
        if gone is not None:
            log.info("preview_removed", app=app, preview=gone.name, branch=branch, by=by, why=why)
            await self._say(PreviewNotice(self._channel(port), app, branch, "removed", by, gone, why))
        return True
