"""The run ledger: what a run is about to do, written down before it does it, so another process can finish it.

Per run, the store keeps (tables below, applied by :class:`~deploy.store.tables.Store`):

- ``run_hosts``: every host the run touches, and per host the write-ahead switch intent: the release ``current``
  pointed to before (``from_release``/``from_sha``), the release it switches to, and how far it got:
  ``switching`` (written *before* the switch command is sent: the outcome is unknown until it answers),
  ``switched`` (the rename is known to have happened), ``restored`` (it is known to be back on ``from`` and
  restarted there). A host with no intent was never asked to switch;
- ``run_processes``: the remote process group of every step in flight (recorded as the step's first output line
  arrives, removed when it ends), so repair can kill what a dead controller left running;
- ``run_waits``: a run paused between batches for a person, and the batch it waits before;
- ``run_places``: where a run is reported (a chat channel and message id), so a repair made by another process
  can say so there.

The same intent is written in the host's own journal in the switch command itself (see :mod:`deploy.hosts.guarded`).
A run writes these rows only through its fenced writes (:mod:`deploy.store.fencing`: each one refused once another
process took the run over); :class:`Ledger` reads them, and keeps where a run's message is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.store.database import Database


# Tables (deploy/store/migrations): run_hosts (run_id, host, from_release, from_sha, to_release, to_sha, intent; key
# run_id, host), run_processes (run_id, host, pgid; all three the key), run_places (run_id, channel, message), run_waits
# (run_id, batch, release, sha).

SWITCHING, SWITCHED, RESTORED = "switching", "switched", "restored"


@dataclass(frozen=True)
class HostIntent:
    host: str
    from_release: str | None
    from_sha: str | None
    to_release: str | None
    to_sha: str | None
    intent: str  # "" (never asked to switch) | switching | switched | restored

    @property
    def maybe_switched(self) -> bool:
        """The host may be on ``to_release``: asked to switch and not known to be back."""
        return self.intent in (SWITCHING, SWITCHED)


@dataclass(frozen=True)
class Wait:
    run_id: str
    batch: int  # the batch (1-based) the run waits before
    release: str
    sha: str


class Ledger:
    """The ledger of one store, read (``db`` is the store's connection); a run's own rows are written by
    :class:`deploy.store.fencing.RunWrites`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def intents(self, run_id: str) -> dict[str, HostIntent]:
        rows = self._db.execute(
            "SELECT host, from_release, from_sha, to_release, to_sha, intent FROM run_hosts WHERE run_id = ?",
            (run_id,),
        ).fetchall()
        return {str(r[0]): HostIntent(*r) for r in rows}

    def processes(self, run_id: str) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for host, pgid in self._db.execute("SELECT host, pgid FROM run_processes WHERE run_id = ?", (run_id,)):
            out.setdefault(str(host), []).append(int(pgid))
        return out

    def remember_place(self, run_id: str, channel: str, message: str, permalink: str | None = None) -> None:
        """Where the run is reported; ``permalink``, the message's link, becomes the ``url`` of the run's events."""
        self._db.execute(
            "INSERT INTO run_places (run_id, channel, message, permalink) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET channel = excluded.channel, message = excluded.message, "
            "permalink = COALESCE(excluded.permalink, run_places.permalink)",
            (run_id, channel, message, permalink),
        )

    def place_of(self, run_id: str) -> tuple[str, str] | None:
        row = self._db.execute("SELECT channel, message FROM run_places WHERE run_id = ?", (run_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def waiting(self, run_id: str) -> Wait | None:
        row = self._db.execute(
            "SELECT run_id, batch, release, sha FROM run_waits WHERE run_id = ?", (run_id,)
        ).fetchone()
        return Wait(str(row[0]), int(row[1]), str(row[2]), str(row[3])) if row else None

    def waited(self, run_id: str) -> float | None:
        """How long the run has waited at its pause, in seconds by the database's clock (None: it waits at none,
        or began to wait before that was recorded)."""
        row = self._db.execute(
            f"SELECT {self._db.now} - since FROM run_waits WHERE run_id = ? AND since IS NOT NULL", (run_id,)
        ).fetchone()
        return max(0.0, float(row[0])) if row else None
