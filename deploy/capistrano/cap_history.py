"""Capistrano's history as the store keeps it: the ``capistrano_history`` table (migration ``0006``), one row per
revisions.log line shipbot has read on any host (:mod:`deploy.capistrano.cap_entries`), so ``history`` shows
Capistrano's deploys and rollbacks beside shipbot's runs without reaching a host.

A row is keyed by app, environment, release and action, written with ``INSERT ... ON CONFLICT DO NOTHING``: the
same line read again, from the same host or from another one, by this process or a replica at the same moment,
is kept once, as first read. :class:`CapistranoRecords` is the engine's side: what a run or ``status`` read is
recorded, and a store that cannot take it never fails what was reading (it is history, not safety).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

import structlog

from deploy.capistrano.cap_entries import CapEntry, from_listing
from deploy.config.models import Config
from deploy.hosts.listing import ReleaseListing
from deploy.store.statements import DatabaseError, Executor
from deploy.store.tables import Store

log = structlog.get_logger("shipbot.cap_history")

_COLUMNS = 'app, environment, release, action, "user", sha, branch, at, host, line'

ListingSeen = Callable[[str, ReleaseListing], Awaitable[None]]  # (host, its listing) read by a run


class CapistranoHistory:
    def __init__(self, db: Executor) -> None:
        self._db = db

    def record(self, entries: Iterable[CapEntry]) -> int:
        """Keep the entries not kept yet; how many were new."""
        rows = [
            (e.app, e.environment, e.release, e.action, e.user, e.sha, e.branch, e.at, e.host, e.line) for e in entries
        ]
        if not rows:
            return 0
        new = 0
        for row in rows:  # one statement each: rowcount says which were new
            new += self._db.execute(
                f"INSERT INTO capistrano_history ({_COLUMNS}) VALUES ({', '.join('?' * 10)}) ON CONFLICT DO NOTHING",
                row,
                durable=False,
            ).rowcount
        return new

    def keys(self, app: str, environment: str) -> set[tuple[str, str]]:
        """The (release, action) of every entry kept for the app's environment."""
        rows = self._db.execute(
            "SELECT release, action FROM capistrano_history WHERE app = ? AND environment = ?", (app, environment)
        ).fetchall()
        return {(str(r[0]), str(r[1])) for r in rows}

    def entries(self, app: str, environment: str | None = None, limit: int = 20) -> list[CapEntry]:
        """The newest ``limit`` entries of the app (in ``environment``), newest first."""
        where, args = "app = ?", [app]
        if environment is not None:
            where += " AND environment = ?"
            args.append(environment)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM capistrano_history WHERE {where} ORDER BY at DESC, line DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [CapEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]), r[8], int(r[9])) for r in rows]


class CapistranoRecords:
    """The engine's side (mixed into :class:`deploy.run.engine.Engine`, which has ``config`` and ``store``)."""

    config: Config
    store: Store

    async def capistrano_history(self, environment: str | None = None, limit: int = 20) -> list[CapEntry]:
        """Capistrano's deploys and rollbacks recorded for this app (in ``environment``), newest first."""
        entries = CapistranoHistory(self.store.db).entries
        return await self.store.door(entries, self.config.app, environment, limit)

    def listing_seen(self, environment: str) -> ListingSeen:
        """What records the revisions.log lines of a listing read on a host of ``environment``."""
        return recorder(self.store, self.config.app, environment)


def recorder(store: Store, app: str, environment: str) -> ListingSeen:
    """What records the revisions.log lines of a listing read on a host of ``app``'s ``environment``. The keys
    already kept are read once (on the first listing with lines), so a run over many hosts whose logs are long
    writes only the lines that are new, not every line of every host."""
    history = CapistranoHistory(store.db)
    known: set[tuple[str, str]] = set()
    loaded = False

    async def seen(host: str, found: ReleaseListing) -> None:
        if found.capistrano is not None and found.capistrano.lines:
            await store.door(keep, host, found)

    def keep(host: str, found: ReleaseListing) -> None:
        nonlocal loaded
        assert found.capistrano is not None
        entries = from_listing(app, environment, host, found.capistrano, found.entries, time.time())
        try:
            if not loaded:
                known.update(history.keys(app, environment))
                loaded = True
            fresh = [e for e in entries if (e.release, e.action) not in known]
            known.update((e.release, e.action) for e in fresh)
            new = history.record(fresh)
        except DatabaseError as exc:
            log.warning("capistrano_history_not_recorded", app=app, environment=environment, host=host,
                        error=str(exc))  # fmt: skip
            return
        if new:
            log.info("capistrano_history_recorded", app=app, environment=environment, host=host, entries=new)

    return seen
