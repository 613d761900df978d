"""Waiting for one coroutine per host: nobody is left behind, whichever of them ends first or however."""

from __future__ import annotations

import asyncio

import pytest

from deploy.run.fanout import every


async def test_a_cancelled_wait_lets_every_host_finish_its_clean_up_first() -> None:
    cleaned: list[str] = []

    async def quick() -> None:  # cancelled before it had anything to undo: ends at once
        await asyncio.sleep(10)

    async def slow_to_clean() -> None:  # cancelled mid-step: must kill what it started on its host first
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.sleep(0.2))
            cleaned.append("killed")
            raise

    task = asyncio.create_task(every([quick(), slow_to_clean()]))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert ["killed"] == cleaned, "the wait ended only after the slow host had cleaned up"


async def test_a_failure_is_raised_once_every_other_host_has_finished() -> None:
    finished: list[str] = []

    async def fails() -> None:
        raise RuntimeError("boom")

    async def works() -> str:
        await asyncio.sleep(0.1)
        finished.append("works")
        return "ok"

    with pytest.raises(RuntimeError, match="boom"):
        await every([fails(), works()])
    assert ["works"] == finished


async def test_results_come_back_in_order() -> None:
    async def value(n: int) -> int:
        await asyncio.sleep(0.01 * (3 - n))
        return n

    assert [0, 1, 2] == await every(value(n) for n in range(3))
    assert [] == await every([])
