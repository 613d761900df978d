"""Cancel, Continue and Abort for a run another shipbot drives (a bot replica sharing the store, or ``shipbot
deploy`` on the command line).

Slack hands a click or a typed ``cancel`` to whichever replica it picks. When the run is not driven here but a live
process holds its lease, this process checks the person may do it (the same rules as for a run of its own: cancel
is the owner's or needs the ``cancel`` right; Continue is a deploy decision, freeze included; Abort is
:func:`~commands.policy.decide_abort`), records it in the audit trail, writes a control request to the store
(:mod:`deploy.store.control_requests`) and answers at once (:class:`~commands.replies.AskedHolder`). The lease holder
acts on it within a couple of seconds and reports the outcome in the run's own message.

:meth:`HeldElsewhere.act` is the other side for the waiting runs this process took over from a dead or stopped
process (they are driven by nobody until a person answers): the requests for them are answered as a click here
would be (:class:`~commands.usecases.takeovers.Takeovers`).
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.clock import Clock
from commands.ports import EnginePort
from commands.replies import AskedHolder, Reply
from commands.reply_texts import may_not_cancel, may_not_resume
from commands.runs import RunRequest
from commands.usecases.audit import AuditTrail
from commands.usecases.permissions import Permissions
from commands.usecases.takeovers import Takeovers, request_for
from deploy.records import RunRecord
from deploy.store.ports import CONTINUE

RECENT = 50  # recent runs looked at for a person's own runs


class HeldElsewhere:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        permissions: Permissions,
        audit: AuditTrail,
        takeovers: Takeovers,
        clock: Clock,
    ) -> None:
        self._engines = dict(engines)
        self._permissions = permissions
        self._audit = audit
        self._takeovers = takeovers
        self._clock = clock

    async def find(self, run_id: str) -> tuple[EnginePort, RunRecord] | None:
        for engine in self._engines.values():
            run = await engine.held_elsewhere(run_id)
            if run is not None:
                return engine, run
        return None

    async def find_in(self, app: str | None, environment: str) -> RunRecord | None:
        """The run another process drives in ``environment`` (of ``app``, or of any app)."""
        for name, engine in self._engines.items():
            if app in (None, name) and environment in engine.config.environments:
                run = await engine.running_elsewhere(environment)
                if run is not None:
                    return run
        return None

    async def mine(self, user: str, channel: str) -> list[RunRequest]:
        """The runs ``user`` started that another live process drives (another replica took the command)."""
        found = []
        for engine in self._engines.values():
            for record in await engine.history(None, RECENT):
                waits = record.state in ("running", "waiting")
                if waits and record.user == user and await engine.held_elsewhere(record.run_id) is not None:
                    found.append(request_for(record, channel, self._clock()))
        return found

    async def cancel(self, run_id: str, user: str, channel: str) -> Reply | None:
        """Ask the holder to cancel ``run_id``; None when no other live process holds it."""
        found = await self.find(run_id)
        if found is None:
            return None
        engine, record = found
        run = request_for(record, channel, self._clock())
        if run.user != user:
            decision = await self._permissions.action(run.app, user, "cancel", run.environment, channel)
            if not decision.allowed:
                return may_not_cancel(decision.reason, run.user)
            await self._audit.overrides(user, "cancel", run.app, run.environment, decision.overrides)
        await engine.ask(run_id, "cancel", user)
        await self._audit.cancelled(user, run, "running in another shipbot")
        return AskedHolder(run, user, "cancel")

    async def resume(self, run_id: str, user: str, channel: str, go: bool) -> Reply | None:
        """Ask the holder to continue (``go``) or abort ``run_id`` waiting at a pause; None when no other live
        process holds it waiting."""
        found = await self.find(run_id)
        if found is None or found[1].state != "waiting":
            return None
        engine, record = found
        run = request_for(record, channel, self._clock())
        if go:
            decision = await self._permissions.action(run.app, user, "deploy", run.environment, channel)
        else:
            decision = await self._permissions.abort(run, user)
        if not decision.allowed:
            return may_not_resume(decision.reason, run.user)
        await self._audit.overrides(user, "resume", run.app, run.environment, decision.overrides)
        await self._audit.resumed(user, run, go)
        action = "continue" if go else "abort"
        await engine.ask(run_id, action, user)
        return AskedHolder(run, user, action)

    async def act(self) -> None:
        """Answer the requests other processes wrote for the waiting runs this process took over."""
        for engine in self._engines.values():
            for request, channel in await engine.held_requests():
                await self._takeovers.resume(request.run_id, request.who, channel, request.action == CONTINUE)
