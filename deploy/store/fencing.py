"""A run's writes, fenced: each one lands only while this process holds the run's lease at the generation it took.

:class:`RunWrites` is what a run (or a repair) writes once it started: host step records, the hosts it touches, the
write-ahead switch intents and their marks, its remote process groups, its pause, the control requests it takes,
its sha and release, its outcomes and its end. Every statement carries the condition of
:func:`deploy.store.leases.fence` (``owner = me AND generation = g``) in itself, never a check before it. A statement
the condition refused tells the run's :class:`~deploy.store.leases.LeaseGuard` (which stops the run: no remote command
is sent after it) and raises
:class:`~deploy.errors.LeaseLost`; a statement that changed nothing for another reason (a mark on a host with no
row, a request someone else took) is told apart by one more look at the lease, after the fact.

Values are bound as parameters; those that may be NULL in a column that is not text are cast, since PostgreSQL
types the columns of an ``INSERT ... SELECT`` from its parameters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, ParamSpec, TypeVar

from deploy.errors import LeaseLost
from deploy.notify.event_documents import RUN_TYPES
from deploy.notify.outbox import Outbox
from deploy.store import leases
from deploy.store.control_requests import ControlRequest
from deploy.store.door import StoreDoor
from deploy.store.intents import SWITCHING
from deploy.store.leases import Lease, LeaseGuard
from deploy.store.statements import Executor, Rows

if TYPE_CHECKING:
    from deploy.store.database import Database

P = ParamSpec("P")
T = TypeVar("T")
Outcome = tuple[str, str, str | None, str | None, str | None, str]  # host, state, release, sha, failed step, error


class FencedDoor:
    """The store's door for a run's writes: a write the fence refused on a store thread tells the run's guard
    here, on the event loop, where it may stop the run's task."""

    def __init__(self, writes: RunWrites, door: StoreDoor) -> None:
        self._writes = writes
        self._door = door

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await self._door(fn, *args, **kwargs)
        except LeaseLost:
            if self._writes.guard is not None:
                self._writes.guard.lose()
            raise


