"""Slack event de-duplication: which deliveries the bot has already taken, remembered in SQLite.

Slack re-delivers an event it thinks was not acknowledged and sends one mention both as ``app_mention`` and as
``message``. :meth:`Deliveries.first_time` answers True exactly once per key within a time-to-live, atomically across
processes sharing the file: the key is claimed by an ``INSERT OR IGNORE`` on a primary key inside one ``BEGIN
IMMEDIATE`` transaction, never check-then-write.

The table (``slack_deliveries``) lives in the same SQLite file as the deploy store (``<data_dir>/shipbot.sqlite3``,
WAL mode), but belongs to the Slack adapter: the deploy engine knows nothing of Slack events.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_SCHEMA = "CREATE TABLE IF NOT EXISTS slack_deliveries (key TEXT PRIMARY KEY, at REAL NOT NULL)"


class Deliveries:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def first_time(self, key: str, ttl: float = 3600.0) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds (atomic across processes)."""
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM slack_deliveries WHERE at < ?", (now - ttl,))
            fresh = self._db.execute("INSERT OR IGNORE INTO slack_deliveries VALUES (?, ?)", (key, now)).rowcount == 1
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return fresh
