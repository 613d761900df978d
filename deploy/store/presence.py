"""Which bot processes serve from this store now: each running bot writes its lease owner id and the time every
couple of seconds (table ``bot_presence``), and deletes its row when it stops.

Both the time written and the time compared are the database's (``db.now``), so a replica whose clock is off neither
looks gone nor keeps a gone one present.

A stopping bot asks :meth:`Presence.others` whether another one is there to take its place: only then does it close
its Slack connection before its runs end (Slack then hands every new event, a Cancel click included, to the other
one). Alone, it keeps the connection until its runs have ended, so their Cancel buttons keep working. The table
comes with migration ``0003``.
"""

from __future__ import annotations

from deploy.store.statements import Executor


class Presence:
    def __init__(self, db: Executor) -> None:
        self._db = db

    def beat(self, owner: str) -> None:
        """``owner`` serves now."""
        self._db.execute(
            f"INSERT INTO bot_presence (owner, seen_at) VALUES (?, {self._db.now}) "  # noqa: S608 (the clock's SQL)
            "ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
            (owner,),
        )

    def others(self, owner: str, within: float) -> list[str]:
        """The other bots seen in the last ``within`` seconds."""
        rows = self._db.execute(
            f"SELECT owner FROM bot_presence WHERE owner <> ? AND seen_at > {self._db.now} - ? ORDER BY owner",  # noqa: S608
            (owner, within),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def leave(self, owner: str) -> None:
        self._db.execute("DELETE FROM bot_presence WHERE owner = ?", (owner,))
