"""A shop app with staging, canary (queue, force) and production (approval, queue), driven through ChatService
with in-memory fakes of the ports; the requests that wait (approvals, the queue) in the in-memory fake or, handed
:func:`stored`, in a real SQLite store behind its door. :data:`FROZEN` is the same with production frozen and U0BOB
allowed to force. Two worlds given the same ``waiting`` (and ``engine``) are one shipbot before and after a
restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from commands.ports import GroupResolver
from commands.runs import RunRequest
from commands.usecases import ChatService
from deploy.records import Commit
from deploy.store.door import Door
from deploy.store.fakes import InMemoryLocks, InMemoryWaiting
from deploy.store.ports import Waiting, WaitingStore
from deploy.store.tables import Store
from tests.commands.fakes import REFS, Clock, FakeEngine, FakeGroups, FakeReporter, RunIds
from tests.commands.helpers import config

ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"]},
    "environments": {
        "staging": {"deploy": ["*"], "lock": ["*"]},
        "canary": {"deploy": ["*"], "queue": True, "force": ["U0BOB"]},
        "production": {
            "deploy": ["@deployers"],
            "rollback": ["@deployers", "@sre"],
            "approve": ["@sre"],
            "lock": ["@sre"],
            "approval": "required",
            "queue": True,
        },
    },
}
NOW = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC, a Thursday
MAIN = REFS["main"]
COMMITS = (Commit(MAIN, "U0ALICE", "Add the new login"), Commit("e" * 40, "U0BOB", "Fix the cart"))


FROZEN: dict[str, Any] = {
    **ACCESS,
    "environments": {
        **ACCESS["environments"],
        "production": {**ACCESS["environments"]["production"], "force": ["U0BOB"]},
    },
    "freeze": [{"environments": ["production"], "from": "2026-05-28", "to": "2026-05-29", "reason": "launch week"}],
}
FROZEN_UNTIL = "until Sat 2026-05-30 00:00 UTC"


class World:
    def __init__(
        self,
        access: dict[str, Any] = ACCESS,
        waiting: WaitingStore | None = None,
        engine: FakeEngine | None = None,
        groups: GroupResolver | None = None,
    ) -> None:
        self.clock = engine.clock if engine is not None else Clock(NOW)
        self.engine = engine or FakeEngine(
            config(environments=("staging", "canary", "production"), access=access), self.clock
        )
        self.waiting = waiting or InMemoryWaiting(self.clock)
        self.store = InMemoryLocks(self.clock)
        self.groups = FakeGroups({"sre": frozenset({"U0CAROL"})})
        self.reporter = FakeReporter()
        self.service = ChatService(
            {"shop": self.engine},
            {"shop": self.store},
            groups or self.groups,
            self.reporter,
            waiting=self.waiting,
            clock=self.clock,
            run_ids=RunIds(),
            bot_user_id="U0SHIPBOT",
        )

    async def settle(self) -> None:
        """Let every task go as far as it can: the loop spun, and no statement out on a store thread."""
        door = self.waiting.door if isinstance(self.waiting, Stored) else None
        while True:
            for _ in range(5):
                await asyncio.sleep(0)
            if door is None or door.busy == 0:
                return
            await asyncio.sleep(0.001)


P = ParamSpec("P")
T = TypeVar("T")


class CountingDoor:
    """The store's door, counting the calls out on its threads (so :meth:`World.settle` knows when all are back)."""

    def __init__(self, door: Door) -> None:
        self._door = door
        self.busy = 0

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        self.busy += 1
        try:
            return await self._door(fn, *args, **kwargs)
        finally:
            self.busy -= 1


class Stored(Waiting):
    """The real waiting port over a SQLite store, through a :class:`CountingDoor`."""

    def __init__(self, store: Store) -> None:
        self.door = CountingDoor(store.door)
        super().__init__(store.waiting, self.door)


def stored(data_dir: Path) -> Stored:
    """The real waiting port over the SQLite store in ``data_dir``, on a connection of its own (one process)."""
    return Stored(Store.in_data_dir(data_dir))


def run(run_id: str, user: str, env: str, **kw: Any) -> RunRequest:
    fields: dict[str, Any] = {
        "kind": "deploy",
        "app": "shop",
        "channel": "C0DEPLOYS",
        "requested_at": NOW,
        "ref": "main",
        "sha": MAIN,
    }
    fields.update(kw)
    return RunRequest(run_id=run_id, user=user, environment=env, **fields)
