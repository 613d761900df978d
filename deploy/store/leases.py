"""Leases: who may act for a run, judged by the store's clock, and fenced by a generation.

A run holds one lease row from the moment it takes its environment's run slot until it has fully ended: an owner
id unique per process (:func:`new_owner`), a *generation*, the last heartbeat, an expiry and the process holding it
(:func:`this_process`). The owner renews it every third of the TTL; a lease whose expiry has passed is dead, whoever
held it, on whatever machine or container. Expiry is always compared with the database's own clock in the same
statement (``db.now``). Taking over a dead run is one conditional ``UPDATE`` that also adds one to the generation,
so of two controllers racing for it exactly one wins, and every lease a run ever had has its own
(owner, generation) pair: a :class:`Lease`.

Fencing: every write a run makes after it started is conditional on ``owner = me AND generation = g`` in the same
statement (:func:`fence`; on PostgreSQL the lease row is locked ``FOR SHARE`` by that statement, so a takeover
waits for a write in flight and a write waits for a takeover in flight, and neither lands after the other has
decided). A refused write raises :class:`~deploy.errors.LeaseLost` (:mod:`deploy.store.fencing`): a process that was
frozen past its lease (SIGSTOP, a stalled VM, a store that did not answer) can wake up in the middle of a step,
but not one row it writes for the run lands once another process took it over.

A dead owner on this machine is recognised without waiting for the TTL: a lease records the host name, boot id,
pid namespace, pid and start time of its process, and a lease whose process is on this same machine (same host
name, same boot id, same pid namespace: containers on one host share a boot id but not their pids) and no longer
exists is dead at once (:func:`gone`). Elsewhere only the TTL decides; :class:`Holding` says how late the owner's
heartbeat is and when the lease runs out.

:class:`LeaseGuard` is the owner's side. Before every remote command the run asks :meth:`LeaseGuard.valid`: the
answer is yes without touching the store while a local monotonic deadline (set *before* each successful renewal,
a fraction short of the TTL) has not passed, otherwise it renews on the spot. A process stopped past its lease
therefore wakes with its deadline gone, fails to renew, and does nothing more: the new owner repairs.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import LeaseLost
from deploy.store.statements import DatabaseError, Executor

__all__ = ["Holding", "Lease", "LeaseGuard", "LeaseLost"]

# Table ``leases`` (deploy/store/migrations): run_id TEXT PRIMARY KEY, owner TEXT, heartbeat_at and expires_at (seconds
# since the epoch by the database's clock: ``db.now``), generation INTEGER (0001, 0004), process TEXT (0004).

_MARGIN = 0.8  # the owner stops trusting its lease locally after this fraction of the TTL since its last renewal


@dataclass(frozen=True)
class Lease:
    """One holding of a run's lease: the fencing token every write of the run carries."""

    run_id: str
    owner: str
    generation: int

    @property
    def params(self) -> tuple[str, str, int]:
        """The parameters of :func:`fence`, in its order."""
        return (self.run_id, self.owner, self.generation)


@dataclass(frozen=True)
class Holding:
    """A run's lease as another process sees it (all times by the database's clock)."""

    owner: str
    heartbeat_at: float
    expires_at: float
    now: float
    ttl: float  # the holder's TTL, as its expiry shows it (expiry - last heartbeat)

    @property
    def silent_for(self) -> float:
        return max(0.0, self.now - self.heartbeat_at)

    @property
    def stalled(self) -> bool:
        """The owner missed a heartbeat: it renews every third of its TTL, so none for half of it is one missed."""
        return self.silent_for > self.ttl / 2

    @property
    def expires_in(self) -> float:
        return max(0.0, self.expires_at - self.now)


