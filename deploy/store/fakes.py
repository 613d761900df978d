"""The in-memory fake of the store's ports (:mod:`deploy.store.ports`) for unit tests of the use cases.

Each class keeps its rows in a dict and answers as the real port does, without a database: a waiting request moves
only from the state the caller read (compare and set), a commit is claimed once, a parked push is replaced only by
one that arrived later and taken once, an inbox key is received once. Time is the ``clock`` given (a callable
returning seconds), so a test can move it. Nothing here is shared between processes: tests of a restart, of two
replicas or of the SQL itself use the real ports over ``Database("sqlite://")``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from deploy.errors import EnvironmentLocked
from deploy.ids import utc_minute
from deploy.records import LockRecord
from deploy.store.push_table import ParkedPush
from deploy.store.waiting import AWAITING, FINAL, KEEP_FINAL, QUEUED, WaitingRow

Clock = Callable[[], float]


class InMemoryLocks:
    """People's locks by (app, environment), and the audit trail (``audit``: actor, action, environment, detail)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self.locks: dict[tuple[str, str], LockRecord] = {}
        self.audit: list[tuple[str, str, str, str]] = []

    def _held(self, app: str, environment: str) -> LockRecord | None:
        held = self.locks.get((app, environment))
        if held is not None and held.expired(self._clock()):
            del self.locks[app, environment]
            return None
        return held

    async def lock(
        self, app: str, environment: str, owner: str, reason: str, expires_at: float | None = None
    ) -> LockRecord:
        held = self._held(app, environment)
        if held is not None and held.owner != owner:
            raise EnvironmentLocked(environment, held.owner, held.reason, utc_minute(held.since))
        since = held.since if held is not None else self._clock()
        self.locks[app, environment] = LockRecord(environment, owner, reason, since, expires_at)
        return self.locks[app, environment]

    async def unlock(self, app: str, environment: str, by: str, force: bool = False) -> LockRecord | None:
        held = self._held(app, environment)
        if held is None:
            return None
        if held.owner != by and not force:
            raise EnvironmentLocked(environment, held.owner, held.reason, utc_minute(held.since))
        del self.locks[app, environment]
        if held.owner != by:
            detail = json.dumps({"owner": held.owner, "reason": held.reason})
            self.audit.append((by, "force-unlock", environment, detail))
        return held

    async def get_lock(self, app: str, environment: str) -> LockRecord | None:
        return self._held(app, environment)

    async def record_audit(self, actor: str, action: str, environment: str, detail: str) -> None:
        self.audit.append((actor, action, environment, detail))


