"""The inbox: everything people and forges send the bot (a Slack command, a button click, a push delivery), written
down with what it said *before* it is acknowledged, and marked answered once it is. One table (``inbox``,
migration ``0006``) and one de-duplication for all of them.

An entry's ``key`` says where it came from (``msg:<channel>:<ts>``, ``slash:<trigger id>``, ``push:<provider>:<delivery
id>``...). :meth:`Inbox.receive` inserts it on that primary key (``INSERT ... ON CONFLICT DO NOTHING``): True for
exactly one caller, however many times the sender delivers it and however many processes or replicas receive it, so
a re-delivery is dropped by the same statement that writes the first one down. The process that received it holds
it like a lease (``holder``, ``expires_at`` by the database's clock) and renews every entry it holds on its timer
(:meth:`Inbox.renew`, one statement) until it has answered (:meth:`Inbox.answered`).

An entry whose holder stopped renewing (killed between the acknowledgement and the answer) expires after the TTL;
:meth:`Inbox.take_over` hands it to a live process (another replica, or the same bot started again) with one
conditional ``UPDATE`` per entry (``WHERE answered_at IS NULL AND expires_at <= now``), so of several takers exactly
one gets it, and answers it. Expiry and age are always compared with the database's clock in the statement itself
(``db.now``), never a replica's. Entries answered (or given up) longer ago than the sender could re-deliver them are
removed by :meth:`Inbox.prune`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deploy.store.statements import Executor

KEEP_SLACK = 3600.0  # Slack retries within minutes; an hour keeps twins and retries well apart
KEEP_PUSHES = 7 * 24 * 3600.0  # forges redeliver for days at most


@dataclass(frozen=True)
class Entry:
    """One thing received: ``kind`` says which adapter reads ``payload`` (JSON text, what it said)."""

    key: str
    kind: str
    payload: str
    age: float  # seconds since it was received, by the database's clock, when it was taken over
    attempts: int  # 1 for the process that received it; one more each time it is taken over


class Inbox:
    """``holder``: this process's owner id (the store's lease owner); ``ttl``: how long what it holds lives without a
    renewal (SHIPBOT_LEASE_TTL)."""

    def __init__(self, db: Executor, holder: str, ttl: float) -> None:
        self._db = db
        self.holder = holder
        self.ttl = ttl

    def receive(self, key: str, kind: str, payload: str) -> bool:
        """Write ``key`` down, held here: True the first time it is seen (within the keep of :meth:`prune`),
        whichever process sees it; False for a re-delivery or a twin."""
        now = self._db.now
        cur = self._db.execute(
            "INSERT INTO inbox (key, kind, payload, received_at, holder, expires_at, answered_at, attempts) "
            f"VALUES (?, ?, ?, {now}, ?, {now} + ?, NULL, 1) ON CONFLICT (key) DO NOTHING",
            (key, kind, payload, self.holder, self.ttl),
        )
        return cur.rowcount == 1

    def answered(self, key: str) -> None:
        """``key`` was answered (or decided): nobody picks it up again."""
        self._db.execute(f"UPDATE inbox SET answered_at = {self._db.now} WHERE key = ? AND answered_at IS NULL", (key,))

    def renew(self) -> int:
        """Extend every unanswered entry held here by the TTL; how many it holds."""
        now = self._db.now
        cur = self._db.execute(
            f"UPDATE inbox SET expires_at = {now} + ? WHERE holder = ? AND answered_at IS NULL AND expires_at > {now}",
            (self.ttl, self.holder),
        )
        return cur.rowcount

    def take_over(self, kinds: Sequence[str], limit: int = 20) -> list[Entry]:
        """Unanswered entries of ``kinds`` whose holder stopped renewing them, now held here (each taken
        by one conditional update: of several processes asking at once, exactly one gets each entry)."""
        now = self._db.now
        marks = ", ".join("?" * len(kinds))
        rows = self._db.execute(
            f"SELECT key FROM inbox WHERE answered_at IS NULL AND expires_at <= {now} AND kind IN ({marks}) "
            "ORDER BY received_at LIMIT ?",
            (*kinds, limit),
        ).fetchall()
        taken = []
        for (key,) in rows:
            cur = self._db.execute(
                f"UPDATE inbox SET holder = ?, expires_at = {now} + ?, attempts = attempts + 1 "
                f"WHERE key = ? AND answered_at IS NULL AND expires_at <= {now}",
                (self.holder, self.ttl, key),
            )
            if cur.rowcount == 1:
                row = self._db.execute(
                    f"SELECT key, kind, payload, {now} - received_at, attempts FROM inbox WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    taken.append(Entry(str(row[0]), str(row[1]), str(row[2]), float(row[3]), int(row[4])))
        return taken

    def unanswered(self, kinds: Sequence[str]) -> list[str]:
        """Keys of the entries of ``kinds`` not answered yet (oldest first), for status and tests."""
        marks = ", ".join("?" * len(kinds))
        rows = self._db.execute(
            f"SELECT key FROM inbox WHERE answered_at IS NULL AND kind IN ({marks}) ORDER BY received_at", tuple(kinds)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def prune(self, kinds: Sequence[str], keep: float) -> int:
        """Forget entries of ``kinds`` received more than ``keep`` seconds ago (by the database's clock): a sender
        re-delivering later than that is taken as new."""
        marks = ", ".join("?" * len(kinds))
        cur = self._db.execute(
            f"DELETE FROM inbox WHERE kind IN ({marks}) AND received_at < {self._db.now} - ?", (*kinds, keep)
        )
        return cur.rowcount
