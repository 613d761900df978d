"""Leases between processes: two controllers racing for one environment, a controller stopped past its lease
that must not act once it wakes, and ``shipbot recover`` refusing to touch a run whose owner is alive."""

from __future__ import annotations

import signal
import time

import pytest

from tests.durable.conftest import TTL, World, leftovers, wait_for

pytestmark = pytest.mark.sshd


def journals(world: World) -> list[str]:
    return [(world.disk(i) / ".shipbot" / "journal.jsonl").read_text() for i in range(3)]


def test_two_processes_racing_for_one_environment_one_runs_and_the_other_is_told_busy(
    world: World, baseline: None
) -> None:
    started = world.slow(0, "BUILD")  # the winner holds the environment until it is stopped: the two always overlap
    racers = [world.start("deploy", "staging", "feature/new-login") for _ in range(2)]
    try:
        wait_for(started.exists, what="the winner's build")
        wait_for(lambda: any(p.poll() is not None for p in racers), what="the loser's answer")
        loser = next(p for p in racers if p.poll() is not None)
        errors = loser.communicate(timeout=60)[1]
        assert 3 == loser.returncode, errors
        assert "busy" in errors or "running" in errors
        assert all(p.poll() is None for p in racers if p is not loser), "the winner is still deploying"
    finally:
        world.calm()
        for proc in racers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # the winner cancels its deploy: the fleet stays on the baseline
            proc.communicate(timeout=60)
    back = world.shipbot("deploy", "staging", "main")  # the next test starts from the baseline's SHA
    assert 0 == back.returncode, back.stderr


def test_recover_leaves_a_run_whose_owner_is_alive_and_exits_3(world: World, baseline: None) -> None:
    started = world.slow(2, "BUILD")
    proc = world.start("deploy", "staging", "feature/new-login")
    try:
        wait_for(started.exists, what="the slow build")
        busy = world.shipbot("recover", "staging")
        assert 3 == busy.returncode, busy.stdout + busy.stderr
        assert "still running" in busy.stdout
    finally:
        world.calm()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_a_controller_stopped_past_its_lease_does_nothing_once_it_wakes(world: World, baseline: None) -> None:
    live = world.one_release_everywhere()
    before = [len(world.releases(i)) for i in range(3)]
    started = world.slow(2, "BUILD")
    proc = world.start("deploy", "staging", "feature/new-login")
    try:
        wait_for(started.exists, what="the slow build")
        wait_for(
            lambda: [len(world.releases(i)) for i in range(3)] == [n + 1 for n in before], what="every host preparing"
        )
        proc.send_signal(signal.SIGSTOP)
        time.sleep(TTL * 1.5)
        world.calm()
        recovered = world.shipbot("recover", "staging")
        assert 0 == recovered.returncode, recovered.stdout + recovered.stderr
        assert "interrupted, repaired" in recovered.stdout
        after_repair = (journals(world), [world.releases(i) for i in range(3)], world.one_release_everywhere())
    finally:
        proc.send_signal(signal.SIGCONT)
    _out, err = proc.communicate(timeout=60)

    assert 1 == proc.returncode, err
    assert "lost its lease" in err
    assert after_repair == (journals(world), [world.releases(i) for i in range(3)], live), "the stale owner acted"
    assert [] == leftovers()
    store = world.store()
    try:
        assert "interrupted" == store.list_runs("shop", "staging", 1)[0].state
    finally:
        store.close()
