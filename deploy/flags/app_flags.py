"""The feature flags of one app: a change recorded in the store, then its environment's flagd file written to
every host (:mod:`deploy.flags.flag_hosts`); and the file written again after a deploy, rollback or converge, so a new
host or one that was unreachable during a change catches up.

Every store call from here goes through the store's door (:mod:`deploy.store.door`): these coroutines run on the
event loop of the bot and of the CLI alike. A host that cannot be written is reported (``behind``), never retried
in a loop: the change stays recorded, and the next change, deploy, rollback or converge writes the file again.
:class:`FlagWritingEngine` is the engine whose runs end by writing the file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from deploy.config.models import Config
from deploy.events import EventSink, Gate, RunFinished, RunStarted
from deploy.flags import flag_defs
from deploy.flags.flag_defs import FlagDef
from deploy.flags.flag_hosts import HostFile, HostWrite, read_all, write_all
from deploy.flags.flag_store import Compute, FlagChange, FlagRow, FlagSet, FlagStore
from deploy.fleet.members import Fleets
from deploy.hosts.connector import Connector
from deploy.records import RunRecord
from deploy.run.engine import Engine
from deploy.run.runner import Runner
from deploy.store.leases import Lease
from deploy.store.tables import Store

log = structlog.get_logger("shipbot.flags")


@dataclass(frozen=True)
class Written:
    """An environment's flag file and what each host answered."""

    version: int
    sha256: str
    hosts: tuple[HostWrite, ...]

    @property
    def behind(self) -> tuple[HostWrite, ...]:
        return tuple(h for h in self.hosts if not h.ok)

    @property
    def drifted(self) -> tuple[HostWrite, ...]:
        return tuple(h for h in self.hosts if h.drift)


@dataclass(frozen=True)
class Changed:
    change: FlagChange
    written: Written


@dataclass(frozen=True)
class Listing:
    """An environment's flags, and on which hosts the file is the current one."""

    app: str
    environment: str
    version: int
    rows: tuple[FlagRow, ...]
    sha256: str
    files: tuple[HostFile, ...]

    @property
    def current(self) -> int:
        return sum(1 for f in self.files if f.sha256 == self.sha256)


class AppFlags:
    """Feature flags of one app (its config, hosts, connector and store)."""

    def __init__(self, config: Config, store: Store, fleets: Fleets, connectors: Callable[[], Connector]) -> None:
        self.config = config
        self._store = store
        self.table = FlagStore(store.db, store.outbox)  # each change told to the sinks
        self._fleets = fleets
        self._connectors = connectors

    @property
    def app(self) -> str:
        return self.config.app

    async def change(
        self,
        environment: str,
        flag: str,
        compute: Compute,
        *,
        actor: str,
        source: str,
        action: str,
        reason: str = "",
        forced: bool = False,
        slack: tuple[str, ...] = (),
    ) -> Changed:
        """Record the change (``compute`` may raise to refuse it) and its event, then write the file on every host;
        ``slack``: the channels a running bot is to tell of it (the command line has no Slack connection)."""
        change, flags = await self._store.door(
            self.table.change, self.app, environment, flag, compute,
            actor=actor, source=source, action=action, reason=reason, forced=forced, slack=slack,
        )  # fmt: skip
        log.info("flag_changed", app=self.app, environment=environment, flag=flag, action=action, actor=actor,
                 source=source, before=change.before.describe() if change.before else None,
                 after=change.after.describe(), version=change.version, forced=forced)  # fmt: skip
        return Changed(change, await self.write(environment, flags))

    async def write(self, environment: str, flags: FlagSet | None = None, *, keep_drift: bool = False) -> Written:
        """Write the environment's current file (``flags``: the set just recorded) on every host it has now;
        ``keep_drift``: leave a hand-edited file alone (a catch-up, not a change)."""
        if flags is None:
            flags = await self._store.door(self.table.flag_set, self.app, environment)
        content = flag_defs.render(self.app, environment, flags.version, flags.flags)
        sha = flag_defs.digest(content)
        known = await self._store.door(self.table.acknowledged, self.app, environment)
        config = await self._fleets.resolve(environment)
        hosts = await write_all(config, environment, self._connectors(), content, sha, known, keep_drift=keep_drift)
        written = {h.key: h.sha256 for h in hosts if h.ok}
        await self._store.door(self.table.acknowledge, self.app, environment, flags.version, written)
        for h in hosts:
            if h.drift:
                log.warning("flag_file_drift", app=self.app, environment=environment, host=h.host)
            elif not h.ok:
                log.warning("flag_file_behind", app=self.app, environment=environment, host=h.host, error=h.error)
        return Written(flags.version, sha, tuple(hosts))

    async def catch_up(self, environment: str) -> Written | None:
        """After a deploy, rollback or converge: the file again, when the environment has flags; never raises."""
        try:
            flags = await self._store.door(self.table.flag_set, self.app, environment)
            if not flags.flags:
                return None
            return await self.write(environment, flags, keep_drift=True)
        except Exception:  # a run's end must not fail because its flag file could not be written
            log.exception("flag_file_catch_up_failed", app=self.app, environment=environment)
            return None

    async def listing(self, environment: str) -> Listing:
        flags = await self._store.door(self.table.flag_set, self.app, environment)
        rows = await self._store.door(self.table.rows, self.app, environment)
        sha = flag_defs.digest(flag_defs.render(self.app, environment, flags.version, flags.flags))
        config = await self._fleets.resolve(environment)
        files = await read_all(config, environment, self._connectors())
        return Listing(self.app, environment, flags.version, tuple(rows), sha, tuple(files))

    async def rows(self, flag: str) -> list[FlagRow]:
        return await self._store.door(self.table.rows, self.app, None, flag)

    async def names(self) -> list[str]:
        return await self._store.door(self.table.names, self.app)

    async def history(self, flag: str, environment: str | None, limit: int = 20) -> list[FlagChange]:
        return await self._store.door(self.table.history, self.app, flag, environment, limit)

    async def highest(self, environment: str, flag: str) -> FlagDef | None:
        return await self._store.door(self.table.highest, self.app, environment, flag)

    async def audit(self, actor: str, action: str, environment: str, detail: str) -> None:
        await self._store.door(self._store.record_audit, actor, action, environment, detail)

    async def before_last(self, environment: str, flag: str) -> FlagDef | None:
        return await self._store.door(self.table.before_last, self.app, environment, flag)


class FlagWritingEngine(Engine):
    """The deploy engine whose deploys, rollbacks and converges write the environment's current flag file as their
    last step, with the run's slot still held (the composition root builds this one; see :meth:`AppFlags.catch_up`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flags = AppFlags(self.config, self.store, self.fleets, self.connector_for_run)

    async def drive(
        self,
        record: RunRecord,
        connector: Connector,
        sink: EventSink,
        started: RunStarted,
        body: Callable[[Runner, bytes | None], Awaitable[RunFinished]],
        need_archive: bool = False,
        gate: Gate | None = None,
        *,
        lease: Lease,
    ) -> RunFinished:
        async def then_flags(runner: Runner, archive: bytes | None) -> RunFinished:
            finished = await body(runner, archive)
            if record.kind != "task":
                await self.flags.catch_up(record.environment)
            return finished

        return await super().drive(record, connector, sink, started, then_flags, need_archive, gate, lease=lease)
