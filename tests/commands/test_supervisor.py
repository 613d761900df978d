"""The run supervisor owns every task: start, cancel by id or environment, drain, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from commands.supervisor import RunSupervisor


async def _wait_forever(log: list[str], name: str) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        log.append(f"{name} reverted")
        raise


async def test_cancel_by_id_and_by_environment() -> None:
    supervisor = RunSupervisor()
    log: list[str] = []
    supervisor.start("r1", "shop/staging", _wait_forever(log, "r1"))
    supervisor.start("r2", "shop/production", _wait_forever(log, "r2"))
    supervisor.start("r3", "shop/production", _wait_forever(log, "r3"))
    await asyncio.sleep(0)
    assert [r.run_id for r in supervisor.active()] == ["r1", "r2", "r3"]
    assert supervisor.cancel("r1") == ("r1",)
    assert supervisor.cancel(environment="shop/production") == ("r2", "r3")
    await supervisor.drain()
    assert (log, supervisor.active()) == (["r1 reverted", "r2 reverted", "r3 reverted"], ())


async def test_a_failure_is_kept_not_lost() -> None:
    supervisor = RunSupervisor()

    async def boom() -> None:
        raise RuntimeError("boom")

    supervisor.start("r1", "e", boom())
    await supervisor.drain()
    assert repr(supervisor.failures["r1"]) == repr(RuntimeError("boom"))


async def test_shutdown_without_cancel_lets_runs_finish_then_refuses_new_ones() -> None:
    supervisor = RunSupervisor()
    done: list[str] = []

    async def short() -> None:
        await asyncio.sleep(0.01)
        done.append("r1")

    supervisor.start("r1", "e", short())
    await supervisor.shutdown(cancel=False)
    assert done == ["r1"]
    coroutine = short()
    with pytest.raises(RuntimeError, match="shut down"):
        supervisor.start("r2", "e", coroutine)


async def test_a_run_id_is_started_once() -> None:
    supervisor = RunSupervisor()
    log: list[str] = []
    supervisor.start("r1", "e", _wait_forever(log, "r1"))
    with pytest.raises(ValueError, match="already running"):
        supervisor.start("r1", "e", _wait_forever(log, "again"))
    await supervisor.shutdown(cancel=True)
    assert log == ["r1 reverted"]
