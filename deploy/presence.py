"""Which bot processes serve from this store now: each running bot writes its lease owner id and the time every
couple of seconds (table ``bot_presence``), and deletes its row when it stops.

A stopping bot asks :meth:`Presence.others` whether another one is there to take its place: only then does it close
its Slack connection before its runs end (Slack then hands every new event, a Cancel click included, to the other
one). Alone, it keeps the connection until its runs have ended, so their Cancel buttons keep working. The SQL is
plain (no SQLite-only syntax).
"""

from __future__ import annotations

import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS bot_presence (owner TEXT PRIMARY KEY, seen_at REAL NOT NULL);
"""


class Presence:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def beat(self, owner: str) -> None:
        """``owner`` serves now."""
        now = time.time()
        if self._db.execute("UPDATE bot_presence SET seen_at = ? WHERE owner = ?", (now, owner)).rowcount == 0:
            self._db.execute("INSERT INTO bot_presence (owner, seen_at) VALUES (?, ?)", (owner, now))

    def others(self, owner: str, within: float) -> list[str]:
        """The other bots seen in the last ``within`` seconds."""
        rows = self._db.execute(
            "SELECT owner FROM bot_presence WHERE owner <> ? AND seen_at > ? ORDER BY owner",
            (owner, time.time() - within),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def leave(self, owner: str) -> None:
        self._db.execute("DELETE FROM bot_presence WHERE owner = ?", (owner,))
