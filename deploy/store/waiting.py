"""Requests that wait, kept in the store so that a restart or a crash loses none of them: deploys waiting for a
second person (approval) and deploys waiting in line for a busy environment (the queue).

One row per request in the table ``waiting_requests`` (created by the store's migrations), keyed by the run id the
request got when it was asked for::

    run_id       TEXT PRIMARY KEY  the request's run id (the run keeps it once it starts)
    app          TEXT              where it would run: the app ...
    environment  TEXT              ... and the environment
    state        TEXT              see below
    seq          INTEGER           order in the line, lowest first (a forced request takes the lowest minus one)
    payload      TEXT              the request as the chat side wrote it (JSON; opaque to this module)
    expires_at   REAL              when an approval request expires (NULL for a request that only queues)
    decided_by   TEXT              who took it out of ``awaiting``: approver, rejecter, canceller ('' for nobody)
    decided_at   REAL              when (the database's clock, as ``updated_at``)
    channel, ts  TEXT              the chat message asking for approval, so its buttons can still be closed
    updated_at   REAL              last change of state

States and the moves between them (nothing else changes ``state``)::

    awaiting --approve--> approved --admit--> started | queued | dropped
    awaiting --> rejected | expired | cancelled
    queued   --turn comes--> started | dropped        queued --cancel--> cancelled

``started``, ``dropped``, ``rejected``, ``expired`` and ``cancelled`` are final; such rows are kept a while (a late
approver is told what became of the request, and who decided it) and pruned after :data:`KEEP_FINAL` seconds. An
``approved`` row outlives its process only when the process died between the approval and the admission: the
next process admits it again.

Every change of state is one statement, ``UPDATE waiting_requests SET state = ?, ... WHERE run_id = ? AND state =
?`` (compare and set): when two people press Approve at once exactly one update changes the row; the other
changes none, and its caller reads ``decided_by`` to say who was first. Joining the line computes ``seq`` inside
the same statement. The SQL is plain (no SQLite-only syntax): the same statements run on SQLite and PostgreSQL
(:mod:`deploy.store.database`), where the compare and set is just as atomic (the second update waits for the first and
then finds the state changed).

The sinks other than Slack hear of approvals through the outbox (:mod:`deploy.notify.outbox`), written in the
same transaction as the row: ``approval.requested`` when a request is added ``awaiting``, ``approval.decided``
(``outcome`` approved, rejected or expired) when the compare and set takes it out of ``awaiting`` for one of those;
the caller hands the event's fields (who, what) along, the payload staying opaque here. A request withdrawn by
its requester (``cancelled``) is not an approval decided.

Nothing is pushed between processes: a run that ends in another process (``shipbot deploy`` from the CLI) frees
the environment in the ``runs`` table only, and the bot notices by polling (:meth:`WaitingRequests.places`, every
couple of seconds) and then starts the next in line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deploy.notify.outbox import Outbox

if TYPE_CHECKING:
    from deploy.store.database import Database

AWAITING, APPROVED, QUEUED = "awaiting", "approved", "queued"
STARTED, DROPPED, REJECTED, EXPIRED, CANCELLED = "started", "dropped", "rejected", "expired", "cancelled"
FINAL = (STARTED, DROPPED, REJECTED, EXPIRED, CANCELLED)
OUTCOMES = {APPROVED: "approved", REJECTED: "rejected", EXPIRED: "expired"}  # approval.decided's ``outcome``
KEEP_FINAL = 7 * 24 * 3600.0

_COLUMNS = "run_id, app, environment, state, seq, payload, expires_at, decided_by, decided_at, channel, ts"
_NEXT_SEQ = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM waiting_requests WHERE app = ? AND environment = ?)"
_FRONT_SEQ = "(SELECT COALESCE(MIN(seq), 0) - 1 FROM waiting_requests WHERE app = ? AND environment = ?)"


@dataclass(frozen=True)
class WaitingRow:
    run_id: str
    app: str
    environment: str
    state: str
    seq: int
    payload: str
    expires_at: float | None = None
    decided_by: str = ""
    decided_at: float | None = None
    channel: str = ""
    ts: str = ""


class WaitingRequests:
    """The rows of ``waiting_requests`` in the store's database."""

    def __init__(self, db: Database, outbox: Outbox | None = None) -> None:
        self._db = db
        self._outbox = outbox

    @classmethod
    def open(cls, url: str = "sqlite://") -> WaitingRequests:
        """Its own database (default: a private in-memory SQLite one), schema applied."""
        from deploy.store.database import Database  # noqa: PLC0415 (SQLAlchemy: only when a store opens)

        return cls(Database(url))

    def add(
        self,
        run_id: str,
        app: str,
        environment: str,
        state: str,
        payload: str,
        *,
        expires_at: float | None = None,
        front: bool = False,
        event: Mapping[str, Any] | None = None,
    ) -> None:
        """A new request, ``awaiting`` approval or ``queued`` (at the end of its line, or the front). An ``awaiting``
        one with ``event`` (the fields of its ``approval.requested``: user, kind, ref, sha) is announced to the
        sinks in the same transaction."""
        with self._db.transaction() as tx:
            tx.execute(
                f"INSERT INTO waiting_requests (run_id, app, environment, state, seq, payload, expires_at, updated_at) "
                f"VALUES (?, ?, ?, ?, {_FRONT_SEQ if front else _NEXT_SEQ}, ?, ?, {tx.now})",
                (run_id, app, environment, state, app, environment, payload, expires_at),
            )
            if event is not None and self._outbox is not None and state == AWAITING:
                self._outbox.add_event(tx, "approval.requested", app, environment, run_id=run_id, **event)

    def move(
        self, run_id: str, before: str, after: str, *, by: str = "", front: bool = False,
        event: Mapping[str, Any] | None = None,
    ) -> bool:  # fmt: skip
        """Compare and set: ``run_id`` goes from ``before`` to ``after`` if it still is ``before``; True if it moved.

        Moving into ``queued`` places it at the end of its line (``front``: at the front); ``by`` is recorded as
        who decided when the row leaves ``awaiting``. A move from ``awaiting`` to approved, rejected or expired
        with ``event`` (the fields of its ``approval.decided``) is announced in the same transaction, by the one
        caller whose move won."""
        if after == QUEUED:
            row = self.get(run_id)
            if row is None:
                return False
            cursor = self._db.execute(
                f"UPDATE waiting_requests SET state = ?, seq = {_FRONT_SEQ if front else _NEXT_SEQ}, "
                f"updated_at = {self._db.now} WHERE run_id = ? AND state = ?",
                (after, row.app, row.environment, run_id, before),
            )
            return cursor.rowcount == 1
        if before != AWAITING:
            cursor = self._db.execute(
                f"UPDATE waiting_requests SET state = ?, updated_at = {self._db.now} WHERE run_id = ? AND state = ?",
                (after, run_id, before),
            )
            return cursor.rowcount == 1
        with self._db.transaction() as tx:
            cursor = tx.execute(
                f"UPDATE waiting_requests SET state = ?, decided_by = ?, decided_at = {tx.now}, "
                f"updated_at = {tx.now} WHERE run_id = ? AND state = ?",
                (after, by, run_id, before),
            )
            moved = cursor.rowcount == 1
            if moved and event is not None and self._outbox is not None and after in OUTCOMES:
                where = tx.execute("SELECT app, environment FROM waiting_requests WHERE run_id = ?", (run_id,))
                app, environment = where.fetchone() or ("", "")
                self._outbox.add_event(
                    tx, "approval.decided", str(app), str(environment), run_id=run_id, outcome=OUTCOMES[after], **event
                )
        return moved

    def get(self, run_id: str) -> WaitingRow | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM waiting_requests WHERE run_id = ?", (run_id,)).fetchone()
        return WaitingRow(*row) if row else None

    def in_state(self, state: str, app: str | None = None, environment: str | None = None) -> list[WaitingRow]:
        """Rows in ``state`` (of ``app``/``environment`` when given), in line order (then oldest first)."""
        where, args = ["state = ?"], [state]
        for column, value in (("app", app), ("environment", environment)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM waiting_requests WHERE {' AND '.join(where)} ORDER BY seq, updated_at, run_id",
            args,
        ).fetchall()
        return [WaitingRow(*r) for r in rows]

    def due(self, now: float) -> list[WaitingRow]:
        """Approval requests still ``awaiting`` whose time is up at ``now``."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM waiting_requests WHERE state = ? AND expires_at <= ? ORDER BY expires_at",
            (AWAITING, now),
        ).fetchall()
        return [WaitingRow(*r) for r in rows]

    def places(self, state: str = QUEUED) -> list[tuple[str, str]]:
        """Every (app, environment) with a request in ``state``: where the line may have to move."""
        rows = self._db.execute(
            "SELECT DISTINCT app, environment FROM waiting_requests WHERE state = ? ORDER BY app, environment",
            (state,),
        ).fetchall()
        return [(str(a), str(e)) for a, e in rows]

    def set_message(self, run_id: str, channel: str, ts: str) -> None:
        """Where the message asking to approve ``run_id`` is (to close its buttons, also after a restart)."""
        self._db.execute("UPDATE waiting_requests SET channel = ?, ts = ? WHERE run_id = ?", (channel, ts, run_id))

    def prune(self, keep: float = KEEP_FINAL) -> int:
        """Forget final rows unchanged for ``keep`` seconds; returns how many."""
        marks = ", ".join("?" * len(FINAL))
        cursor = self._db.execute(
            f"DELETE FROM waiting_requests WHERE state IN ({marks}) AND updated_at < {self._db.now} - ?", (*FINAL, keep)
        )
        return cursor.rowcount
