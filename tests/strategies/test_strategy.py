"""The strategy objects' pure decisions: which hosts go in which batch, when a run stops, when it pauses."""

from __future__ import annotations

import pytest

from deploy.run.plan import DeployPlan, Host, HostPlan
from deploy.run.strategies import Strategy, for_deploy, for_rollback


def plan(strategy: str, names: tuple[str, ...] = ("a", "b", "c"), **keys: object) -> DeployPlan:
    hosts = tuple(HostPlan(Host(n, 22, "deploy", "/srv/app"), (), None, None) for n in names)
    return DeployPlan("app", "prod", "s" * 40, "r1", "U1", "upload", hosts, strategy=strategy, **keys)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("deploy_plan", "expected"),
    [
        (plan("all", batches=(("a",), ("b", "c"))), Strategy("all", (("a", "b", "c"),))),
        (
            plan("rolling", batches=(("a",), ("b", "c")), max_failures=1, pause=30.0),
            Strategy("rolling", (("a",), ("b", "c")), 1, 30.0, announce_batches=True, put_back_at_once=True),
        ),
        (
            plan("blue_green", batches=(("a", "b", "c"),), pause=True),
            Strategy("blue_green", (("a", "b", "c"),), 0, True, announce_batches=True, put_back_at_once=True),
        ),
    ],
)
def test_which_hosts_switch_when_in_a_deploy(deploy_plan: DeployPlan, expected: Strategy) -> None:
    assert expected == for_deploy(deploy_plan)


@pytest.mark.parametrize(
    ("rollback_plan", "expected"),
    [
        (plan("all"), Strategy("all", (("a", "b", "c"),))),
        (plan("rolling", batches=(("a",), ("b", "c")), max_failures=2), Strategy("rolling", (("a", "b", "c"),))),
        (
            plan("blue_green", batches=(("a",), ("b", "c")), pause=True),
            Strategy("blue_green", (("a", "b", "c"),), announce_batches=True, put_back_at_once=True),
        ),
    ],
)
def test_a_rollback_is_one_batch_of_every_host_with_no_budget(rollback_plan: DeployPlan, expected: Strategy) -> None:
    assert expected == for_rollback(rollback_plan)


@pytest.mark.parametrize(
    ("max_failures", "failures", "fatal", "aborted", "stop", "over"),
    [
        (None, 0, False, False, False, False),
        (None, 1, False, False, True, False),  # all: any failure stops, and there is no budget to go over
        (0, 1, False, False, True, True),
        (2, 2, False, False, False, False),  # within the budget the run goes on
        (2, 3, False, False, True, True),
        (2, 0, True, False, True, False),  # a failed migration stops whatever the budget
        (2, 3, True, False, True, False),
        (2, 0, False, True, True, False),  # an abort at a pause
    ],
)
def test_when_a_run_stops_on_its_failure_budget(
    max_failures: int | None, failures: int, fatal: bool, aborted: bool, stop: bool, over: bool
) -> None:
    strategy = Strategy("rolling", (), max_failures)
    assert (stop, over) == (strategy.must_stop(failures, fatal, aborted), strategy.over_budget(failures, fatal))


@pytest.mark.parametrize(
    ("pause", "index", "expected"),
    [(False, 2, False), (True, 1, False), (True, 2, True), (30.0, 3, True), (0.0, 2, False)],
)
def test_a_run_pauses_only_between_batches(pause: bool | float, index: int, expected: bool) -> None:
    assert expected == Strategy("rolling", (), 0, pause).pauses_before(index)
