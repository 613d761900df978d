"""Locks through the service: someone else's lock refuses, unlock by owner, others and admins, expiry."""

from __future__ import annotations

from commands.replies import Locked, NotLocked, Refusal, RunAccepted, Unlocked
from deploy.records import LockRecord
from tests.commands.usecases.world import NOW, World


async def test_a_lock_by_someone_else_refuses_with_who_why_and_since(world: World) -> None:
    locked = await world.service.handle("lock staging for demo at 3pm", "U0ALICE", "C0DEPLOYS")
    assert locked == Locked("shop", LockRecord("staging", "U0ALICE", "demo at 3pm", NOW))
    refused = await world.service.handle("deploy main to staging", "U0EVE", "C0DEPLOYS")
    assert refused == Refusal(
        "staging is locked by U0ALICE since 2026-05-28 20:26 UTC: demo at 3pm",
        "Ask U0ALICE to `unlock staging`; an admin can `unlock staging --force` (recorded).",
    )
    own = await world.service.handle("deploy main to staging", "U0ALICE", "C0DEPLOYS")
    assert isinstance(own, RunAccepted)
    await world.service.supervisor.drain()


async def test_unlock_by_owner_by_others_and_by_an_admin_with_force(world: World) -> None:
    await world.service.handle("lock staging for demo", "U0ALICE", "C0DEPLOYS")
    eve = await world.service.handle("unlock staging --force", "U0EVE", "C0DEPLOYS")
    assert eve == Refusal(
        "staging is locked by U0ALICE since 2026-05-28 20:26 UTC: demo; only they or an admin can unlock it",
        "Ask U0ALICE or an admin.",
    )
    admin = await world.service.handle("unlock staging --force", "U0ADMIN", "C0DEPLOYS")
    assert admin == Unlocked("shop", LockRecord("staging", "U0ALICE", "demo", NOW), forced=True)
    assert world.store.audit[-2:] == [
        ("U0ADMIN", "unlock --force", "staging", "demo"),
        ("U0ADMIN", "override unlock", "staging", "unlocked U0ALICE's lock (demo)"),
    ]
    assert await world.service.handle("unlock staging", "U0ALICE", "C0DEPLOYS") == NotLocked("shop", "staging")


async def test_an_expired_lock_counts_as_none(world: World) -> None:
    world.store.locks["shop", "staging"] = LockRecord("staging", "U0ALICE", "lunch", NOW - 3600, expires_at=NOW - 1)
    assert isinstance(await world.service.handle("deploy main to staging", "U0EVE", "C0X"), RunAccepted)
    await world.service.supervisor.drain()
