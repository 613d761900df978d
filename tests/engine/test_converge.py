"""``converge`` on static hosts (real sshd hosts, real git): a deploy that went to some hosts only leaves the others
behind; converge brings them to the same release id, and a rollback afterwards agrees on every host."""

from __future__ import annotations

import os

import pytest

from deploy.errors import UsageError
from deploy.events import Outcome
from tests.engine.conftest import EngineFactory
from tests.support.sshd_fleet import SshdFleet

pytestmark = pytest.mark.sshd


def current_of(fleet: SshdFleet, i: int) -> str | None:
    link = fleet.hosts[i].local_deploy_to / "current"
    return os.readlink(link) if link.is_symlink() else None


def name(fleet: SshdFleet, i: int) -> str:
    return f"{fleet.hosts[i].address}:{fleet.hosts[i].port}"


async def test_hosts_a_filtered_deploy_left_behind_are_converged_and_a_rollback_agrees_everywhere(
    make_engine: EngineFactory,
) -> None:
    engine, fleet = await make_engine(hosts=2)
    with pytest.raises(UsageError, match="no deploy or rollback there has succeeded yet"):
        await engine.converge("staging", user="U0BOB")
    first = await engine.deploy("staging", "main", user="U0ALICE")
    second = await engine.deploy("staging", "feature/new-login", user="U0ALICE", hosts_filter=name(fleet, 1))
    assert (first.outcome, second.outcome) == (Outcome.SUCCESS, Outcome.SUCCESS)
    old, new = first.hosts[0].release, second.hosts[0].release

    status = await engine.status("staging")
    assert [(h.address, h.behind) for h in status.hosts] == [(name(fleet, 0), True), (name(fleet, 1), False)]
    assert not status.consistent

    result = await engine.converge("staging", user="U0BOB")
    assert result.outcome is Outcome.SUCCESS, result.message
    assert [(h.host, h.release) for h in result.hosts] == [(name(fleet, 0), new)]
    assert [current_of(fleet, i) for i in range(2)] == [f"releases/{new}"] * 2
    assert (await engine.status("staging")).consistent

    back = await engine.rollback("staging", user="U0BOB")
    assert back.outcome is Outcome.SUCCESS, back.message
    assert [current_of(fleet, i) for i in range(2)] == [f"releases/{old}"] * 2
