"""The messages a run ends with (pure)."""

from __future__ import annotations

import pytest

from deploy import summary
from deploy.run.hostrun import HostRun
from deploy.run.plan import Host


def failed(name: str, step: str = "build", error: str = "exit status 1") -> HostRun:
    return HostRun(Host(name, 22, "deploy", "/srv/app"), failed_step=step, error=error)


HOSTS = [failed(f"h{i}") for i in range(7)]


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (HOSTS[:1], "h0: build failed: exit status 1"),
        (HOSTS[:3], "h0: build failed: exit status 1 (and 2 more hosts)"),
    ],
)
def test_the_first_failure_and_how_many_more(hosts: list[HostRun], expected: str) -> None:
    assert expected == summary.first_failure(hosts)


def test_a_failure_list_names_five_hosts_then_counts() -> None:
    assert "; ".join(f"h{i}: build failed: exit status 1" for i in range(5)) + "; and 2 more" == summary.failure_list(
        HOSTS
    )


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"cancelled": True, "aborted": "", "over_budget": None}, "cancelled; the switched host went back"),
        (
            {"cancelled": False, "aborted": "aborted at the pause", "over_budget": None},
            "aborted at the pause; the switched host went back",
        ),
        (
            {"cancelled": False, "aborted": "", "over_budget": None},
            "h0: build failed: exit status 1 (and 1 more host)",
        ),
        (
            {"cancelled": False, "aborted": "", "over_budget": 1},
            "2 hosts failed, more than max_failures: 1 allows, so the run stopped and every switched host was put "
            "back: h0: build failed: exit status 1; h1: build failed: exit status 1",
        ),
    ],
)
def test_an_undone_deploy_says_why_and_where_the_fleet_is(keys: dict[str, object], expected: str) -> None:
    assert expected + "; prod is still on its previous release" == summary.deploy_undone(
        "prod",
        HOSTS[:2],
        [],
        1,
        **keys,  # type: ignore[arg-type]
    )


def test_hosts_that_could_not_be_switched_back_are_named() -> None:
    assert "failed; 2 hosts could not be switched back: h0, h1" == summary.deploy_undone(
        "prod", [], HOSTS[:2], 0, cancelled=False, aborted="", over_budget=None
    )


def test_a_deploy_within_its_budget_names_the_hosts_put_back() -> None:
    runs = [HostRun(Host("ok", 22, "deploy", "/srv/app")), *HOSTS[:1]]
    assert (
        "app 0123456789ab is live on 1 of 2 hosts of prod; 1 host failed and was put back on the previous "
        "release (max_failures: 1): h0: build failed: exit status 1"
        == summary.deploy_success("app", "0123456789abcdef", "prod", runs, HOSTS[:1], 1)
    )
    assert "app 0123456789ab is live on all 2 hosts of prod" == summary.deploy_success(
        "app", "0123456789abcdef", "prod", runs, [], 0
    )


@pytest.mark.parametrize(
    ("hosts", "cancelled", "expected"),
    [
        ([], False, "task migrate succeeded on all 7 hosts"),
        ([], True, "task migrate cancelled"),
        (HOSTS[:2], False, "task migrate failed on 2 of 7 hosts: h0: exit status 1; h1: exit status 1"),
    ],
)
def test_a_task_result(hosts: list[HostRun], cancelled: bool, expected: str) -> None:
    assert expected == summary.task_result("migrate", HOSTS, hosts, cancelled)
