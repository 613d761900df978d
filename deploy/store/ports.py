"""The store's ports: what the use cases, the bot and the webhook server ask of the store, awaited.

Each port is an async Protocol; its real implementation here awaits the synchronous table module through the
store's door (:mod:`deploy.store.door`), so no statement runs on the event loop. The composition root builds them
from a :class:`~deploy.store.tables.Store` (:func:`ports_of`); unit tests use the in-memory fakes of
:mod:`deploy.store.fakes` or the real ones over ``Database("sqlite://")``.

- :class:`LockStore`: people's locks, keyed by (app, environment) like the run slot, and the audit trail.
- :class:`WaitingStore`: requests that wait (approvals, the queue), moved by compare-and-set
  (:mod:`deploy.store.waiting`).
- :class:`PushLedger`: what pushes left (the one auto-deploy of a commit, pushes parked behind a run or a freeze).
- :class:`FreezeLog`: the freeze windows' beginnings and ends told to the sinks, once each.
- :class:`InboxPort`: what Slack or a forge sent, written down before it is acknowledged (:mod:`deploy.store.inbox`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from deploy.notify.freeze_marks import FreezeMarks
from deploy.records import LockRecord
from deploy.store.door import Door
from deploy.store.inbox import Entry, Inbox
from deploy.store.intents import Ledger
from deploy.store.push_table import ParkedPush
from deploy.store.push_table import PushTable as PushRows
from deploy.store.tables import Store
from deploy.store.waiting import KEEP_FINAL, QUEUED, WaitingRequests, WaitingRow


class LockStore(Protocol):
    async def lock(
        self, app: str, environment: str, owner: str, reason: str, expires_at: float | None = None
    ) -> LockRecord: ...
    async def unlock(self, app: str, environment: str, by: str, force: bool = False) -> LockRecord | None: ...
    async def get_lock(self, app: str, environment: str) -> LockRecord | None: ...
    async def record_audit(self, actor: str, action: str, environment: str, detail: str) -> None: ...


class WaitingStore(Protocol):
    """``event``: the fields of the ``approval.requested`` (on add) or ``approval.decided`` (on a move out of
    ``awaiting``) the sinks are told in the same transaction (:mod:`deploy.store.waiting`)."""

    async def add(
        self, run_id: str, app: str, environment: str, state: str, payload: str, *,
        expires_at: float | None = None, front: bool = False, event: Mapping[str, Any] | None = None,
    ) -> None: ...  # fmt: skip
    async def move(
        self, run_id: str, before: str, after: str, *, by: str = "", front: bool = False,
        event: Mapping[str, Any] | None = None,
    ) -> bool: ...  # fmt: skip
    async def get(self, run_id: str) -> WaitingRow | None: ...
    async def in_state(
        self, state: str, app: str | None = None, environment: str | None = None
    ) -> list[WaitingRow]: ...
    async def due(self, now: float) -> list[WaitingRow]: ...
    async def places(self, state: str = ...) -> list[tuple[str, str]]: ...
    async def set_message(self, run_id: str, channel: str, ts: str) -> None: ...
    async def prune(self, keep: float = ...) -> int: ...


class PushLedger(Protocol):
    async def claim(self, app: str, environment: str, sha: str, run_id: str, at: float) -> bool: ...
    async def newest_claim(self, app: str, environment: str) -> float | None: ...
    async def claimed(self, app: str, environment: str, sha: str) -> str | None: ...
    async def unclaim(self, app: str, environment: str, sha: str, run_id: str) -> None: ...
    async def park(
        self, app: str, environment: str, state: str, sha: str, ref: str, pusher: str, since: float
    ) -> ParkedPush | None: ...
    async def parked(self, app: str, environment: str) -> ParkedPush | None: ...
    async def all_parked(self) -> list[ParkedPush]: ...
    async def take(self, parked: ParkedPush) -> bool: ...


class FreezeLog(Protocol):
    """The freeze windows' transitions told to the sinks (:mod:`deploy.notify.freeze_marks`), each once."""

    async def open(self, app: str, environment: str) -> list[tuple[float, str]]: ...
    async def record(
        self, app: str, environment: str, event: str, window_start: float, reason: str,
        fields: Mapping[str, Any] | None = None,
    ) -> bool: ...  # fmt: skip


