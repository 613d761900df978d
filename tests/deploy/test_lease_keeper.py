"""A run's lease is kept by a thread while the event loop lives, however slowly it turns, and by nobody once the
loop is wedged (SQLite and PostgreSQL).

A controller driving a thousand SSH sessions on two CPUs turned its event loop once every several seconds; a
renewal driven from the loop needs three turns, so the renewals came a lease lifetime apart and the live
controller lost its run. These tests turn a loop just as slowly (every turn blocked for 30% of a lease) and check
what the owner and another store see."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial

import pytest

from deploy.records import RunRecord
from deploy.store.database import Database
from deploy.store.leases import LeaseGuard
from deploy.store.tables import Store

TTL = 1.0
TURN = 0.3 * TTL  # a turn of the slow loop (the 1,000-host controller's: 6 s of a 30 s lease at worst, 0.2)


def run(run_id: str) -> RunRecord:
    return RunRecord(run_id, "deploy", "shop", "staging", "U0ALICE", "main", "0" * 40, "r1rel", "running", time.time())


async def slow_loop(seconds: float, turn: float) -> None:
    """Turn the event loop slowly for ``seconds``: every turn is blocked for ``turn`` seconds (as a loop full of
    sessions that all became ready at once)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(turn)
        await asyncio.sleep(0)


@pytest.fixture
def owner_and_other(databases: Callable[[], Database]) -> tuple[Store, Store]:
    return Store(databases(), lease_ttl=TTL), Store(databases(), lease_ttl=TTL)


async def test_a_slowly_turning_loop_keeps_its_lease(owner_and_other: tuple[Store, Store]) -> None:
    owner, other = owner_and_other
    lease = owner.start_run(run("r1"), "deploy main")
    lost: list[str] = []
    guard = owner.lease_guard(lease, lambda: lost.append("lost"))
    heartbeat = asyncio.create_task(guard.heartbeat())
    try:
        await slow_loop(4 * TTL, TURN)
        taken = other.take_over("r1") is not None
        valid = await guard.valid()
    finally:
        heartbeat.cancel()
    assert (lost, taken, valid) == ([], False, True)


async def test_a_loop_turning_every_half_lease_loses_a_lease_renewed_from_the_loop(
    owner_and_other: tuple[Store, Store],
) -> None:
    """What the keeper thread is for: renewed from the loop (three or four turns a renewal), a lease runs out
    under its live owner once the loop turns every half lease."""
    owner, other = owner_and_other
    lease = owner.start_run(run("r2"), "deploy main")
    lost: list[str] = []
    guard = LeaseGuard(partial(owner.door.urgent, owner.renew_lease, lease), TTL, lease, lambda: lost.append("lost"))
    heartbeat = asyncio.create_task(guard.heartbeat())
    try:
        await slow_loop(4 * TTL, TTL / 2)
        await asyncio.sleep(TTL / 2)
    finally:
        heartbeat.cancel()
    assert (lost, other.take_over("r2") is not None) == (["lost"], True)


async def test_a_wedged_loop_loses_its_lease_to_another_store(owner_and_other: tuple[Store, Store]) -> None:
    owner, other = owner_and_other
    lease = owner.start_run(run("r3"), "deploy main")
    lost: list[str] = []
    guard = owner.lease_guard(lease, lambda: lost.append("lost"))
    heartbeat = asyncio.create_task(guard.heartbeat())
    try:
        await asyncio.sleep(TTL / 2)
        time.sleep(2.5 * TTL)  # the loop wedged (a blocking call on it): its keeper thread stops renewing
        taken = other.take_over("r3") is not None
        await asyncio.sleep(TTL / 2)
        valid = await guard.valid()
    finally:
        heartbeat.cancel()
    assert (taken, valid, guard.lost) == (True, False, True)


async def test_hosts_asking_at_once_share_one_renewal(owner_and_other: tuple[Store, Store]) -> None:
    owner, _ = owner_and_other
    lease = owner.start_run(run("r4"), "deploy main")
    asked: list[float] = []

    async def renew() -> bool:
        asked.append(time.monotonic())
        return await owner.door.urgent(owner.renew_lease, lease)

    guard = LeaseGuard(renew, TTL, lease)
    answers = await asyncio.gather(*(guard.renew_now() for _ in range(1000)))
    statements = len(asked)
    again = await guard.renew_now()
    assert (set(answers), statements, again, len(asked)) == ({True}, 1, True, 2)
