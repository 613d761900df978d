"""Slack event de-duplication: which deliveries the bot has already taken, remembered in the store's database.

Slack re-delivers an event it thinks was not acknowledged and sends one mention both as ``app_mention`` and as
``message``. :meth:`Deliveries.first_time` answers True exactly once per key within a time-to-live, atomically across
processes and replicas sharing the database: the key is claimed by an ``INSERT ... ON CONFLICT DO NOTHING`` on a
primary key in one transaction, never check-then-write.

The table (``slack_deliveries``) lives in the store's database (SQLite file or PostgreSQL, see
:mod:`deploy.database`), but belongs to the Slack adapter: the deploy engine knows nothing of Slack events.
"""

from __future__ import annotations

import time
from pathlib import Path

from deploy.database import Database


class Deliveries:
    """``db``: the store's database (or, for SQLite, the file's path)."""

    def __init__(self, db: Database | Path) -> None:
        if isinstance(db, Path):
            db.parent.mkdir(parents=True, exist_ok=True)
            db = Database(f"sqlite:///{db}")
        self.path = db.path
        self._db = db

    def close(self) -> None:
        self._db.close()

    def first_time(self, key: str, ttl: float = 3600.0) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds (atomic across processes)."""
        now = time.time()
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM slack_deliveries WHERE at < ?", (now - ttl,))
            claimed = tx.execute(
                "INSERT INTO slack_deliveries (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, now)
            )
        return claimed.rowcount == 1
