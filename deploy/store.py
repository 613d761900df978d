"""The embedded SQLite store: runs, per-host step results, environment locks, audit; and, through
:mod:`deploy.waiting` on the same file, the requests that wait (approvals, the queue).

One file under the data dir (``<data_dir>/shipbot.sqlite3``), WAL mode, so the CLI and the bot can share it.

Two kinds of lock per environment, both taken atomically by an ``INSERT`` on a primary key (never check-then-write):

- the *run slot* (``active_runs``): one run per environment at a time, held from before the first connection
  until the run has fully ended (reverts and journal included), released however the run ends;
- a person's *lock* (``locks``): owner, reason, since, optional expiry; only the owner, or an admin with force
  (recorded in the audit table), removes it. Keyed by (app, environment) like the run slot, so locking shop's
  ``staging`` leaves billing's alone. A lock taken before locks were per app (a file from an older shipbot, whose
  ``locks`` table has no ``app`` column) is kept with app ``*``: it locks that environment of every app until it
  is unlocked (:data:`ANY_APP`).

A run slot is held by a run whose lease (:mod:`deploy.leases`) is alive: the slot and the lease are taken in one
transaction, and a run whose lease expired is dead whatever its pid or machine. :meth:`Store.dead_runs` lists
them for repair (:mod:`deploy.repair`), which takes the lease over and frees the slot once the hosts are back;
reads never show a dead run as running. The run ledger (:mod:`deploy.intents`) and the control requests
(:mod:`deploy.controls`) live in the same file.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from deploy import leases
from deploy.controls import SCHEMA as CONTROLS_SCHEMA
from deploy.controls import Controls
from deploy.errors import EnvironmentBusy, EnvironmentLocked
from deploy.ids import utc_minute
from deploy.intents import SCHEMA as LEDGER_SCHEMA
from deploy.intents import Ledger
from deploy.presence import SCHEMA as PRESENCE_SCHEMA
from deploy.presence import Presence
from deploy.records import LockRecord, RunRecord
from deploy.waiting import SCHEMA as WAITING_SCHEMA
from deploy.waiting import WaitingRequests

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, app TEXT NOT NULL, environment TEXT NOT NULL,
    user TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL, release TEXT NOT NULL,
    state TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, message TEXT NOT NULL DEFAULT '',
    hosts INTEGER NOT NULL DEFAULT 0, forced INTEGER NOT NULL DEFAULT 0, pid INTEGER, node TEXT
);
CREATE INDEX IF NOT EXISTS runs_env ON runs (app, environment, started_at);
CREATE TABLE IF NOT EXISTS host_steps (
    run_id TEXT NOT NULL, host TEXT NOT NULL, step TEXT NOT NULL, ok INTEGER NOT NULL,
    exit_status INTEGER, duration REAL NOT NULL, output_tail TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS host_steps_run ON host_steps (run_id);
CREATE TABLE IF NOT EXISTS host_outcomes (
    run_id TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT NULL, release TEXT, sha TEXT,
    failed_step TEXT, error TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, host)
);
CREATE TABLE IF NOT EXISTS active_runs (
    slot TEXT PRIMARY KEY, run_id TEXT NOT NULL, user TEXT NOT NULL, what TEXT NOT NULL,
    since REAL NOT NULL, pid INTEGER NOT NULL, node TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    app TEXT NOT NULL, environment TEXT NOT NULL, owner TEXT NOT NULL, reason TEXT NOT NULL, since REAL NOT NULL,
    expires_at REAL, PRIMARY KEY (app, environment)
);
CREATE TABLE IF NOT EXISTS audit (
    at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, environment TEXT NOT NULL, detail TEXT NOT NULL
);
"""

ANY_APP = "*"  # the app of a lock taken before locks were per app: it holds that environment of every app

_MIGRATE_LOCKS = f"""
CREATE TABLE locks_per_app (
    app TEXT NOT NULL, environment TEXT NOT NULL, owner TEXT NOT NULL, reason TEXT NOT NULL, since REAL NOT NULL,
    expires_at REAL, PRIMARY KEY (app, environment)
);
INSERT INTO locks_per_app SELECT '{ANY_APP}', environment, owner, reason, since, expires_at FROM locks;
DROP TABLE locks;
ALTER TABLE locks_per_app RENAME TO locks;
"""

_DEAD = "its controller stopped (lease expired) before it ended; repaired on shipbot's next start or by shipbot recover"

_RUN_COLUMNS = (
    "run_id, kind, app, environment, user, ref, sha, release, state, started_at, finished_at, message, hosts, forced"
)


