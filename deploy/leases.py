"""Leases: who may act for a run, judged by the store's clock, never by a pid.

A run holds one lease row from the moment it takes its environment's run slot until it has fully ended: an owner
id unique per process (:func:`new_owner`), the last heartbeat and an expiry. The owner renews it every third of
the TTL; a lease whose expiry has passed is dead, whoever held it, on whatever machine or container. Expiry is
always compared with the database's own clock in the same statement (``_NOW``), so controllers on machines whose
clocks disagree, sharing one store, still agree on who is alive. Taking over a dead run is one conditional
``UPDATE`` (the row changes owner only while it is still expired), so of two controllers racing for it exactly
one wins.

:class:`LeaseGuard` is the owner's side. Before every remote command the run asks :meth:`LeaseGuard.valid`: the
answer is yes without touching the store while a local monotonic deadline (set *before* each successful renewal,
a fraction short of the TTL) has not passed, otherwise it renews on the spot. A process stopped past its lease
(SIGSTOP, a frozen VM) therefore wakes with its deadline gone, fails to renew, and does nothing more: the new
owner repairs.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, heartbeat_at REAL NOT NULL, expires_at REAL NOT NULL
);
"""

# seconds since the epoch by the database's clock (SQLite: julianday has millisecond precision)
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"

_MARGIN = 0.8  # the owner stops trusting its lease locally after this fraction of the TTL since its last renewal


def new_owner() -> str:
    """An owner id unique to this process: readable host and pid, and a random part (pid 1 in every container)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire(db: sqlite3.Connection, run_id: str, owner: str, ttl: float) -> None:
    """Give ``run_id`` a fresh lease held by ``owner`` (inside the caller's transaction)."""
    db.execute(
        f"INSERT OR REPLACE INTO leases VALUES (?, ?, {_NOW}, {_NOW} + ?)",
        (run_id, owner, ttl),
    )


def renew(db: sqlite3.Connection, run_id: str, owner: str, ttl: float) -> bool:
    """Extend the lease if ``owner`` still holds it and it has not expired; False: the lease is lost."""
    cur = db.execute(
        f"UPDATE leases SET heartbeat_at = {_NOW}, expires_at = {_NOW} + ? "
        f"WHERE run_id = ? AND owner = ? AND expires_at > {_NOW}",
        (ttl, run_id, owner),
    )
    return cur.rowcount == 1


def take_over(db: sqlite3.Connection, run_id: str, owner: str, ttl: float) -> bool:
    """Become the owner of a run whose lease expired (or that never had one); False: someone alive holds it."""
    cur = db.execute(
        f"UPDATE leases SET owner = ?, heartbeat_at = {_NOW}, expires_at = {_NOW} + ? "
        f"WHERE run_id = ? AND expires_at <= {_NOW}",
        (owner, ttl, run_id),
    )
    if cur.rowcount == 1:
        return True
    if db.execute("SELECT 1 FROM leases WHERE run_id = ?", (run_id,)).fetchone():
        return False
    acquire(db, run_id, owner, ttl)
    return True


def release(db: sqlite3.Connection, run_id: str) -> None:
    db.execute("DELETE FROM leases WHERE run_id = ?", (run_id,))


def holder(db: sqlite3.Connection, run_id: str) -> str | None:
    """The live owner of ``run_id``'s lease, or None when there is no live one."""
    row = db.execute(f"SELECT owner FROM leases WHERE run_id = ? AND expires_at > {_NOW}", (run_id,)).fetchone()
    return str(row[0]) if row else None


def dead(db: sqlite3.Connection, run_ids: Sequence[str]) -> set[str]:
    """Those of ``run_ids`` whose lease expired or that have none."""
    if not run_ids:
        return set()
    marks = ", ".join("?" * len(run_ids))
    alive = db.execute(
        f"SELECT run_id FROM leases WHERE run_id IN ({marks}) AND expires_at > {_NOW}", tuple(run_ids)
    ).fetchall()
    return set(run_ids) - {str(r[0]) for r in alive}


class LeaseLost(Exception):
    """This process no longer holds the run's lease: it must not act for the run any more."""


class LeaseGuard:
    """The owner's view of one run's lease: ``renew`` asks the store; :meth:`valid` is asked before each action."""

    def __init__(self, renew: Callable[[], bool], ttl: float) -> None:
        self._renew = renew
        self.ttl = ttl
        self.lost = False
        self._valid_until = time.monotonic() + ttl * _MARGIN  # the lease was taken just now

    def renew_now(self) -> bool:
        if self.lost:
            return False
        asked = time.monotonic()
        try:
            ok = self._renew()
        except sqlite3.Error:  # the store is unreachable: trust the lease only until its local deadline
            return time.monotonic() < self._valid_until
        if ok:
            self._valid_until = asked + self.ttl * _MARGIN
        else:
            self.lost = True
        return ok

    def valid(self) -> bool:
        """May this process act for the run now? Renews on the spot once the local deadline has passed."""
        if self.lost:
            return False
        if time.monotonic() < self._valid_until:
            return True
        return self.renew_now()

    async def heartbeat(self, on_lost: Callable[[], None]) -> None:
        """Renew every third of the TTL until cancelled; call ``on_lost`` once when the lease is gone."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            if not self.renew_now() and self.lost:
                on_lost()
                return
