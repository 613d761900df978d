"""Rolling deploys through real sshd hosts: batches, the whole-run failure budget, pauses, a host going down."""

from __future__ import annotations

import os

import pytest

from deploy.errors import UsageError
from deploy.events import BatchGate, BatchPaused, BatchResumed, BatchStarted, Event, HostState, HostStepStarted, Outcome
from tests.engine.conftest import PIPELINE
from tests.strategies.conftest import RollingFactory
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import SshdFleet

pytestmark = pytest.mark.sshd

# hosts with a FAIL_HEALTH file in their deploy_to fail the health check
FLAKY = {**PIPELINE, "healthcheck": {"run": "test ! -e ../../FAIL_HEALTH && ./health.sh", "retries": 1}}


def current_of(fleet: SshdFleet, i: int) -> str | None:
    link = fleet.hosts[i].local_deploy_to / "current"
    return os.readlink(link) if link.is_symlink() else None


def name(fleet: SshdFleet, i: int) -> str:
    return f"{fleet.hosts[i].address}:{fleet.hosts[i].port}"


def restarts(fleet: SshdFleet, i: int) -> list[str]:
    log = fleet.hosts[i].local_deploy_to / "restarts.log"
    return log.read_text().split("\n")[:-1] if log.exists() else []


def switched_hosts(events: list[Event]) -> set[str]:
    return {e.host for e in events if isinstance(e, HostStepStarted) and e.step == "switch"}


async def test_a_failing_canary_is_the_only_host_switched_and_it_is_switched_back(
    rolling_engine: RollingFactory, app_repo: GitRepo
) -> None:
    engine, fleet = await rolling_engine(hosts=3, batches=[1, "100%"])
    good = await engine.deploy("staging", "main", user="U0ALICE")
    events: list[Event] = []

    result = await engine.deploy("staging", "broken-health", user="U0ALICE", sink=events.append)

    assert Outcome.FAILED == result.outcome
    assert {name(fleet, 0)} == switched_hosts(events), "only the canary was ever switched"
    assert f"{name(fleet, 0)}: healthcheck failed" in result.message
    assert [f"releases/{good.hosts[0].release}"] * 3 == [current_of(fleet, i) for i in range(3)]
    assert [HostState.REVERTED, HostState.UNTOUCHED, HostState.UNTOUCHED] == [h.state for h in result.hosts]
    assert [1, 1] == [len(restarts(fleet, i)) for i in (1, 2)], "the other hosts were never restarted"
    assert [BatchStarted(result.run_id, 1, 2, (name(fleet, 0),))] == [e for e in events if isinstance(e, BatchStarted)]


async def test_the_budget_spent_in_the_second_batch_puts_back_every_switched_host(
    rolling_engine: RollingFactory,
) -> None:
    engine, fleet = await rolling_engine(hosts=4, pipeline=FLAKY, batches=[1, 3, "100%"])
    good = await engine.deploy("staging", "main", user="U0ALICE")
    (fleet.hosts[2].local_deploy_to / "FAIL_HEALTH").touch()
    events: list[Event] = []

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE", sink=events.append)

    assert Outcome.FAILED == result.outcome
    assert "1 host failed, more than max_failures: 0 allows" in result.message
    assert f"{name(fleet, 2)}: healthcheck failed" in result.message
    assert {name(fleet, i) for i in range(3)} == switched_hosts(events), "batch 3 never started"
    assert [2] == [e.index for e in events if isinstance(e, BatchStarted)][-1:]
    assert [f"releases/{good.hosts[0].release}"] * 4 == [current_of(fleet, i) for i in range(4)]
    assert [HostState.REVERTED] * 3 + [HostState.UNTOUCHED] == [h.state for h in result.hosts]
    for i in range(3):
        assert restarts(fleet, i)[-1].startswith(str(good.hosts[0].release)), "the old release was restarted"