class InboxPort(Protocol):
    """Written down before it is answered, once per key, and marked answered once decided."""

    async def receive(self, key: str, kind: str, payload: str) -> bool: ...
    async def answered(self, key: str) -> None: ...


class Locks:
    """:class:`LockStore` over the store's locks and audit table."""

    def __init__(self, store: Store) -> None:
        self._store, self._door = store, store.door

    async def lock(
        self, app: str, environment: str, owner: str, reason: str, expires_at: float | None = None
    ) -> LockRecord:
        return await self._door(self._store.lock, app, environment, owner, reason, expires_at)

    async def unlock(self, app: str, environment: str, by: str, force: bool = False) -> LockRecord | None:
        return await self._door(self._store.unlock, app, environment, by, force)

    async def get_lock(self, app: str, environment: str) -> LockRecord | None:
        return await self._door(self._store.get_lock, app, environment)

    async def record_audit(self, actor: str, action: str, environment: str, detail: str) -> None:
        await self._door(self._store.record_audit, actor, action, environment, detail)


class Waiting:
    """:class:`WaitingStore` over :class:`deploy.store.waiting.WaitingRequests`."""

    def __init__(self, rows: WaitingRequests, door: Door) -> None:
        self._rows, self._door = rows, door

    async def add(
        self, run_id: str, app: str, environment: str, state: str, payload: str, *,
        expires_at: float | None = None, front: bool = False, event: Mapping[str, Any] | None = None,
    ) -> None:  # fmt: skip
        await self._door(
            self._rows.add, run_id, app, environment, state, payload, expires_at=expires_at, front=front, event=event
        )

    async def move(
        self, run_id: str, before: str, after: str, *, by: str = "", front: bool = False,
        event: Mapping[str, Any] | None = None,
    ) -> bool:  # fmt: skip
        return await self._door(self._rows.move, run_id, before, after, by=by, front=front, event=event)

    async def get(self, run_id: str) -> WaitingRow | None:
        return await self._door(self._rows.get, run_id)

    async def in_state(self, state: str, app: str | None = None, environment: str | None = None) -> list[WaitingRow]:
        return await self._door(self._rows.in_state, state, app, environment)

    async def due(self, now: float) -> list[WaitingRow]:
        return await self._door(self._rows.due, now)

    async def places(self, state: str = QUEUED) -> list[tuple[str, str]]:
        return await self._door(self._rows.places, state)

    async def set_message(self, run_id: str, channel: str, ts: str) -> None:
        await self._door(self._rows.set_message, run_id, channel, ts)

    async def prune(self, keep: float = KEEP_FINAL) -> int:
        return await self._door(self._rows.prune, keep)


class Pushes:
    """:class:`PushLedger` over :class:`deploy.store.push_table.PushTable`'s rows."""

    def __init__(self, rows: PushRows, door: Door) -> None:
        self._rows, self._door = rows, door

    async def claim(self, app: str, environment: str, sha: str, run_id: str, at: float) -> bool:
        return await self._door(self._rows.claim, app, environment, sha, run_id, at)

    async def newest_claim(self, app: str, environment: str) -> float | None:
        return await self._door(self._rows.newest_claim, app, environment)

    async def claimed(self, app: str, environment: str, sha: str) -> str | None:
        return await self._door(self._rows.claimed, app, environment, sha)

    async def unclaim(self, app: str, environment: str, sha: str, run_id: str) -> None:
        await self._door(self._rows.unclaim, app, environment, sha, run_id)

    async def park(
        self, app: str, environment: str, state: str, sha: str, ref: str, pusher: str, since: float
    ) -> ParkedPush | None:
        return await self._door(self._rows.park, app, environment, state, sha, ref, pusher, since)

    async def parked(self, app: str, environment: str) -> ParkedPush | None:
        return await self._door(self._rows.parked, app, environment)

    async def all_parked(self) -> list[ParkedPush]:
        return await self._door(self._rows.all_parked)

    async def take(self, parked: ParkedPush) -> bool:
        return await self._door(self._rows.take, parked)


