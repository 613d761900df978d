"""Control requests: Cancel, Continue and Abort for a run that another process holds, passed through the store.

Several shipbots (bot replicas, and ``shipbot deploy`` on the command line) share one store. A click or a typed
``cancel`` reaches whichever process Slack picked; the run is driven by the process holding its lease
(:mod:`deploy.store.leases`). The process that received it writes one row here; the lease holder polls the requests for
its own runs every :data:`POLL_EVERY` seconds (beside its lease heartbeat) and acts on them: ``cancel`` stops the run
and puts the hosts back, ``continue`` and ``abort`` answer a pause between batches. Table ``control_requests``::

    id          INTEGER PRIMARY KEY  order of arrival
    run_id      TEXT                 the run asked about
    action      TEXT                 cancel | continue | abort
    who         TEXT                 who asked (already checked by the process that received the request)
    at          REAL                 when it was asked (epoch seconds, by the database's clock)
    handled_at  REAL                 when the holder took it (NULL until then; the database's clock)

Taking a request is one compare-and-set ``UPDATE ... WHERE id = ? AND handled_at IS NULL``, so a request is acted on
once even when a run changes owner while it is pending. The table comes with migration ``0003``; the SQL runs on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.store.database import Database


CANCEL, CONTINUE, ABORT = "cancel", "continue", "abort"
ACTIONS = (CANCEL, CONTINUE, ABORT)
POLL_EVERY = 1.0  # seconds between a lease holder's looks at the requests for its runs
KEEP = 7 * 24 * 3600.0  # requests are pruned this long after they were asked


@dataclass(frozen=True)
class ControlRequest:
    id: int
    run_id: str
    action: str
    who: str
    at: float


class Controls:
    """The control requests of one store (``db`` is the store's connection; every write is one statement)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.door = db.door  # how code on the event loop awaits these (deploy.store.door)

    def ask(self, run_id: str, action: str, who: str) -> None:
        """Ask the holder of ``run_id`` to ``action`` it, for ``who``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown control action {action!r}; one of {', '.join(ACTIONS)}")
        now = self._db.now  # the database's clock, as SQL; values are always bound
        self._db.execute(
            f"INSERT INTO control_requests (run_id, action, who, at, handled_at) VALUES (?, ?, ?, {now}, NULL)",  # noqa: S608
            (run_id, action, who),
        )

    def pending(self, run_ids: Sequence[str]) -> list[ControlRequest]:
        """Requests not yet handled for ``run_ids``, oldest first."""
        if not run_ids:
            return []
        marks = ", ".join("?" * len(run_ids))
        query = "SELECT id, run_id, action, who, at FROM control_requests WHERE handled_at IS NULL AND run_id IN "
        rows = self._db.execute(f"{query}({marks}) ORDER BY id", tuple(run_ids)).fetchall()
        return [ControlRequest(int(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4])) for r in rows]

    def take(self, request: ControlRequest) -> bool:
        """Mark ``request`` handled; False when someone handled it first (act only on True)."""
        cur = self._db.execute(
            f"UPDATE control_requests SET handled_at = {self._db.now} WHERE id = ? AND handled_at IS NULL",  # noqa: S608
            (request.id,),
        )
        return cur.rowcount == 1

    def prune(self, keep: float = KEEP) -> None:
        """Forget requests asked more than ``keep`` seconds ago, handled or not (a run that ended before its
        holder looked never takes its request)."""
        self._db.execute(f"DELETE FROM control_requests WHERE at < {self._db.now} - ?", (keep,))  # noqa: S608
