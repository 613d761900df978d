"""Auto-deploys: a pushed commit deployed to an environment whose ``auto_deploy`` follows it, admitted through the
same gates as a typed deploy.

:meth:`AutoDeploys.offer` decides with :func:`commands.push_rules.admission_for`:

- a freeze holds it: the push is parked ``held`` in the store (the newest held push replaces an older one; a
  restart keeps it) and announced; :meth:`AutoDeploys.sweep` (the bot's timer) deploys it once the freeze ended,
  announcing that too;
- someone's lock refuses it (announced, nothing parked): locks bind pushes as they bind people;
- a run going on (or people waiting in line) parks it ``pending``, whatever the environment's ``queue:`` says; a
  newer push replaces it, so pushes arriving during a run become one deploy of the newest commit after the run
  (:meth:`AutoDeploys.after_run`, and the timer for runs that ended in another process);
- approval required: asked exactly as for a typed deploy (the request posted in the first notify channel);
- otherwise it is admitted (:meth:`commands.usecases.admission.Admission.admit`) and runs under the supervisor.

A push is written down (``received``) before the webhook is answered and crossed out once it is decided, so a bot
stopped in between (a restart, a crash) leaves it for the next one: :meth:`AutoDeploys.sweep` carries out pushes
received more than :data:`RECOVER_AFTER` seconds ago and never decided.

Exactly the pushed SHA is deployed, and only once per app, environment and SHA: the run is claimed by a unique
row in the store (:meth:`deploy.store.push_table.PushTable.claim`) before it starts, so a redelivery, the poller or a
second bot on the same database never deploys it again. "Newest" means the push that arrived last: a push that
arrived before the one last deployed there is superseded and dropped, and a parked push is only replaced by one
that arrived later, so pushes carried out in any order (two bots, a slow fetch) never put an older commit live.
The requester is the pusher marked as such (``alice (push)``); the run's message goes to the environment's first
``notify`` channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog

from commands.clock import Clock
from commands.command import Deploy
from commands.ports import ApprovalAsked, AutoDeployHeld, AutoDeployRefused, AutoDeployWaits, EnginePort, PushReporter
from commands.push_rules import AutoAdmission, admission_for
from commands.replies import Refusal
from commands.runs import RunRequest
from commands.usecases.admission import Admission
from commands.usecases.approval_service import ApprovalService
from commands.usecases.board import RunBoard
from commands.usecases.locks import LockService
from commands.usecases.permissions import Permissions
from commands.usecases.queue_service import QueueService
from deploy.errors import ShipbotError
from deploy.notify.sink_config import slack_channels
from deploy.records import Commit
from deploy.store.ports import HELD, PENDING, RECEIVED, ParkedPush, PushLedger

log = structlog.get_logger("shipbot.push")
RECOVER_AFTER = 60.0  # seconds: a push received this long ago and never decided was left by a stopped process


def notify_channels(engine: EnginePort, environment: str) -> tuple[str, ...]:
    return slack_channels(engine.config.environments[environment].notify)


class AutoDeploys:
    def __init__(
        self,
        engines: Mapping[str, EnginePort],
        permissions: Permissions,
        locks: LockService,
        board: RunBoard,
        queue: QueueService,
        admission: Admission,
        approvals: ApprovalService,
        ledger: PushLedger,
        reporter: PushReporter,
        clock: Clock,
        run_ids: Callable[[], str],
    ) -> None:
        self._engines = dict(engines)
        self._permissions = permissions
        self._locks = locks
        self._board = board
        self._queue = queue
        self._admission = admission
        self._approvals = approvals
        self._ledger = ledger
        self._reporter = reporter
        self._clock = clock
        self._run_ids = run_ids

    async def received(self, app: str, environment: str, sha: str, ref: str, pusher: str, pushed_at: float) -> None:
        """Write the push down before the webhook is answered (a later push already waiting there wins)."""
        await self._ledger.park(app, environment, RECEIVED, sha, ref, pusher, pushed_at)

    async def decided(self, app: str, environment: str, sha: str) -> None:
        """Cross the push out once it is decided without waiting (started, asked, refused, superseded)."""
        await self._ledger.take(ParkedPush(app, environment, RECEIVED, sha, "", "", 0.0))

    async def offer(
        self,
        app: str,
        environment: str,
        sha: str,
        ref: str,
        pusher: str,
        pushed_at: float,
        commits: tuple[Commit, ...] = (),
    ) -> AutoAdmission | None:
        """Deploy ``sha`` (pushed as ``ref`` by ``pusher``, arrived at ``pushed_at``) to ``app``'s ``environment``
        now, later, or not; returns what was decided (``None``: it was deployed there already, or superseded)."""
        newest = await self._ledger.newest_claim(app, environment)
        if (newest is not None and newest > pushed_at) or await self._ledger.claimed(app, environment, sha):
            log.info("auto_deploy_superseded_or_deployed", app=app, environment=environment, sha=sha)
            await self.decided(app, environment, sha)
            return None
        channels = notify_channels(self._engines[app], environment)
        decision = self._permissions.push(app, environment)
        locked = await self._locks.refusal(app, environment, pusher)
        busy = await self._board.busy(app, environment) is not None or bool(await self._queue.waiting(app, environment))
        verdict = admission_for(
            frozen=not decision.allowed, locked=locked is not None, busy=busy, approval=decision.approval_required
        )
        log.info("auto_deploy_offered", app=app, environment=environment, sha=sha, ref=ref, decision=verdict.value)
        if verdict is AutoAdmission.HOLD:
            before = await self._ledger.park(app, environment, HELD, sha, ref, pusher, pushed_at)
            fresh = before is None or before.sha != sha or before.state == RECEIVED
            if await self._parked_sha(app, environment) == sha and fresh:
                held = AutoDeployHeld(channels, app, environment, ref, sha, pusher, decision.reason)
                await self._reporter.announce(held)
            return verdict
        if verdict is AutoAdmission.REFUSE:
            assert locked is not None
            refused = AutoDeployRefused(channels, app, environment, ref, sha, pusher, locked.reason, locked.hint)
            await self.decided(app, environment, sha)
            await self._reporter.announce(refused)
            return verdict
        if verdict is AutoAdmission.COALESCE:
            await self._park_pending(app, environment, sha, ref, pusher, pushed_at, channels)
            return verdict
        run = RunRequest(
            self._run_ids(), "deploy", app, environment, pusher, channels[0] if channels else "", self._clock(),
            ref=ref, sha=sha,
        )  # fmt: skip
        if not await self._ledger.claim(app, environment, sha, run.run_id, pushed_at):
            log.info("auto_deploy_already_claimed", app=app, environment=environment, sha=sha)
            await self.decided(app, environment, sha)
            return None
        if verdict is AutoAdmission.ASK:
            asked = await self._approvals.ask(run, Deploy(app, environment, ref), decision, commits)
            await self.decided(app, environment, sha)
            ts = await self._reporter.announce(ApprovalAsked(channels, asked))
            if ts and channels:
                await self._approvals.posted(run.run_id, channels[0], ts)
            return verdict
        try:
            admitted = await self._admission.admit(run, False, commits)
        except BaseException:  # not started (the bot is stopping): the commit stays for the next process
            await self._ledger.unclaim(app, environment, sha, run.run_id)
            raise
        if isinstance(admitted, Refusal):  # a run started meanwhile: wait for it like any push during a run
            await self._ledger.unclaim(app, environment, sha, run.run_id)
            await self._park_pending(app, environment, sha, ref, pusher, pushed_at, channels)
            return AutoAdmission.COALESCE
        await self.decided(app, environment, sha)
        return verdict

    async def _parked_sha(self, app: str, environment: str) -> str | None:
        parked = await self._ledger.parked(app, environment)
        return parked.sha if parked is not None else None

    async def _park_pending(
        self, app: str, environment: str, sha: str, ref: str, pusher: str, pushed_at: float, channels: tuple[str, ...]
    ) -> None:
        before = await self._ledger.park(app, environment, PENDING, sha, ref, pusher, pushed_at)
        if await self._parked_sha(app, environment) != sha:  # a push that arrived later waits there already
            return
        if before is not None and before.sha == sha and before.state == PENDING:  # the same push, parked again
            return
        if before is not None and before.state == HELD:  # still frozen: stays held, with the newest commit
            await self._ledger.park(app, environment, HELD, sha, ref, pusher, pushed_at)
            return
        replaced = before.sha if before is not None and before.sha != sha else None
        await self._reporter.announce(AutoDeployWaits(channels, app, environment, ref, sha, pusher, replaced))

    async def after_run(self, app: str, environment: str) -> None:
        """A run ended there: the newest push that waited for it deploys now (if nothing else holds the place)."""
        parked = await self._ledger.parked(app, environment)
        if parked is not None and parked.state == PENDING:
            await self._release(parked)

    async def sweep(self) -> None:
        """On the bot's timer: held pushes whose freeze ended deploy (announced); pending ones whose environment a
        run in another process freed deploy too; pushes a stopped process received and never decided are carried
        out."""
        for parked in await self._ledger.all_parked():
            if (
                parked.app not in self._engines
                or parked.environment not in self._engines[parked.app].config.environments
            ):
                continue
            if parked.state == HELD:
                if not self._permissions.push(parked.app, parked.environment).allowed:
                    continue
                channels = notify_channels(self._engines[parked.app], parked.environment)
                if await self._ledger.take(parked):
                    released = AutoDeployHeld(
                        channels, parked.app, parked.environment, parked.ref, parked.sha, parked.pusher,
                        "the freeze ended", released=True,
                    )  # fmt: skip
                    await self._reporter.announce(released)
                    await self._offer_parked(parked)
            elif parked.state == RECEIVED:
                if parked.since < self._clock() - RECOVER_AFTER and await self._ledger.take(parked):
                    await self._recover(parked)
            elif not await self._queue.waiting(parked.app, parked.environment):
                await self._release(parked)

    async def _recover(self, parked: ParkedPush) -> None:
        """A push received by a process that stopped before deciding it: fetch its commit, then decide it."""
        log.warning("auto_deploy_recovered", app=parked.app, environment=parked.environment, sha=parked.sha)
        engine = self._engines[parked.app]
        try:
            await engine.resolve_ref(parked.sha)
        except ShipbotError as err:
            channels = notify_channels(engine, parked.environment)
            reason = f"the pushed commit is not in the repository: {err}"
            await self._reporter.announce(
                AutoDeployRefused(
                    channels, parked.app, parked.environment, parked.ref, parked.sha, parked.pusher, reason
                )
            )
            return
        await self._offer_parked(parked)

    async def _release(self, parked: ParkedPush) -> None:
        if await self._board.busy(parked.app, parked.environment) is not None:
            return
        if await self._ledger.take(parked):
            await self._offer_parked(parked)

    async def _offer_parked(self, parked: ParkedPush) -> None:
        await self.offer(parked.app, parked.environment, parked.sha, parked.ref, parked.pusher, parked.since)