class Store:
    """``lease_ttl``: how long a run's lease lives without a heartbeat (SHIPBOT_LEASE_TTL); ``owner``: this
    process's lease owner id."""

    def __init__(self, path: Path, lease_ttl: float = 30.0, owner: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            _SCHEMA + WAITING_SCHEMA + leases.SCHEMA + LEDGER_SCHEMA + CONTROLS_SCHEMA + PRESENCE_SCHEMA
        )
        self._migrate_locks()
        self.waiting = WaitingRequests(self._db)  # approvals and the queue (deploy.waiting)
        self._node = socket.gethostname()
        self.lease_ttl = lease_ttl
        self.owner = owner or leases.new_owner()
        self.ledger = Ledger(self._db)
        self.controls = Controls(self._db)  # Cancel/Continue/Abort for runs another process holds
        self.presence = Presence(self._db)  # the bots serving from this store now

    @classmethod
    def in_data_dir(cls, data_dir: Path, lease_ttl: float = 30.0) -> Store:
        return cls(data_dir / "shipbot.sqlite3", lease_ttl)

    def close(self) -> None:
        self._db.close()

    def _migrate_locks(self) -> None:
        """A ``locks`` table keyed by environment alone (an older file) becomes one keyed by (app, environment);
        its locks are kept with app :data:`ANY_APP`."""
        with self._tx() as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(locks)")}
            if "app" not in columns:
                for statement in filter(str.strip, _MIGRATE_LOCKS.split(";")):
                    db.execute(statement)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    # -- runs ---------------------------------------------------------------------------------------------

    def start_run(self, run: RunRecord, what: str) -> None:
        """Record the run and take the environment's run slot atomically; raises EnvironmentBusy."""
        slot = f"{run.app}/{run.environment}"
        with self._tx() as db:
            row = db.execute("SELECT run_id, user, what FROM active_runs WHERE slot = ?", (slot,)).fetchone()
            if row:
                raise EnvironmentBusy(run.environment, row[0], row[1], row[2])
            leases.acquire(db, run.run_id, self.owner, self.lease_ttl)
            db.execute(
                "INSERT INTO active_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (slot, run.run_id, run.user, what, run.started_at, os.getpid(), self._node),
            )
            db.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}, pid, node) VALUES ({', '.join('?' * 16)})",
                (
                    run.run_id, run.kind, run.app, run.environment, run.user, run.ref, run.sha, run.release,
                    "running", run.started_at, None, "", run.hosts, int(run.forced), os.getpid(), self._node,
                ),
            )  # fmt: skip

    def update_run(self, run_id: str, *, sha: str | None = None, release: str | None = None) -> None:
        if sha is not None:
            self._db.execute("UPDATE runs SET sha = ? WHERE run_id = ?", (sha, run_id))
        if release is not None:
            self._db.execute("UPDATE runs SET release = ? WHERE run_id = ?", (release, run_id))

    def finish_run(self, run_id: str, state: str, message: str) -> None:
        """Record how the run ended and free its environment's run slot."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET state = ?, message = ?, finished_at = ? WHERE run_id = ? "
                "AND state IN ('running', 'waiting')",
                (state, message, time.time(), run_id),
            )
            db.execute("DELETE FROM active_runs WHERE run_id = ?", (run_id,))
            leases.release(db, run_id)

    def record_step(
        self,
        run_id: str,
        host: str,
        step: str,
        ok: bool,
        exit_status: int | None,
        duration: float,
        output: str,
        error: str,
    ) -> None:
        self._db.execute(
            "INSERT INTO host_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, host, step, int(ok), exit_status, duration, output, error, time.time()),
        )

    def record_outcomes(
        self, run_id: str, outcomes: list[tuple[str, str, str | None, str | None, str | None, str]]
    ) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO host_outcomes VALUES (?, ?, ?, ?, ?, ?, ?)", [(run_id, *o) for o in outcomes]
            )

    def host_steps(self, run_id: str) -> list[dict[str, object]]:
        cur = self._db.execute(
            "SELECT host, step, ok, exit_status, duration, output_tail, error FROM host_steps "
            "WHERE run_id = ? ORDER BY at, rowid",
            (run_id,),
        )
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._shown([_run(row)])[0] if row else None

    def list_runs(self, app: str | None = None, environment: str | None = None, limit: int = 20) -> list[RunRecord]:
        where, args = [], []
        if app:
            where.append("app = ?")
            args.append(app)
        if environment:
            where.append("environment = ?")
            args.append(environment)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs {clause} ORDER BY started_at DESC LIMIT ?", (*args, limit)
        ).fetchall()
        return self._shown([_run(r) for r in rows])

    def _shown(self, runs: list[RunRecord]) -> list[RunRecord]:
        """A run whose lease expired is not running, whatever its row says: shown as interrupted until repaired."""
        gone = leases.dead(self._db, [r.run_id for r in runs if r.state in ("running", "waiting")])
        return [replace(r, state="interrupted", message=_DEAD) if r.run_id in gone else r for r in runs]

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

    def take_over(self, run_id: str) -> bool:
        """Become the owner of a dead run's lease (atomic: of two takers, one wins)."""
        with self._tx() as db:
            return leases.take_over(db, run_id, self.owner, self.lease_ttl)

    def give_up_lease(self, run_id: str) -> None:
        """Leave the run dead (a repair that could not finish): the next repair takes it over again."""
        leases.release(self._db, run_id)

    def renew_lease(self, run_id: str) -> bool:
        return leases.renew(self._db, run_id, self.owner, self.lease_ttl)

    def lease_holder(self, run_id: str) -> str | None:
        return leases.holder(self._db, run_id)

    # -- people's locks -----------------------------------------------------------------------------------

    def lock(self, app: str, environment: str, owner: str, reason: str, expires_at: float | None = None) -> LockRecord:
        """Lock ``app``'s ``environment`` for ``owner``; relocking your own lock updates the reason."""
        with self._tx() as db:
            self._expire(db)
            held = self._held(db, app, environment)
            if held and held[1].owner != owner:
                lock = held[1]
                raise EnvironmentLocked(environment, lock.owner, lock.reason, utc_minute(lock.since))
            since = held[1].since if held else time.time()
            db.execute(
                "INSERT OR REPLACE INTO locks VALUES (?, ?, ?, ?, ?, ?)",
                (app, environment, owner, reason, since, expires_at),
            )
        return LockRecord(environment, owner, reason, since, expires_at)

    def unlock(self, app: str, environment: str, by: str, force: bool = False) -> LockRecord | None:
        """Remove the lock. Someone other than the owner needs ``force`` (the caller checks they may); recorded."""
        with self._tx() as db:
            self._expire(db)
            held = self._held(db, app, environment)
            if not held:
                return None
            key, lock = held
            if lock.owner != by and not force:
                raise EnvironmentLocked(environment, lock.owner, lock.reason, utc_minute(lock.since))
            db.execute("DELETE FROM locks WHERE app = ? AND environment = ?", (key, environment))
            if lock.owner != by:
                db.execute(
                    "INSERT INTO audit VALUES (?, ?, 'force-unlock', ?, ?)",
                    (time.time(), by, environment, json.dumps({"owner": lock.owner, "reason": lock.reason})),
                )
        return lock

    def get_lock(self, app: str, environment: str) -> LockRecord | None:
        with self._tx() as db:
            self._expire(db)
            held = self._held(db, app, environment)
        return held[1] if held else None

    @staticmethod
    def _held(db: sqlite3.Connection, app: str, environment: str) -> tuple[str, LockRecord] | None:
        """The lock on ``app``'s ``environment`` (its own, else one from before locks were per app) and its key."""
        row = db.execute(
            "SELECT app, environment, owner, reason, since, expires_at FROM locks "
            "WHERE environment = ? AND app IN (?, ?) ORDER BY app = ? LIMIT 1",
            (environment, app, ANY_APP, ANY_APP),
        ).fetchone()
        return (str(row[0]), LockRecord(*row[1:])) if row else None

    def _expire(self, db: sqlite3.Connection) -> None:
        now = time.time()
        rows = db.execute("SELECT app, environment, owner, reason, since, expires_at FROM locks").fetchall()
        for app, *fields in rows:
            lock = LockRecord(*fields)
            if lock.expired(now):
                db.execute("DELETE FROM locks WHERE app = ? AND environment = ?", (app, lock.environment))

    # -- audit --------------------------------------------------------------------------------------------

    def record_audit(self, actor: str, action: str, environment: str, detail: str) -> None:
        self._db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?)", (time.time(), actor, action, environment, detail))

    def audit(self, limit: int = 50) -> list[tuple[float, str, str, str, str]]:
        rows = self._db.execute("SELECT * FROM audit ORDER BY at DESC LIMIT ?", (limit,)).fetchall()
        return [tuple(r) for r in rows]


def _run(row: tuple[object, ...]) -> RunRecord:
    (run_id, kind, app, env, user, ref, sha, release, state, started, finished, message, hosts, forced) = row
    return RunRecord(
        run_id=str(run_id), kind=str(kind), app=str(app), environment=str(env), user=str(user), ref=str(ref),
        sha=str(sha), release=str(release), state=str(state), started_at=float(started),  # type: ignore[arg-type]
        finished_at=None if finished is None else float(finished),  # type: ignore[arg-type]
        message=str(message), hosts=int(hosts), forced=bool(forced),  # type: ignore[call-overload]
    )  # fmt: skip
