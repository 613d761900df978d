"""What pushes left in the store: the one auto-deploy of each commit, and the pushes parked until an environment is
free or a freeze ends. Kept in the store so a restart, a redelivery or a second bot on the same database changes
nothing twice. A provider's delivery is taken once through the inbox (:mod:`deploy.store.inbox`), like a Slack command.

Two small tables (migration ``0002``), plain SQL (``INSERT ... ON CONFLICT``, which SQLite and PostgreSQL both
speak)::

    auto_deploys         (app, environment, sha) PRIMARY KEY, run_id, at   the one auto-deploy of that commit there,
                         ``at`` when its push arrived
    parked_pushes        (app, environment) PRIMARY KEY, state, sha, ref, pusher, since
                         the newest push waiting there (``since``: when it arrived): ``received`` (taken, not yet
                         carried out: a process that stops meanwhile leaves it for the next), ``pending`` (a run is
                         going on) or ``held`` (frozen)

Every claim is one statement on a primary key, never check-then-write: :meth:`PushTable.claim` answers True to
exactly one caller; :meth:`PushTable.take` removes a parked push only
if it is still the one the caller read (compare and delete), so two processes never start it twice. "Newest" is
by arrival time, whichever process received the push and in whatever order pushes are carried out: a parked push
is replaced only by one that arrived later (the upsert's ``WHERE``), and :meth:`PushTable.newest_claim` tells a
push that arrived before the last one deployed there that it is superseded.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.store.statements import Executor

RECEIVED, PENDING, HELD = "received", "pending", "held"


@dataclass(frozen=True)
class ParkedPush:
    app: str
    environment: str
    state: str
    sha: str
    ref: str
    pusher: str
    since: float


class PushTable:
    def __init__(self, db: Executor) -> None:
        self._db = db

    def claim(self, app: str, environment: str, sha: str, run_id: str, at: float) -> bool:
        """True for the one caller that may auto-deploy ``sha`` (pushed at ``at``) to ``app``'s ``environment``."""
        cur = self._db.execute(
            "INSERT INTO auto_deploys (app, environment, sha, run_id, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (app, environment, sha) DO NOTHING",
            (app, environment, sha, run_id, at),
        )
        return cur.rowcount == 1

    def newest_claim(self, app: str, environment: str) -> float | None:
        """When the push behind the newest auto-deploy there arrived."""
        row = self._db.execute(
            "SELECT MAX(at) FROM auto_deploys WHERE app = ? AND environment = ?", (app, environment)
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def unclaim(self, app: str, environment: str, sha: str, run_id: str) -> None:
        """Give up the claim ``run_id`` made (its run could not start after all), so the commit can deploy later."""
        self._db.execute(
            "DELETE FROM auto_deploys WHERE app = ? AND environment = ? AND sha = ? AND run_id = ?",
            (app, environment, sha, run_id),
        )

    def claimed(self, app: str, environment: str, sha: str) -> str | None:
        """The run id that auto-deployed ``sha`` there, if one did."""
        row = self._db.execute(
            "SELECT run_id FROM auto_deploys WHERE app = ? AND environment = ? AND sha = ?", (app, environment, sha)
        ).fetchone()
        return str(row[0]) if row else None

    def park(
        self, app: str, environment: str, state: str, sha: str, ref: str, pusher: str, since: float
    ) -> ParkedPush | None:
        """Keep this push (arrived at ``since``) as the one waiting there unless one that arrived later waits
        already; returns the push waiting there before (compare with :meth:`parked` to see which one won)."""
        before = self.parked(app, environment)
        self._db.execute(
            "INSERT INTO parked_pushes (app, environment, state, sha, ref, pusher, since) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (app, environment) DO UPDATE SET state = excluded.state, sha = excluded.sha, "
            "ref = excluded.ref, pusher = excluded.pusher, since = excluded.since "
            "WHERE parked_pushes.since <= excluded.since",
            (app, environment, state, sha, ref, pusher, since),
        )
        return before

    def parked(self, app: str, environment: str) -> ParkedPush | None:
        row = self._db.execute(
            "SELECT app, environment, state, sha, ref, pusher, since FROM parked_pushes "
            "WHERE app = ? AND environment = ?",
            (app, environment),
        ).fetchone()
        return ParkedPush(*row) if row else None

    def all_parked(self) -> list[ParkedPush]:
        rows = self._db.execute(
            "SELECT app, environment, state, sha, ref, pusher, since FROM parked_pushes ORDER BY since"
        ).fetchall()
        return [ParkedPush(*row) for row in rows]

    def take(self, parked: ParkedPush) -> bool:
        """Remove ``parked`` if it is still the push waiting there (a newer push or another process may have
        replaced or taken it): True for exactly one caller."""
        cur = self._db.execute(
            "DELETE FROM parked_pushes WHERE app = ? AND environment = ? AND sha = ? AND state = ?",
            (parked.app, parked.environment, parked.sha, parked.state),
        )
        return cur.rowcount == 1
