"""Leases: who may act for a run, judged by the store's clock, never by a pid.

A run holds one lease row from the moment it takes its environment's run slot until it has fully ended: an owner
id unique per process (:func:`new_owner`), the last heartbeat and an expiry. The owner renews it every third of
the TTL; a lease whose expiry has passed is dead, whoever held it, on whatever machine or container. Expiry is
always compared with the database's own clock in the same statement (``db.now``), so controllers on machines whose
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
import time
import uuid
from collections.abc import Callable, Sequence

from deploy.database import DatabaseError, Executor

# Table ``leases`` (deploy/migrations): run_id TEXT PRIMARY KEY, owner TEXT, heartbeat_at and expires_at (seconds
# since the epoch by the database's clock: ``db.now``, SQLite's julianday on its one machine, PostgreSQL's
# clock_timestamp() on the server, never a replica's).

_MARGIN = 0.8  # the owner stops trusting its lease locally after this fraction of the TTL since its last renewal


def new_owner() -> str:
    """An owner id unique to this process: readable host and pid, and a random part (pid 1 in every container)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire(db: Executor, run_id: str, owner: str, ttl: float) -> None:
    """Give ``run_id`` a fresh lease held by ``owner`` (inside the caller's transaction)."""
    db.execute(
        f"INSERT INTO leases (run_id, owner, heartbeat_at, expires_at) VALUES (?, ?, {db.now}, {db.now} + ?) "
        "ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, heartbeat_at = excluded.heartbeat_at, "
        "expires_at = excluded.expires_at",
        (run_id, owner, ttl),
    )


def renew(db: Executor, run_id: str, owner: str, ttl: float) -> bool:
    """Extend the lease if ``owner`` still holds it and it has not expired; False: the lease is lost."""
    cur = db.execute(
        f"UPDATE leases SET heartbeat_at = {db.now}, expires_at = {db.now} + ? "
        f"WHERE run_id = ? AND owner = ? AND expires_at > {db.now}",
        (ttl, run_id, owner),
    )
    return cur.rowcount == 1


def take_over(db: Executor, run_id: str, owner: str, ttl: float) -> bool:
    """Become the owner of a run whose lease expired (or that never had one); False: someone alive holds it."""
    cur = db.execute(
        f"UPDATE leases SET owner = ?, heartbeat_at = {db.now}, expires_at = {db.now} + ? "
        f"WHERE run_id = ? AND expires_at <= {db.now}",
        (owner, ttl, run_id),
    )
    if cur.rowcount == 1:
        return True
    fresh = db.execute(
        f"INSERT INTO leases (run_id, owner, heartbeat_at, expires_at) VALUES (?, ?, {db.now}, {db.now} + ?) "
        "ON CONFLICT (run_id) DO NOTHING",
        (run_id, owner, ttl),
    )
    return fresh.rowcount == 1


def release(db: Executor, run_id: str) -> None:
    db.execute("DELETE FROM leases WHERE run_id = ?", (run_id,))


def holder(db: Executor, run_id: str) -> str | None:
    """The live owner of ``run_id``'s lease, or None when there is no live one."""
    row = db.execute(f"SELECT owner FROM leases WHERE run_id = ? AND expires_at > {db.now}", (run_id,)).fetchone()
    return str(row[0]) if row else None


def dead(db: Executor, run_ids: Sequence[str]) -> set[str]:
    """Those of ``run_ids`` whose lease expired or that have none."""
    if not run_ids:
        return set()
    marks = ", ".join("?" * len(run_ids))
    alive = db.execute(
        f"SELECT run_id FROM leases WHERE run_id IN ({marks}) AND expires_at > {db.now}", tuple(run_ids)
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
        except DatabaseError:  # the store is unreachable: trust the lease only until its local deadline
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
