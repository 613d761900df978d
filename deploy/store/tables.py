"""The store: runs, per-host step results, environment locks, audit; and, through :mod:`deploy.store.waiting` in the
same database, the requests that wait (approvals, the queue), and through :mod:`deploy.previews.preview_table` the
previews per branch.

The database (:mod:`deploy.store.database`) is one SQLite file under the data dir (``<data_dir>/shipbot.sqlite3``, WAL
mode, so the CLI and the bot can share it) or, with ``SHIPBOT_DATABASE_URL``, PostgreSQL shared by several replicas.
The API stays synchronous: every call is one short statement or transaction (sub-millisecond on loopback).

Two kinds of lock per environment, both taken atomically by an ``INSERT`` on a primary key (never check-then-write):

- the *run slot* (``active_runs``): one run per environment at a time, held from before the first connection
  until the run has fully ended (reverts and journal included), released however the run ends;
- a person's *lock* (``locks``): owner, reason, since, optional expiry; only the owner, or an admin with force
  (recorded in the audit table), removes it. Keyed by (app, environment) like the run slot, so locking shop's
  ``staging`` leaves billing's alone. A lock taken before locks were per app (a file from an older shipbot, whose
  ``locks`` table has no ``app`` column) is kept with app ``*``: it locks that environment of every app until it
  is unlocked (:data:`ANY_APP`).

A run slot is held by a run whose lease (:mod:`deploy.store.leases`) is alive: the slot and the lease are taken in one
transaction, and a run whose lease expired is dead whatever its pid or machine. :meth:`Store.dead_runs` lists
them for repair (:mod:`deploy.run.repair`), which takes the lease over and frees the slot once the hosts are back;
reads never show a dead run as running. The run ledger (:mod:`deploy.store.intents`) and the control requests
(:mod:`deploy.store.control_requests`) live in the same database.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.errors import EnvironmentBusy, EnvironmentLocked, LeaseLost
from deploy.fleet.fleet_log import FleetLog
from deploy.ids import utc_minute
from deploy.notify.freeze_marks import FreezeMarks
from deploy.notify.outbox import Outbox
from deploy.previews.preview_table import PreviewTable
from deploy.records import LockRecord, RunRecord
from deploy.store import leases
from deploy.store.control_requests import Controls
from deploy.store.fencing import RunWrites
from deploy.store.inbox import Inbox
from deploy.store.intents import Ledger
from deploy.store.leases import Holding, Lease, LeaseGuard
from deploy.store.presence import Presence
from deploy.store.push_table import PushTable
from deploy.store.statements import STATEMENT_TIMEOUT, Executor
from deploy.store.waiting import WaitingRequests

if TYPE_CHECKING:
    from deploy.store.database import Database

ANY_APP = "*"  # the app of a lock taken before locks were per app: it holds that environment of every app

_DEAD = "its controller stopped (lease expired) before it ended; repaired on shipbot's next start or by shipbot recover"

_RUN_COLUMNS = (
    'run_id, kind, app, environment, "user", ref, sha, release, state, started_at, finished_at, message, hosts, forced'
)


class Store:
    """``db``: the database (or, for SQLite, the file's path); ``lease_ttl``: how long a run's lease lives without a
    heartbeat (SHIPBOT_LEASE_TTL); ``owner``: this process's lease owner id."""

    def __init__(self, db: Database | Path, lease_ttl: float = 30.0, owner: str | None = None) -> None:
        if isinstance(db, Path):
            db.parent.mkdir(parents=True, exist_ok=True)
            from deploy.store.database import Database  # noqa: PLC0415 (SQLAlchemy: only when a store opens)

            db = Database(f"sqlite:///{db}")
        self.db = db
        self.path = db.path  # the SQLite file (None on PostgreSQL)
        self._db = db
        self.outbox = Outbox(db)  # what webhooks, Teams, IRC and the forges are to be told (deploy.notify.outbox)
        self.waiting = WaitingRequests(db, self.outbox)  # approvals and the queue (deploy.store.waiting)
        self.freezes = FreezeMarks(db, self.outbox)  # freeze windows' beginnings and ends, told once each
        self.previews = PreviewTable(db, self.outbox)  # previews per branch (deploy.previews.preview_table)
        self._node = socket.gethostname()
        self.lease_ttl = lease_ttl
        self.owner = owner or leases.new_owner()
        self.ledger = Ledger(db)
        self.fleets = FleetLog(db)  # the hosts each run covered (deploy.fleet.fleet_log)
        self.pushes = PushTable(db)  # webhook deliveries, auto-deploys, parked pushes (deploy.store.push_table)
        self.controls = Controls(db)  # Cancel/Continue/Abort for runs another process holds
        self.presence = Presence(db)  # the bots serving from this store now
        self.inbox = Inbox(
            db, self.owner, lease_ttl
        )  # what Slack and the forges sent, until answered (deploy.store.inbox)
        self.door = db.door  # how code on the event loop awaits the store (deploy.store.door)

    @classmethod
    def in_data_dir(
        cls,
        data_dir: Path,
        lease_ttl: float = 30.0,
        database_url: str | None = None,
        statement_timeout: float = STATEMENT_TIMEOUT,
    ) -> Store:
        """The store on ``database_url`` (SHIPBOT_DATABASE_URL) when given, else ``<data_dir>/shipbot.sqlite3``;
        each statement given ``statement_timeout`` seconds (SHIPBOT_DB_STATEMENT_TIMEOUT)."""
        from deploy.store.database import Database  # noqa: PLC0415 (SQLAlchemy: only when a store opens)

        return cls(Database.for_data_dir(data_dir, database_url, statement_timeout), lease_ttl)

    def close(self) -> None:
        self._db.close()

    # -- runs ---------------------------------------------------------------------------------------------

    def start_run(self, run: RunRecord, what: str) -> Lease:
        """Record the run and take the environment's run slot atomically (an insert on the slot's key, so of two
        stores racing, on one machine or several, exactly one wins) with its lease, which every later write of the
        run carries (:meth:`writes`); raises EnvironmentBusy."""
        slot = f"{run.app}/{run.environment}"
        with self._db.transaction() as db:
            taken = db.execute(
                'INSERT INTO active_runs (slot, run_id, "user", what, since, pid, node) VALUES (?, ?, ?, ?, ?, ?, ?) '
                "ON CONFLICT (slot) DO NOTHING",
                (slot, run.run_id, run.user, what, run.started_at, os.getpid(), self._node),
            )
            if taken.rowcount != 1:
                row = db.execute('SELECT run_id, "user", what FROM active_runs WHERE slot = ?', (slot,)).fetchone()
                holder = row or ("?", "?", "?")
                raise _busy(
                    run.environment, str(holder[0]), str(holder[1]), str(holder[2]), leases.holding(db, holder[0])
                )
            generation = leases.acquire(db, run.run_id, self.owner, self.lease_ttl)
            db.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}, pid, node) VALUES ({', '.join('?' * 16)})",
                (
                    run.run_id, run.kind, run.app, run.environment, run.user, run.ref, run.sha, run.release,
                    "running", run.started_at, None, "", run.hosts, int(run.forced), os.getpid(), self._node,
                ),
            )  # fmt: skip
            self.outbox.add_for_run(db, run.run_id, "run.started")
        return Lease(run.run_id, self.owner, generation)

    def writes(self, lease: Lease, guard: LeaseGuard | None = None) -> RunWrites:
        """The writes of the run ``lease`` holds, each refused once another process took the run over
        (:mod:`deploy.store.fencing`); ``guard`` is told when one is."""
        return RunWrites(self._db, lease, guard, self.door, self.outbox)

    def finish_run(self, run_id: str, state: str, message: str, lease: Lease | None = None) -> None:
        """Record how the run ended and free its environment's run slot, only while this process holds the run's
        lease (``lease``, or any holding of this store's owner); raises LeaseLost when another one does. A run
        already ended stays as it ended."""
        lease = lease or self._own_lease(run_id)
        if lease is None:
            if self._ended(run_id):
                return
            raise LeaseLost(run_id)
        self.writes(lease).finish(state, message)

    def _ended(self, run_id: str) -> bool:
        row = self._db.execute("SELECT state FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None and row[0] not in ("running", "waiting")

    def host_steps(self, run_id: str) -> list[dict[str, object]]:
        order = "rowid" if self._db.dialect == "sqlite" else "id"  # the order they were recorded in
        cur = self._db.execute(
            "SELECT host, step, ok, exit_status, duration, output_tail, error FROM host_steps "
            f"WHERE run_id = ? ORDER BY at, {order}",
            (run_id,),
        )
        return [dict(zip(cur.keys, row, strict=True)) for row in cur.fetchall()]

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._shown([_run(row)])[0] if row else None

    def list_runs(self, app: str | None = None, environment: str | None = None, limit: int = 20) -> list[RunRecord]:
        return list_runs(self._db, app, environment, limit)

    def _shown(self, runs: list[RunRecord]) -> list[RunRecord]:
        return shown(self._db, runs)

    def last_success(
        self, app: str, environment: str, kinds: tuple[str, ...] = ("deploy", "rollback")
    ) -> RunRecord | None:
        marks = ", ".join("?" * len(kinds))
        row = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE app = ? AND environment = ? AND state = 'success' "
            f"AND kind IN ({marks}) ORDER BY started_at DESC LIMIT 1",
            (app, environment, *kinds),
        ).fetchone()
        return _run(row) if row else None

    def newest_release(self, app: str, environment: str) -> str:
        """The newest release folder a run of ``app`` on ``environment`` named ('' before the first): the next
        deploy's release comes after it (:class:`deploy.ids.ReleaseIds`), whichever process or replica starts it."""
        row = self._db.execute(
            "SELECT MAX(release) FROM runs WHERE app = ? AND environment = ? AND kind = 'deploy'", (app, environment)
        ).fetchone()
        return str(row[0]) if row and row[0] else ""

    def succeeded_on(self, app: str, sha: str) -> list[str]:
        """The environments of ``app`` where ``sha`` had a successful deploy or rollback (the promotion order)."""
        rows = self._db.execute(
            "SELECT DISTINCT environment FROM runs WHERE app = ? AND sha = ? AND state = 'success' "
            "AND kind IN ('deploy', 'rollback') ORDER BY environment",
            (app, sha),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def active_run(self, app: str, environment: str) -> RunRecord | None:
        row = self._db.execute("SELECT run_id FROM active_runs WHERE slot = ?", (f"{app}/{environment}",)).fetchone()
        return self.get_run(row[0]) if row else None

    # -- leases ---------------------------------------------------------------------------------------------

    def dead_runs(self, app: str | None = None, environment: str | None = None) -> list[RunRecord]:
        """Runs recorded as running or waiting whose lease expired: their controller is gone; repair them."""
        rows = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE state IN ('running', 'waiting')").fetchall()
        runs = [_run(r) for r in rows]
        runs = [r for r in runs if app in (None, r.app) and environment in (None, r.environment)]
        gone = leases.dead(self._db, [r.run_id for r in runs])
        return [r for r in runs if r.run_id in gone]

    def take_over(self, run_id: str) -> Lease | None:
        """Become the owner of a dead run's lease, at a new generation (atomic: of two takers, one wins); None
        when a live owner holds it or another taker won."""
        with self._db.transaction() as db:
            generation = leases.seize(db, run_id, self.owner, self.lease_ttl)
        return Lease(run_id, self.owner, generation) if generation is not None else None

    def give_up_lease(self, run: str | Lease) -> None:
        """Leave the run to be taken over at once (a repair that could not finish, a run handed over), if this
        process holds it (``run``: the holding, or the run id for any holding of this store's owner)."""
        lease = run if isinstance(run, Lease) else self._own_lease(run)
        if lease is not None:
            leases.expire(self._db, lease)

    def renew_lease(self, run: str | Lease) -> bool:
        """Extend this process's lease on the run (at the holding's generation when given a :class:`Lease`)."""
        if isinstance(run, Lease):
            return leases.renew(self._db, run.run_id, run.owner, self.lease_ttl, run.generation)
        return leases.renew(self._db, run, self.owner, self.lease_ttl)

    def lease_holder(self, run_id: str) -> str | None:
        return leases.holder(self._db, run_id)

    def lease_holding(self, run_id: str) -> Holding | None:
        """The run's live lease: its owner, its last heartbeat, when it runs out (None: there is no live one)."""
        return leases.holding(self._db, run_id)

    def _own_lease(self, run_id: str) -> Lease | None:
        row = self._db.execute(
            "SELECT generation FROM leases WHERE run_id = ? AND owner = ?", (run_id, self.owner)
        ).fetchone()
        return Lease(run_id, self.owner, int(row[0])) if row else None

    # -- people's locks -----------------------------------------------------------------------------------

    def lock(self, app: str, environment: str, owner: str, reason: str, expires_at: float | None = None) -> LockRecord:
        """Lock ``app``'s ``environment`` for ``owner``; relocking your own lock updates the reason.

        The write is conditional on the key (insert, or update only while ``owner`` holds it), so of two people
        locking at once, on one store or two, one gets it and the other is told who holds it."""
        with self._db.transaction() as db:
            self._expire(db)
            held = self._held(db, app, environment)
            if held and held[1].owner != owner:
                _refuse(held[1])
            since = held[1].since if held else _clock(db)
            written = db.execute(
                "INSERT INTO locks (app, environment, owner, reason, since, expires_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (app, environment) DO UPDATE SET reason = excluded.reason, "
                "expires_at = excluded.expires_at WHERE locks.owner = excluded.owner",
                (app, environment, owner, reason, since, expires_at),
            )
            if written.rowcount != 1:
                now_held = self._held(db, app, environment)
                if now_held:
                    _refuse(now_held[1])
            if not held:  # told once, when taken (a new reason on one's own lock is not a new lock)
                self.outbox.add_event(db, "lock.taken", app, environment, user=owner, reason=reason)
        return LockRecord(environment, owner, reason, since, expires_at)

    def unlock(self, app: str, environment: str, by: str, force: bool = False) -> LockRecord | None:
        """Remove the lock. Someone other than the owner needs ``force`` (the caller checks they may); recorded."""
        with self._db.transaction() as db:
            self._expire(db)
            held = self._held(db, app, environment)
            if not held:
                return None
            key, lock = held
            if lock.owner != by and not force:
                _refuse(lock)
            db.execute("DELETE FROM locks WHERE app = ? AND environment = ?", (key, environment))
            self.outbox.add_event(db, "lock.released", app, environment, user=by, reason=lock.reason)
            if lock.owner != by:
                db.execute(
                    f"INSERT INTO audit (at, actor, action, environment, detail) "
                    f"VALUES ({db.now}, ?, 'force-unlock', ?, ?)",
                    (by, environment, json.dumps({"owner": lock.owner, "reason": lock.reason})),
                )
        return lock

    def get_lock(self, app: str, environment: str) -> LockRecord | None:
        with self._db.transaction() as db:
            self._expire(db)
            held = self._held(db, app, environment)
        return held[1] if held else None

    @staticmethod
    def _held(db: Executor, app: str, environment: str) -> tuple[str, LockRecord] | None:
        """The lock on ``app``'s ``environment`` (its own, else one from before locks were per app) and its key."""
        row = db.execute(
            "SELECT app, environment, owner, reason, since, expires_at FROM locks "
            "WHERE environment = ? AND app IN (?, ?) ORDER BY CASE WHEN app = ? THEN 1 ELSE 0 END LIMIT 1",
            (environment, app, ANY_APP, ANY_APP),
        ).fetchone()
        return (str(row[0]), LockRecord(*row[1:])) if row else None

    def _expire(self, db: Executor) -> None:
        db.execute(f"DELETE FROM locks WHERE expires_at IS NOT NULL AND expires_at <= {db.now}")

    # -- audit --------------------------------------------------------------------------------------------

    def record_audit(self, actor: str, action: str, environment: str, detail: str) -> None:
        self._db.execute(
            f"INSERT INTO audit (at, actor, action, environment, detail) VALUES ({self._db.now}, ?, ?, ?, ?)",
            (actor, action, environment, detail),
        )

    def audit(self, limit: int = 50) -> list[tuple[float, str, str, str, str]]:
        rows = self._db.execute(
            "SELECT at, actor, action, environment, detail FROM audit ORDER BY at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(float(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


def list_runs(db: Executor, app: str | None = None, environment: str | None = None, limit: int = 20) -> list[RunRecord]:
    """The newest ``limit`` runs (of ``app``, in ``environment``), newest first, as :func:`shown`; on any executor,
    the store's database or a :func:`deploy.store.statements.read_only` file (``shipbot history``)."""
    where, args = [], []
    if app:
        where.append("app = ?")
        args.append(app)
    if environment:
        where.append("environment = ?")
        args.append(environment)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = db.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs {clause} ORDER BY started_at DESC LIMIT ?", (*args, limit)
    ).fetchall()
    return shown(db, [_run(r) for r in rows])


def shown(db: Executor, runs: list[RunRecord]) -> list[RunRecord]:
    """A run whose lease expired is not running, whatever its row says: shown as interrupted until repaired; one
    whose controller missed its heartbeats says so (``stalled``)."""
    live = [r.run_id for r in runs if r.state in ("running", "waiting")]
    held = leases.holdings(db, live)
    return [
        replace(r, state="interrupted", message=_DEAD) if r.run_id in live and r.run_id not in held
        else replace(r, stalled=(held[r.run_id].silent_for, held[r.run_id].expires_in))
        if r.run_id in held and held[r.run_id].stalled else r
        for r in runs
    ]  # fmt: skip


def _busy(environment: str, run_id: str, user: str, what: str, holding: Holding | None) -> EnvironmentBusy:
    """Busy with a run: deploying, or held by a controller that stopped answering and is taken over at its expiry."""
    if holding is None or not holding.stalled:
        return EnvironmentBusy(environment, run_id, user, what)
    return EnvironmentBusy(environment, run_id, user, what, stalled=(holding.silent_for, holding.expires_in))


def _clock(db: Executor) -> float:
    """Now, by the database's clock (in the caller's transaction)."""
    row = db.execute(f"SELECT {db.now}").fetchone()
    assert row is not None
    return float(row[0])


def _refuse(lock: LockRecord) -> None:
    raise EnvironmentLocked(lock.environment, lock.owner, lock.reason, utc_minute(lock.since))


def _run(row: tuple[object, ...]) -> RunRecord:
    (run_id, kind, app, env, user, ref, sha, release, state, started, finished, message, hosts, forced) = row
    return RunRecord(
        run_id=str(run_id), kind=str(kind), app=str(app), environment=str(env), user=str(user), ref=str(ref),
        sha=str(sha), release=str(release), state=str(state), started_at=float(started),  # type: ignore[arg-type]
        finished_at=None if finished is None else float(finished),  # type: ignore[arg-type]
        message=str(message), hosts=int(hosts), forced=bool(forced),  # type: ignore[call-overload]
    )  # fmt: skip
