"""The freeze windows' transitions the sinks were told of (``freeze_marks``): one row per (app, environment, event,
window start), written with the event's outbox rows in one transaction.

A freeze window is config (cron or dates, :mod:`commands.freeze`), so nothing is written when it begins or ends:
the bot's timer compares the windows with what was told here (:meth:`FreezeMarks.open`) and records each
transition (:meth:`FreezeMarks.record`). The row's key makes the transition happen once whichever replica, or how
many, noticed it: ``INSERT ... ON CONFLICT DO NOTHING``, and only the insert that wrote the row writes the outbox
rows (``freeze.started``, ``freeze.ended``). ``window_start`` is the epoch second the freeze began (by the windows,
so every replica computes the same), or :data:`LONG_AGO` for one that began further back than the windows are
looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from deploy.notify.outbox import Outbox

if TYPE_CHECKING:
    from deploy.store.database import Database

STARTED, ENDED = "freeze.started", "freeze.ended"
LONG_AGO = 0.0  # the window start of a freeze that began before the look-back


class FreezeMarks:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self._db = db
        self._outbox = outbox

    def open(self, app: str, environment: str) -> list[tuple[float, str]]:
        """(window start, reason) of each freeze told started and not yet ended, oldest first."""
        rows = self._db.execute(
            "SELECT s.window_start, s.reason FROM freeze_marks s WHERE s.app = ? AND s.environment = ? "
            "AND s.event = ? AND NOT EXISTS (SELECT 1 FROM freeze_marks e WHERE e.app = s.app "
            "AND e.environment = s.environment AND e.event = ? AND e.window_start = s.window_start) "
            "ORDER BY s.window_start",
            (app, environment, STARTED, ENDED),
        ).fetchall()
        return [(float(r[0]), str(r[1])) for r in rows]

    def record(
        self, app: str, environment: str, event: str, window_start: float, reason: str,
        fields: Mapping[str, Any] | None = None,
    ) -> bool:  # fmt: skip
        """The transition ``event`` of the freeze that began at ``window_start``, with its outbox rows (``fields``
        added to the document); False, and nothing written, when it was recorded already (by another replica)."""
        with self._db.transaction() as tx:
            written = tx.execute(
                "INSERT INTO freeze_marks (app, environment, event, window_start, reason, at) "
                f"VALUES (?, ?, ?, ?, ?, {tx.now}) ON CONFLICT DO NOTHING",
                (app, environment, event, window_start, reason),
            )
            if written.rowcount != 1:
                return False
            self._outbox.add_event(tx, event, app, environment, reason=reason or None, **dict(fields or {}))
        return True