class Freezes:
    """:class:`FreezeLog` over :class:`deploy.notify.freeze_marks.FreezeMarks`."""

    def __init__(self, marks: FreezeMarks, door: Door) -> None:
        self._marks, self._door = marks, door

    async def open(self, app: str, environment: str) -> list[tuple[float, str]]:
        return await self._door(self._marks.open, app, environment)

    async def record(
        self, app: str, environment: str, event: str, window_start: float, reason: str,
        fields: Mapping[str, Any] | None = None,
    ) -> bool:  # fmt: skip
        return await self._door(self._marks.record, app, environment, event, window_start, reason, fields)


class Inboxed:
    """:class:`InboxPort` over :class:`deploy.store.inbox.Inbox`, with the bot's side (renewing what it holds, taking
    over what a dead replica left, pruning)."""

    def __init__(self, inbox: Inbox, door: Door) -> None:
        self._inbox, self._door = inbox, door

    async def receive(self, key: str, kind: str, payload: str) -> bool:
        return await self._door(self._inbox.receive, key, kind, payload)

    async def answered(self, key: str) -> None:
        await self._door(self._inbox.answered, key)

    async def renew(self) -> int:
        return await self._door(self._inbox.renew)

    async def take_over(self, kinds: Sequence[str], limit: int = 20) -> list[Entry]:
        return await self._door(self._inbox.take_over, kinds, limit)

    async def prune(self, kinds: Sequence[str], keep: float) -> int:
        return await self._door(self._inbox.prune, kinds, keep)


class Places:
    """Where each run's message is (the run ledger's places), for the bot."""

    def __init__(self, ledger: Ledger, door: Door) -> None:
        self._ledger, self._door = ledger, door

    async def remember_place(self, run_id: str, channel: str, message: str, permalink: str | None = None) -> None:
        await self._door(self._ledger.remember_place, run_id, channel, message, permalink)

    async def place_of(self, run_id: str) -> tuple[str, str] | None:
        return await self._door(self._ledger.place_of, run_id)


@dataclass(frozen=True)
class StorePorts:
    """Every port of one store, as the composition root hands them out."""

    locks: Locks
    waiting: Waiting
    pushes: Pushes
    inbox: Inboxed
    places: Places
    freezes: Freezes


def ports_of(store: Store) -> StorePorts:
    door = store.door
    return StorePorts(
        Locks(store), Waiting(store.waiting, door), Pushes(store.pushes, door), Inboxed(store.inbox, door),
        Places(store.ledger, door), Freezes(store.freezes, door),
    )  # fmt: skip


# rooms: begin (written by tools/rooms.py)
from deploy.store.clock import StoreClock
from deploy.store.control_requests import CONTINUE, ControlRequest
from deploy.store.database import UnsupportedDatabase, masked, normalise_url
from deploy.store.door import StoreDoor
from deploy.store.inbox import KEEP_PUSHES, Entry
from deploy.store.push_table import HELD, PENDING, RECEIVED, ParkedPush
from deploy.store.tables import Store
from deploy.store.waiting import APPROVED, AWAITING, CANCELLED, DROPPED, EXPIRED, QUEUED, REJECTED, STARTED, WaitingRow

__all__ = [
    "APPROVED",
    "AWAITING",
    "CANCELLED",
    "CONTINUE",
    "DROPPED",
    "EXPIRED",
    "HELD",
    "KEEP_PUSHES",
    "PENDING",
    "QUEUED",
    "RECEIVED",
    "REJECTED",
    "STARTED",
    "ControlRequest",
    "Entry",
    "ParkedPush",
    "Store",
    "StoreClock",
    "StoreDoor",
    "UnsupportedDatabase",
    "WaitingRow",
    "masked",
    "normalise_url",
]
# rooms: end
