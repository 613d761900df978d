"""A shop app with staging, canary (queue, force) and production (approval, queue), driven through ChatService
with in-memory fakes of the ports but a real SQLite store for the requests that wait (approvals, the queue);
:data:`FROZEN` is the same with production frozen and U0BOB allowed to force. Two worlds given the same ``waiting``
(and ``engine``) are one shipbot before and after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

from commands.ports import GroupResolver, WaitingStore
from commands.runs import RunRequest
from commands.usecases import ChatService
from deploy.records import Commit
from deploy.waiting import WaitingRequests
from tests.commands.fakes import REFS, Clock, FakeEngine, FakeGroups, FakeReporter, FakeStore, RunIds
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
        self.waiting = waiting or WaitingRequests.open()
        self.store = FakeStore(self.clock)
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
        for _ in range(5):
            await asyncio.sleep(0)


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