class InMemoryWaiting:
    """Requests that wait, moved by compare and set, in line order (``seq``) per (app, environment)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self.rows: dict[str, WaitingRow] = {}
        self._updated: dict[str, float] = {}

    def _seq(self, app: str, environment: str, front: bool) -> int:
        seqs = [r.seq for r in self.rows.values() if (r.app, r.environment) == (app, environment)]
        return (min(seqs, default=0) - 1) if front else (max(seqs, default=0) + 1)

    def _touch(self, row: WaitingRow) -> None:
        self.rows[row.run_id] = row
        self._updated[row.run_id] = self._clock()

    async def add(
        self, run_id: str, app: str, environment: str, state: str, payload: str, *,
        expires_at: float | None = None, front: bool = False, event: Mapping[str, Any] | None = None,
    ) -> None:  # fmt: skip
        if run_id in self.rows:
            raise ValueError(f"a waiting request {run_id} exists already")
        seq = self._seq(app, environment, front)
        self._touch(WaitingRow(run_id, app, environment, state, seq, payload, expires_at))

    async def move(
        self, run_id: str, before: str, after: str, *, by: str = "", front: bool = False,
        event: Mapping[str, Any] | None = None,
    ) -> bool:  # fmt: skip
        row = self.rows.get(run_id)
        if row is None or row.state != before:
            return False
        moved = dataclasses.replace(row, state=after)
        if after == QUEUED:
            moved = dataclasses.replace(moved, seq=self._seq(row.app, row.environment, front))
        elif before == AWAITING:
            moved = dataclasses.replace(moved, decided_by=by, decided_at=self._clock())
        self._touch(moved)
        return True

    async def get(self, run_id: str) -> WaitingRow | None:
        return self.rows.get(run_id)

    async def in_state(self, state: str, app: str | None = None, environment: str | None = None) -> list[WaitingRow]:
        rows = [
            r
            for r in self.rows.values()
            if r.state == state and app in (None, r.app) and environment in (None, r.environment)
        ]
        return sorted(rows, key=lambda r: (r.seq, self._updated[r.run_id], r.run_id))

    async def due(self, now: float) -> list[WaitingRow]:
        rows = [r for r in self.rows.values() if r.state == AWAITING and r.expires_at is not None]
        return sorted((r for r in rows if (r.expires_at or 0.0) <= now), key=lambda r: r.expires_at or 0.0)

    async def places(self, state: str = QUEUED) -> list[tuple[str, str]]:
        return sorted({(r.app, r.environment) for r in self.rows.values() if r.state == state})

    async def set_message(self, run_id: str, channel: str, ts: str) -> None:
        row = self.rows.get(run_id)
        if row is not None:
            self.rows[run_id] = dataclasses.replace(row, channel=channel, ts=ts)

    async def prune(self, keep: float = KEEP_FINAL) -> int:
        old = [k for k, r in self.rows.items() if r.state in FINAL and self._updated[k] < self._clock() - keep]
        for run_id in old:
            del self.rows[run_id], self._updated[run_id]
        return len(old)


class InMemoryPushes:
    """The one auto-deploy of each commit (``claims``: run id and arrival by (app, environment, sha)) and the
    newest push parked per (app, environment)."""

    def __init__(self) -> None:
        self.claims: dict[tuple[str, str, str], tuple[str, float]] = {}
        self.parked_pushes: dict[tuple[str, str], ParkedPush] = {}

    async def claim(self, app: str, environment: str, sha: str, run_id: str, at: float) -> bool:
        if (app, environment, sha) in self.claims:
            return False
        self.claims[app, environment, sha] = (run_id, at)
        return True

    async def newest_claim(self, app: str, environment: str) -> float | None:
        return max((at for (a, e, _), (_, at) in self.claims.items() if (a, e) == (app, environment)), default=None)

    async def claimed(self, app: str, environment: str, sha: str) -> str | None:
        claim = self.claims.get((app, environment, sha))
        return claim[0] if claim is not None else None

    async def unclaim(self, app: str, environment: str, sha: str, run_id: str) -> None:
        claim = self.claims.get((app, environment, sha))
        if claim is not None and claim[0] == run_id:
            del self.claims[app, environment, sha]

    async def park(
        self, app: str, environment: str, state: str, sha: str, ref: str, pusher: str, since: float
    ) -> ParkedPush | None:
        before = self.parked_pushes.get((app, environment))
        if before is None or before.since <= since:
            self.parked_pushes[app, environment] = ParkedPush(app, environment, state, sha, ref, pusher, since)
        return before

    async def parked(self, app: str, environment: str) -> ParkedPush | None:
        return self.parked_pushes.get((app, environment))

    async def all_parked(self) -> list[ParkedPush]:
        return sorted(self.parked_pushes.values(), key=lambda p: p.since)

    async def take(self, parked: ParkedPush) -> bool:
        now = self.parked_pushes.get((parked.app, parked.environment))
        if now is None or (now.sha, now.state) != (parked.sha, parked.state):
            return False
        del self.parked_pushes[parked.app, parked.environment]
        return True


class InMemoryInbox:
    """What was received (``entries``: kind and payload by key), received once per key; ``answered_keys``: the
    keys marked answered."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str]] = {}
        self.answered_keys: set[str] = set()

    async def receive(self, key: str, kind: str, payload: str) -> bool:
        if key in self.entries:
            return False
        self.entries[key] = (kind, payload)
        return True

    async def answered(self, key: str) -> None:
        if key in self.entries:
            self.answered_keys.add(key)

    def unanswered(self) -> list[str]:
        """Keys received and not answered yet, oldest first."""
        return [k for k in self.entries if k not in self.answered_keys]
