"""deploy.records: run durations, and what status reports as consistent and as JSON."""

from __future__ import annotations

import pytest

from deploy.records import EnvironmentStatus, HostStatus, RunRecord

SHA1 = "1" * 40
SHA2 = "2" * 40


def up(address: str, sha: str | None = SHA1, release: str | None = "20261123090000") -> HostStatus:
    return HostStatus(address, True, release, sha)


def down(address: str) -> HostStatus:
    return HostStatus(address, False, error="connection refused")


@pytest.mark.parametrize(
    ("hosts", "consistent"),
    [
        pytest.param((up("web1"), up("web2")), True, id="all-on-one-sha"),
        pytest.param((up("web1"),), True, id="single-host"),
        pytest.param((up("web1"), up("web2", release="20261122090000")), True, id="same-sha-other-release-id"),
        pytest.param((up("web1"), up("web2", SHA2)), False, id="two-shas"),
        pytest.param((up("web1"), down("web2")), False, id="one-unreachable"),
        pytest.param((up("web1"), up("web2", None, None)), False, id="one-never-deployed"),
        pytest.param((up("web1", None, None), up("web2", None, None)), False, id="none-deployed"),
        pytest.param((), False, id="no-hosts"),
    ],
)
def test_an_environment_is_consistent_only_when_every_host_answers_with_the_same_sha(
    hosts: tuple[HostStatus, ...], consistent: bool
) -> None:
    assert consistent == EnvironmentStatus("shop", "production", hosts).consistent


STATIC = {"source": "static", "behind": False}


def test_status_json_has_exactly_the_documented_keys() -> None:
    status = EnvironmentStatus(
        "shop", "production", (up("web1"), down("web2"), up("web3:2222", None, None)), active_run=None, lock=None
    )
    expected = {
        "environment": "production",
        "consistent": False,
        "hosts": [
            {"address": "web1", "name": "web1", "release": "20261123090000", "sha": SHA1, "reachable": True, **STATIC},
            {"address": "web2", "name": "web2", "release": None, "sha": None, "reachable": False, **STATIC},
            {"address": "web3:2222", "name": "web3:2222", "release": None, "sha": None, "reachable": True, **STATIC},
        ],
    }
    actual = status.as_json()
    assert expected == actual
    hosts = actual["hosts"]
    assert isinstance(hosts, list)
    assert (
        ["environment", "consistent", "hosts"],
        [["address", "name", "release", "sha", "reachable", "source", "behind"]] * 3,
    ) == (
        list(actual),
        [list(h) for h in hosts],
    )


@pytest.mark.parametrize(
    ("state", "finished_at", "running", "duration"),
    [
        pytest.param("running", None, True, None, id="running"),
        pytest.param("success", 1090.5, False, 90.5, id="finished"),
        pytest.param("interrupted", 1000.0, False, 0.0, id="instant"),
    ],
)
def test_a_run_knows_whether_it_is_running_and_how_long_it_took(
    state: str, finished_at: float | None, running: bool, duration: float | None
) -> None:
    run = RunRecord("r1", "deploy", "shop", "production", "U0ALICE", "main", SHA1, "r", state, 1000.0, finished_at)
    assert (running, duration) == (run.running, run.duration)