async def test_max_failures_tolerates_one_bad_host_and_reports_it(
    rolling_engine: RollingFactory, app_repo: GitRepo
) -> None:
    engine, fleet = await rolling_engine(hosts=3, pipeline=FLAKY, batches=[1, "100%"], max_failures=1)
    good = await engine.deploy("staging", "main", user="U0ALICE")
    (fleet.hosts[1].local_deploy_to / "FAIL_HEALTH").touch()

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE")

    new = app_repo.sha("feature/new-login")
    assert Outcome.SUCCESS == result.outcome
    assert "is live on 2 of 3 hosts" in result.message
    assert "1 host failed and was put back on the previous release" in result.message
    assert f"{name(fleet, 1)}: healthcheck failed" in result.message
    assert [name(fleet, 1)] == [h.host for h in result.failed_hosts]
    assert [new, app_repo.sha("main"), new] == [h.sha for h in result.hosts]
    assert f"releases/{good.hosts[0].release}" == current_of(fleet, 1)
    assert [str(good.hosts[0].release)] == sorted(
        p.name for p in (fleet.hosts[1].local_deploy_to / "releases").iterdir()
    )


async def test_a_paused_run_waits_for_the_gate_and_continues(rolling_engine: RollingFactory, app_repo: GitRepo) -> None:
    engine, fleet = await rolling_engine(hosts=3, batches=[1, "100%"], pause=True)
    events: list[Event] = []
    seen: list[BatchGate] = []

    async def gate(g: BatchGate) -> bool:
        seen.append(g)
        assert [current_of(fleet, i) is not None for i in range(3)] == [True, False, False], "paused after the canary"
        return True

    result = await engine.deploy("staging", "main", user="U0ALICE", sink=events.append, gate=gate)

    assert Outcome.SUCCESS == result.outcome
    assert [(2, 2, (name(fleet, 0),), (name(fleet, 1), name(fleet, 2)), None)] == [
        (g.batch, g.total, g.hosts_done, g.hosts_next, g.wait) for g in seen
    ]
    assert [BatchPaused(result.run_id, seen[0])] == [e for e in events if isinstance(e, BatchPaused)]
    assert [True] == [e.continued for e in events if isinstance(e, BatchResumed)]
    assert {app_repo.sha("main")} == {h.sha for h in (await engine.status("staging")).hosts}


async def test_an_aborted_pause_switches_the_canary_back(rolling_engine: RollingFactory) -> None:
    engine, fleet = await rolling_engine(hosts=2, batches=[1, "100%"], pause=True)
    good = await engine.deploy("staging", "main", user="U0ALICE", gate=lambda g: _answer(True))

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE", gate=lambda g: _answer(False))

    assert Outcome.CANCELLED == result.outcome
    assert result.message.startswith(
        "aborted at the pause before batch 2/2 (a person chose Abort); the switched host went back"
    )
    assert [f"releases/{good.hosts[0].release}"] * 2 == [current_of(fleet, i) for i in range(2)]
    assert [HostState.REVERTED, HostState.UNTOUCHED] == [h.state for h in result.hosts]
    assert "cancelled" == (await engine.history("staging"))[0].state


async def _answer(value: bool) -> bool:
    return value


async def test_pause_true_without_a_gate_is_refused_before_anything_runs(rolling_engine: RollingFactory) -> None:
    engine, fleet = await rolling_engine(hosts=2, pause=True)

    with pytest.raises(UsageError, match="pauses between batches for a person"):
        await engine.deploy("staging", "main", user="U0ALICE")
    assert [] == await engine.history("staging")
    assert not (fleet.hosts[0].local_deploy_to / "releases").exists()


async def test_a_timed_pause_waits_and_goes_on(rolling_engine: RollingFactory) -> None:
    engine, _ = await rolling_engine(hosts=2, pause="0.3s")
    events: list[Event] = []

    result = await engine.deploy("staging", "main", user="U0ALICE", sink=events.append)

    assert Outcome.SUCCESS == result.outcome
    assert [0.3] == [e.gate.wait for e in events if isinstance(e, BatchPaused)]


async def test_a_host_dying_between_batches_counts_against_the_budget(rolling_engine: RollingFactory) -> None:
    engine, fleet = await rolling_engine(hosts=3, batches=[1, "100%"], pause=True)
    good = await engine.deploy("staging", "main", user="U0ALICE", gate=lambda g: _answer(True))

    async def kill_host_2(g: BatchGate) -> bool:
        fleet.stop_host(2)
        return True

    result = await engine.deploy("staging", "feature/new-login", user="U0ALICE", gate=kill_host_2)

    assert Outcome.FAILED == result.outcome
    assert f"{name(fleet, 2)}: switch failed: connection lost" in result.message
    assert [f"releases/{good.hosts[0].release}"] * 3 == [current_of(fleet, i) for i in range(3)]
    assert [HostState.REVERTED, HostState.REVERTED] == [h.state for h in result.hosts[:2]]
