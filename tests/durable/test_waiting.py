"""A rolling deploy whose controller dies while it waits for a person between batches is taken over and keeps
waiting; the new owner's Abort puts the canary back (and Continue would run the remaining batches)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
import yaml

from cli.engines import build_engine
from deploy.config.models import load_config
from deploy.events import Outcome
from tests.durable.conftest import SHIPBOT, TTL, World, wait_for

pytestmark = pytest.mark.sshd


async def test_a_run_waiting_for_a_person_is_taken_over_and_its_abort_puts_the_canary_back(
    world: World, baseline: None
) -> None:
    live = world.one_release_everywhere()
    config = yaml.safe_load((world.cwd / "shipbot.yml").read_text())
    config["environments"]["staging"].update({"strategy": "rolling", "batches": [1, "100%"], "pause": True})
    (world.cwd / "rolling.yml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen(
        [SHIPBOT, "deploy", "staging", "feature/new-login", "--config", "rolling.yml"],
        cwd=world.cwd, env=world.env(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    store = world.store(TTL)
    try:
        wait_for(lambda: store.list_runs("shop", "staging", 1)[0].state == "waiting", what="the pause")
        assert [True, False, False] == [world.current(i) != live for i in range(3)], "the canary went live"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        time.sleep(TTL)

        engine = build_engine(load_config(str(world.cwd / "rolling.yml")), store, world.cwd / "data")
        reports = await engine.recover("staging")
        run_id = reports[0].run.run_id
        assert [True] == [r.waiting for r in reports]
        assert ("waiting", store.owner) == (store.get_run(run_id).state, store.lease_holder(run_id))  # type: ignore[union-attr]

        aborted = await engine.resume(run_id, False)
    finally:
        store.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert Outcome.CANCELLED == aborted.outcome
    assert "a person chose Abort" in aborted.message
    assert live == world.one_release_everywhere()
