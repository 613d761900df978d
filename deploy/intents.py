"""The run ledger: what a run is about to do, written down before it does it, so another process can finish it.

Per run, the store keeps (tables below, applied by :class:`~deploy.store.Store`):

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

The same intent is written in the host's own journal in the switch command itself (see :mod:`deploy.guarded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deploy.database import Database

# Tables (deploy/migrations): run_hosts (run_id, host, from_release, from_sha, to_release, to_sha, intent; key run_id,
# host), run_processes (run_id, host, pgid; all three the key), run_places (run_id, channel, message), run_waits
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
    """The ledger of one store (``db`` is the store's connection; every write is one statement)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def hosts(self, run_id: str, hosts: Sequence[str]) -> None:
        self._db.executemany(
            "INSERT INTO run_hosts (run_id, host) VALUES (?, ?) ON CONFLICT DO NOTHING", [(run_id, h) for h in hosts]
        )

    def switching(
        self, run_id: str, host: str, from_release: str | None, from_sha: str | None, to_release: str, to_sha: str
    ) -> None:
        """Write-ahead: ``host`` is about to switch from ``from_release`` to ``to_release``."""
        self._db.execute(
            "INSERT INTO run_hosts (run_id, host, from_release, from_sha, to_release, to_sha, intent) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, host) DO UPDATE SET from_release = "
            "excluded.from_release, from_sha = excluded.from_sha, to_release = excluded.to_release, "
            "to_sha = excluded.to_sha, intent = excluded.intent",
            (run_id, host, from_release, from_sha, to_release, to_sha, SWITCHING),
        )

    def mark(self, run_id: str, host: str, intent: str) -> None:
        self._db.execute("UPDATE run_hosts SET intent = ? WHERE run_id = ? AND host = ?", (intent, run_id, host))

    def intents(self, run_id: str) -> dict[str, HostIntent]:
        rows = self._db.execute(
            "SELECT host, from_release, from_sha, to_release, to_sha, intent FROM run_hosts WHERE run_id = ?",
            (run_id,),
        ).fetchall()
        return {str(r[0]): HostIntent(*r) for r in rows}

    def process_started(self, run_id: str, host: str, pgid: int) -> None:
        self._db.execute(
            "INSERT INTO run_processes (run_id, host, pgid) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (run_id, host, pgid),
            # one per step on every host: not waiting for the server's disk keeps the event loop free (PostgreSQL).
            # Lost only if the database server itself crashes within a second: a repair after that would not find
            # this step's process group to kill, and the step runs to its end on the host (switch intents, which
            # decide where a host goes back to, are always durable).
            durable=False,
        )

    def process_ended(self, run_id: str, host: str, pgid: int) -> None:
        self._db.execute(
            "DELETE FROM run_processes WHERE run_id = ? AND host = ? AND pgid = ?",
            (run_id, host, pgid),
            durable=False,  # lost only if the server crashes: repair then finds the group already gone
        )

    def processes(self, run_id: str) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for host, pgid in self._db.execute("SELECT host, pgid FROM run_processes WHERE run_id = ?", (run_id,)):
            out.setdefault(str(host), []).append(int(pgid))
        return out

    def forget_processes(self, run_id: str, host: str) -> None:
        self._db.execute("DELETE FROM run_processes WHERE run_id = ? AND host = ?", (run_id, host))

    def remember_place(self, run_id: str, channel: str, message: str) -> None:
        self._db.execute(
            "INSERT INTO run_places (run_id, channel, message) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET channel = excluded.channel, message = excluded.message",
            (run_id, channel, message),
        )

    def place_of(self, run_id: str) -> tuple[str, str] | None:
        row = self._db.execute("SELECT channel, message FROM run_places WHERE run_id = ?", (run_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def wait(self, run_id: str, batch: int, release: str, sha: str) -> None:
        """The run waits for a person before ``batch``: its record says ``waiting`` until it goes on."""
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO run_waits (run_id, batch, release, sha) VALUES (?, ?, ?, ?) ON CONFLICT (run_id) "
                "DO UPDATE SET batch = excluded.batch, release = excluded.release, sha = excluded.sha",
                (run_id, batch, release, sha),
            )
            tx.execute("UPDATE runs SET state = 'waiting' WHERE run_id = ? AND state = 'running'", (run_id,))

    def waiting(self, run_id: str) -> Wait | None:
        row = self._db.execute(
            "SELECT run_id, batch, release, sha FROM run_waits WHERE run_id = ?", (run_id,)
        ).fetchone()
        return Wait(str(row[0]), int(row[1]), str(row[2]), str(row[3])) if row else None

    def resumed(self, run_id: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM run_waits WHERE run_id = ?", (run_id,))
            tx.execute("UPDATE runs SET state = 'running' WHERE run_id = ? AND state = 'waiting'", (run_id,))