class RunWrites:
    """The fenced writes of the run ``lease`` holds; ``guard`` is told when one is refused. ``door``: how code on
    the event loop awaits them (``await writes.door(writes.mark, host, intent)``; :mod:`deploy.store.door`)."""

    def __init__(
        self,
        db: Database,
        lease: Lease,
        guard: LeaseGuard | None = None,
        door: StoreDoor | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self._db = db
        self._outbox = outbox  # the run's end is told to the sinks in the transaction that records it
        self.door = FencedDoor(self, door or db.door)
        self.lease = lease
        self.guard = guard
        self.run_id = lease.run_id

    def _refused(self) -> NoReturn:
        if self.guard is not None:
            self.guard.lose()
        raise LeaseLost(self.run_id)

    def _fenced(
        self,
        sql: str,
        params: Sequence[object],
        *,
        db: Executor | None = None,
        durable: bool = True,
        may_change_nothing: bool = False,
    ) -> Rows:
        """Run ``sql``, whose ``{fence}`` is the lease's condition and comes after every other parameter."""
        on = db or self._db
        rows = on.execute(
            sql.format(fence=leases.fence(on)), (*params, *self.lease.params), durable=durable
        )  # fmt: skip
        if rows.rowcount > 0 or (may_change_nothing and leases.holds(on, self.lease)):
            return rows
        self._refused()

    def holds(self) -> bool:
        return leases.holds(self._db, self.lease)

    def renew(self, ttl: float) -> bool:
        return leases.renew(self._db, self.run_id, self.lease.owner, ttl, self.lease.generation)

    # -- the run ledger (deploy.store.intents)
    # --------------------------------------------------------------------------

    def hosts(self, hosts: Sequence[str]) -> None:
        """Every host the run touches."""
        for host in hosts:
            self._fenced(
                "INSERT INTO run_hosts (run_id, host) SELECT ?, ? WHERE {fence} ON CONFLICT DO NOTHING",
                (self.run_id, host),
                may_change_nothing=True,
            )

    def switching(
        self, host: str, from_release: str | None, from_sha: str | None, to_release: str, to_sha: str
    ) -> None:
        """Write-ahead: ``host`` is about to switch from ``from_release`` to ``to_release``."""
        self._fenced(
            "INSERT INTO run_hosts (run_id, host, from_release, from_sha, to_release, to_sha, intent) "
            "SELECT ?, ?, ?, ?, ?, ?, ? WHERE {fence} ON CONFLICT (run_id, host) DO UPDATE SET "
            "from_release = excluded.from_release, from_sha = excluded.from_sha, to_release = excluded.to_release, "
            "to_sha = excluded.to_sha, intent = excluded.intent",
            (self.run_id, host, from_release, from_sha, to_release, to_sha, SWITCHING),
        )

    def mark(self, host: str, intent: str) -> None:
        self._fenced(
            "UPDATE run_hosts SET intent = ? WHERE run_id = ? AND host = ? AND {fence}",
            (intent, self.run_id, host),
            may_change_nothing=True,
        )

    def process_started(self, host: str, pgid: int) -> None:
        """A step's remote process group, while it runs (not durable: see :meth:`deploy.store.intents.Ledger`)."""
        self._fenced(
            "INSERT INTO run_processes (run_id, host, pgid) SELECT ?, ?, CAST(? AS INTEGER) WHERE {fence} "
            "ON CONFLICT DO NOTHING",
            (self.run_id, host, pgid),
            durable=False,
            may_change_nothing=True,
        )

    def process_ended(self, host: str, pgid: int) -> None:
        self._fenced(
            "DELETE FROM run_processes WHERE run_id = ? AND host = ? AND pgid = ? AND {fence}",
            (self.run_id, host, pgid),
            durable=False,
            may_change_nothing=True,
        )

    def forget_processes(self, host: str) -> None:
        self._fenced(
            "DELETE FROM run_processes WHERE run_id = ? AND host = ? AND {fence}",
            (self.run_id, host),
            may_change_nothing=True,
        )

    def wait(self, batch: int, release: str, sha: str) -> None:
        """The run waits for a person before ``batch``: its record says ``waiting`` until it goes on."""
        with self._db.transaction() as tx:
            self._fenced(  # since: when it began to wait, by the database's clock (a takeover counts from there)
                "INSERT INTO run_waits (run_id, batch, release, sha, since) "
                f"SELECT ?, CAST(? AS INTEGER), ?, ?, {tx.now} "
                "WHERE {fence} ON CONFLICT (run_id) DO UPDATE SET batch = excluded.batch, "
                "release = excluded.release, sha = excluded.sha, since = excluded.since",
                (self.run_id, batch, release, sha),
                db=tx,
            )
            tx.execute("UPDATE runs SET state = 'waiting' WHERE run_id = ? AND state = 'running'", (self.run_id,))

    def resumed(self) -> None:
        with self._db.transaction() as tx:
            self._fenced(
                "DELETE FROM run_waits WHERE run_id = ? AND {fence}", (self.run_id,), db=tx, may_change_nothing=True
            )
            tx.execute("UPDATE runs SET state = 'running' WHERE run_id = ? AND state = 'waiting'", (self.run_id,))

    # -- the run's record (deploy.store.tables)
    # -------------------------------------------------------------------------

    def step(
        self,
        host: str,
        step: str,
        ok: bool,
        exit_status: int | None,
        duration: float,
        output: str,
        error: str,
    ) -> None:
        self._fenced(
            "INSERT INTO host_steps (run_id, host, step, ok, exit_status, duration, output_tail, error, at) "
            "SELECT ?, ?, ?, CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS DOUBLE PRECISION), ?, ?, "
            "CAST(? AS DOUBLE PRECISION) WHERE {fence}",
            (self.run_id, host, step, int(ok), exit_status, duration, output, error, time.time()),
            durable=False,  # a step's result: history, not safety (see Database.execute)
        )

    def update(self, *, sha: str | None = None, release: str | None = None) -> None:
        """Fill in the run's sha and release once known (a rollback learns them from the hosts)."""
        if sha is not None:
            self._fenced("UPDATE runs SET sha = ? WHERE run_id = ? AND {fence}", (sha, self.run_id))
        if release is not None:
            self._fenced("UPDATE runs SET release = ? WHERE run_id = ? AND {fence}", (release, self.run_id))

    def take(self, request: ControlRequest) -> bool:
        """Take a control request for this run; False when someone else handled it first (act only on True)."""
        rows = self._fenced(
            f"UPDATE control_requests SET handled_at = {self._db.now} "  # noqa: S608 (the clock; values are bound)
            "WHERE id = ? AND run_id = ? AND handled_at IS NULL AND {fence}",
            (request.id, self.run_id),
            may_change_nothing=True,
        )
        return rows.rowcount == 1

    def give_up(self) -> bool:
        """Leave the run to be taken over at once (a repair that could not finish, a run handed over); False when
        this holding had already ended."""
        return leases.expire(self._db, self.lease)

    def finish(self, state: str, message: str, outcomes: Sequence[Outcome] = ()) -> None:
        """Record how the run ended and each host's outcome, free the environment's run slot and end the lease; all
        or nothing, and only while this holding lasts (the lease row is deleted first, which also locks it)."""
        with self._db.transaction() as tx:
            if not leases.end(tx, self.lease):
                self._refused()
            ended = tx.execute(
                "UPDATE runs SET state = ?, message = ?, finished_at = ? WHERE run_id = ? "
                "AND state IN ('running', 'waiting')",
                (state, message, time.time(), self.run_id),
            )
            if ended.rowcount == 1 and self._outbox is not None and state in RUN_TYPES:  # told in the same commit
                reverted = any(o[1] == "reverted" for o in outcomes) if state in ("failed", "cancelled") else None
                self._outbox.add_for_run(tx, self.run_id, RUN_TYPES[state], reverted=reverted)
            tx.execute("DELETE FROM active_runs WHERE run_id = ?", (self.run_id,))
            tx.executemany(
                "INSERT INTO host_outcomes (run_id, host, state, release, sha, failed_step, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, host) DO UPDATE SET state = excluded.state, "
                "release = excluded.release, sha = excluded.sha, failed_step = excluded.failed_step, "
                "error = excluded.error",
                [(self.run_id, *o) for o in outcomes],
            )