def new_owner() -> str:
    """An owner id unique to this process: readable host and pid, and a random part (pid 1 in every container)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _started(pid: int | str) -> str | None:
    """The start time (clock ticks since boot) of process ``pid`` in this pid namespace; None: no such process
    (or a zombie: it ended and only waits to be reaped)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces and parentheses
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _machine() -> str:
    """Host name, boot id and pid namespace: where a pid means the same process ("" where it cannot be told)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{socket.gethostname()} {boot} {namespace}" if boot else ""


def this_process() -> str:
    """This process as :func:`gone` can check it from the same machine: ``host boot_id pid_ns pid start``."""
    machine, started = _machine(), _started("self")
    return f"{machine} {os.getpid()} {started}" if machine and started else ""


def gone(process: str) -> bool:
    """The process recorded as ``process`` (:func:`this_process`) ran on this machine, in this pid namespace, and
    no longer exists (a pid reused since by another process counts as gone: its start time differs). False when
    it cannot be told from here: another host, another boot, another container, or nothing recorded."""
    parts = process.split(" ")
    if len(parts) != 5 or not parts[3].isdigit():
        return False
    machine = _machine()
    if not machine or " ".join(parts[:3]) != machine:
        return False
    return _started(int(parts[3])) != parts[4]


def fence(db: Executor) -> str:
    """SQL true while the lease given by :attr:`Lease.params` is held; the condition of every fenced write."""
    lock = " FOR SHARE" if db.dialect == "postgresql" else ""  # SQLite: one writer at a time already
    return f"EXISTS (SELECT 1 FROM leases WHERE run_id = ? AND owner = ? AND generation = ?{lock})"


def acquire(db: Executor, run_id: str, owner: str, ttl: float) -> int:
    """Give ``run_id`` a fresh lease held by ``owner`` (inside the caller's transaction); its generation."""
    row = db.execute(
        "INSERT INTO leases (run_id, owner, heartbeat_at, expires_at, generation, process) "
        f"VALUES (?, ?, {db.now}, {db.now} + ?, 1, ?) "
        "ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, heartbeat_at = excluded.heartbeat_at, "
        "expires_at = excluded.expires_at, generation = leases.generation + 1, process = excluded.process "
        "RETURNING generation",
        (run_id, owner, ttl, this_process()),
    ).fetchone()
    assert row is not None
    return int(row[0])


def renew(db: Executor, run_id: str, owner: str, ttl: float, generation: int | None = None) -> bool:
    """Extend the lease if ``owner`` still holds it (at ``generation`` when given) and it has not expired; False:
    the lease is lost."""
    same = "" if generation is None else " AND generation = ?"
    cur = db.execute(
        f"UPDATE leases SET heartbeat_at = {db.now}, expires_at = {db.now} + ? "
        f"WHERE run_id = ? AND owner = ?{same} AND expires_at > {db.now}",
        (ttl, run_id, owner, *(() if generation is None else (generation,))),
    )
    return cur.rowcount == 1


def seize(db: Executor, run_id: str, owner: str, ttl: float) -> int | None:
    """Become the owner of a run whose lease expired, whose owner is :func:`gone`, or that never had one: the new
    generation; None: someone alive holds it (or took it first)."""
    held = db.execute("SELECT owner, generation, process FROM leases WHERE run_id = ?", (run_id,)).fetchone()
    dead_here = held is not None and gone(str(held[2]))
    row = db.execute(
        f"UPDATE leases SET owner = ?, generation = generation + 1, heartbeat_at = {db.now}, "
        f"expires_at = {db.now} + ?, process = ? WHERE run_id = ? AND (expires_at <= {db.now}"
        f"{' OR (owner = ? AND generation = ?)' if dead_here else ''}) RETURNING generation",
        (owner, ttl, this_process(), run_id, *((str(held[0]), int(held[1])) if held and dead_here else ())),
    ).fetchone()
    if row is not None:
        return int(row[0])
    fresh = db.execute(
        "INSERT INTO leases (run_id, owner, heartbeat_at, expires_at, generation, process) "
        f"VALUES (?, ?, {db.now}, {db.now} + ?, 1, ?) ON CONFLICT (run_id) DO NOTHING RETURNING generation",
        (run_id, owner, ttl, this_process()),
    ).fetchone()
    return int(fresh[0]) if fresh is not None else None


def take_over(db: Executor, run_id: str, owner: str, ttl: float) -> bool:
    """:func:`seize`, answering only whether it won."""
    return seize(db, run_id, owner, ttl) is not None


def release(db: Executor, run_id: str) -> None:
    """Delete the lease whoever holds it (a run that never started; fenced code uses :func:`end`)."""
    db.execute("DELETE FROM leases WHERE run_id = ?", (run_id,))


def end(db: Executor, lease: Lease) -> bool:
    """Delete the lease if ``lease`` is still the holding (and lock nothing else); False: someone else holds it."""
    cur = db.execute("DELETE FROM leases WHERE run_id = ? AND owner = ? AND generation = ?", lease.params)
    return cur.rowcount == 1


def expire(db: Executor, lease: Lease) -> bool:
    """Let the run be taken over at once (the generation is kept, so the next holder gets a new one); only while
    ``lease`` is the holding."""
    cur = db.execute(
        f"UPDATE leases SET expires_at = {db.now} WHERE run_id = ? AND owner = ? AND generation = ?", lease.params
    )
    return cur.rowcount == 1


def holds(db: Executor, lease: Lease) -> bool:
    return db.execute(
        "SELECT 1 FROM leases WHERE run_id = ? AND owner = ? AND generation = ?", lease.params
    ).fetchone() is not None  # fmt: skip


def holding(db: Executor, run_id: str) -> Holding | None:
    """The run's live lease as seen from here (None: it has none, it expired, or its owner is :func:`gone`)."""
    row = db.execute(
        f"SELECT owner, heartbeat_at, expires_at, {db.now}, process FROM leases WHERE run_id = ? "
        f"AND expires_at > {db.now}",
        (run_id,),
    ).fetchone()
    if row is None or gone(str(row[4])):
        return None
    beat, expires = float(row[1]), float(row[2])
    return Holding(str(row[0]), beat, expires, float(row[3]), max(expires - beat, 0.0))


def holdings(db: Executor, run_ids: Sequence[str]) -> dict[str, Holding]:
    """The live leases of ``run_ids`` (those not listed expired, have none, or their owner is :func:`gone`)."""
    if not run_ids:
        return {}
    marks = ", ".join("?" * len(run_ids))
    rows = db.execute(
        f"SELECT run_id, owner, heartbeat_at, expires_at, {db.now}, process FROM leases WHERE run_id IN ({marks}) "
        f"AND expires_at > {db.now}",
        tuple(run_ids),
    ).fetchall()
    return {
        str(r[0]): Holding(str(r[1]), float(r[2]), float(r[3]), float(r[4]), max(float(r[3]) - float(r[2]), 0.0))
        for r in rows
        if not gone(str(r[5]))
    }


def holder(db: Executor, run_id: str) -> str | None:
    """The live owner of ``run_id``'s lease, or None when there is no live one."""
    found = holding(db, run_id)
    return found.owner if found is not None else None


def dead(db: Executor, run_ids: Sequence[str]) -> set[str]:
    """Those of ``run_ids`` whose lease expired, whose owner is :func:`gone`, or that have none."""
    if not run_ids:
        return set()
    marks = ", ".join("?" * len(run_ids))
    alive = db.execute(
        f"SELECT run_id, process FROM leases WHERE run_id IN ({marks}) AND expires_at > {db.now}", tuple(run_ids)
    ).fetchall()
    return set(run_ids) - {str(r[0]) for r in alive if not gone(str(r[1]))}


# -- previews: one lease per (app, branch), in the same table, keyed apart from any run id ------------------------

PREVIEW_KEY = "preview:"  # run ids never start with it (deploy.ids)


def preview_key(app: str, branch: str) -> str:
    """The lease key of the preview of ``branch`` of ``app``: whoever holds it makes, updates or removes it."""
    return f"{PREVIEW_KEY}{app}:{branch}"


def release_own(db: Executor, key: str, owner: str) -> bool:
    """Give up ``key``'s lease only while ``owner`` still holds it (a lease taken over since is left alone)."""
    return db.execute("DELETE FROM leases WHERE run_id = ? AND owner = ?", (key, owner)).rowcount == 1


class LeaseGuard:
    """The owner's view of one run's lease: ``renew`` asks the store (awaited: through the store's door, never on
    the event loop); :meth:`valid` is asked before each action.
    ``lease``: the holding it guards (what fenced writes carry); ``on_lost``: called once when the lease is lost
    (by a failed renewal or a refused write), to stop acting for the run."""

    def __init__(
        self,
        renew: Callable[[], Awaitable[bool]],
        ttl: float,
        lease: Lease | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._renew = renew
        self.ttl = ttl
        self.lease = lease
        self.lost = False
        self._on_lost = on_lost
        self._told = False
        self._thread = threading.get_ident()  # the event loop's: ``on_lost`` acts on the run's task there
        self._valid_until = time.monotonic() + ttl * _MARGIN  # the lease was taken just now

    def lose(self) -> None:
        """The lease is gone (a write was refused): act no more for the run. On a store thread (a write awaited
        through the door) only the mark is set; the awaiting side, back on the loop, calls this again and
        ``on_lost`` is told there, once."""
        self.lost = True
        if self._told or threading.get_ident() != self._thread:
            return
        self._told = True
        if self._on_lost is not None:
            self._on_lost()

    async def renew_now(self) -> bool:
        if self.lost:
            return False
        asked = time.monotonic()
        try:
            ok = await self._renew()
        except DatabaseError:  # the store is unreachable: trust the lease only until its local deadline
            return time.monotonic() < self._valid_until
        if ok:
            self._valid_until = asked + self.ttl * _MARGIN
        else:
            self.lose()
        return ok

    async def valid(self) -> bool:
        """May this process act for the run now? Renews on the spot once the local deadline has passed."""
        if self.lost:
            return False
        if time.monotonic() < self._valid_until:
            return True
        return await self.renew_now()

    async def heartbeat(self, on_lost: Callable[[], None] | None = None) -> None:
        """Renew every third of the TTL until cancelled or lost; ``on_lost`` (or the guard's own) is called once
        when the lease is gone."""
        if on_lost is not None:
            self._on_lost = on_lost
        while not self.lost:
            await asyncio.sleep(self.ttl / 3)
            await self.renew_now()
