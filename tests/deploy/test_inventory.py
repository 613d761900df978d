"""Tables for the pure rules of discovery and convergence: SRV answers and addresses -> hosts, inventory JSON
parsing, merging sources with their roles united, behind/consistent, and the release a rollback would go to."""

from __future__ import annotations

import pytest

from deploy.config.models import HostConfig, parse_config
from deploy.errors import DiscoveryError
from deploy.fleet.drift import HostView, Live, behind, consistent, live_release, previous_release
from deploy.fleet.inventory import Found, SrvAnswer, merge, parse_inventory, source_name, srv_hosts
from deploy.hosts.journal import Entry, rollback_target
from deploy.records import RunRecord

SRC = "dns_srv:_web._tcp.example.internal"


@pytest.mark.parametrize(
    ("answers", "addresses", "expected"),
    [
        ([], {}, []),
        ([SrvAnswer(10, 5, 2222, "a.example.internal.")], {"a.example.internal": ["10.0.0.5"]},
         [("10.0.0.5", 2222, "a.example.internal")]),
        # lower priority first, then higher weight; a target with two addresses uses the lowest
        ([SrvAnswer(20, 0, 22, "b.x"), SrvAnswer(10, 1, 22, "a.x"), SrvAnswer(10, 9, 2200, "c.x")],
         {"a.x": ["10.0.0.1"], "b.x": ["10.0.0.9", "10.0.0.2"], "c.x": ["10.0.0.3"]},
         [("10.0.0.3", 2200, "c.x"), ("10.0.0.1", 22, "a.x"), ("10.0.0.2", 22, "b.x")]),
        # "." means no service there (RFC 2782)
        ([SrvAnswer(0, 0, 0, ".")], {}, []),
    ],
)  # fmt: skip
def test_srv_answers_become_hosts_at_their_targets_address_and_port(
    answers: list[SrvAnswer], addresses: dict[str, list[str]], expected: list[tuple[str, int, str]]
) -> None:
    found = srv_hosts(SRC, ["web"], answers, addresses)
    assert [(f.host.address, f.host.port, f.alias) for f in found] == expected
    assert all(f.host.roles == ["web"] and f.sources == (SRC,) for f in found)


def test_an_srv_target_without_an_address_names_the_source_and_the_target() -> None:
    with pytest.raises(DiscoveryError, match=rf"^{SRC}: the SRV answer points at ghost.x, which has no address"):
        srv_hosts(SRC, [], [SrvAnswer(0, 0, 22, "ghost.x.")], {"ghost.x": []})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", []),
        ('[{"address": "10.0.0.5", "roles": ["web"], "port": 22}]', [("10.0.0.5", 22, ["web"], None)]),
        ('[{"address": "db1", "user": "app"}]', [("db1", None, [], "app")]),
    ],
)
def test_inventory_json_is_read_like_hosts_entries(text: str, expected: list[tuple[object, ...]]) -> None:
    found = parse_inventory(text, "command:./inv")
    assert [(f.host.address, f.host.port, f.host.roles, f.host.user) for f in found] == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "its output is not JSON"),
        ("hosts: a, b", "its output is not JSON"),
        ('{"address": "a"}', "its output is JSON but not a list"),
        ('["10.0.0.5"]', "entry [0] is not an object"),
        ('[{"address": "a"}, {"roles": ["web"]}]', "entry [1]: address: Field required"),
        ('[{"address": "a", "port": 70000}]', "entry [0]: port: Input should be less than or equal to 65535"),
        ('[{"address": "a; rm -rf /"}]', "entry [0]: address: 'a; rm -rf /' is not a host name or IP address"),
        ('[{"address": "a", "colour": "blue"}]', "entry [0]: colour: unknown key"),
    ],
)
def test_inventory_output_that_is_not_the_json_list_is_one_message_naming_the_command(text: str, problem: str) -> None:
    with pytest.raises(DiscoveryError) as err:
        parse_inventory(text, "command:./inv")
    assert str(err.value).startswith(f"command:./inv: {problem}")
    assert 'print a JSON list like [{"address": "10.0.0.5"' in str(err.value)


def _found(address: str, port: int | None, roles: list[str], source: str, alias: str | None = None) -> Found:
    return Found(HostConfig(address=address, port=port, roles=roles), (source,), alias)


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([[]], []),
        # the same host from a static entry (default port) and from SRV (port 22): one host, roles united
        ([[_found("10.0.0.1", None, ["web", "migrate"], "static")], [_found("10.0.0.1", 22, ["web", "api"], SRC, "a.x")]],
         [("10.0.0.1", ["web", "migrate", "api"], ("static", SRC), "a.x")]),
        # another port is another host
        ([[_found("10.0.0.1", 22, ["web"], SRC)], [_found("10.0.0.1", 2222, ["db"], "command:./inv")]],
         [("10.0.0.1", ["web"], (SRC,), None), ("10.0.0.1", ["db"], ("command:./inv",), None)]),
        ([[_found("b", 22, ["web"], SRC), _found("a", 22, [], SRC)], [_found("b", 22, ["web"], "command:./inv")]],
         [("b", ["web"], (SRC, "command:./inv"), None), ("a", [], (SRC,), None)]),
    ],
)  # fmt: skip
def test_hosts_found_by_several_sources_are_one_host_with_the_union_of_their_roles(
    groups: list[list[Found]], expected: list[tuple[object, ...]]
) -> None:
    merged = merge(groups, 22)
    assert [(f.host.address, f.host.roles, f.sources, f.alias) for f in merged] == expected


def test_sources_are_named_by_kind_and_what_they_ask() -> None:
    config = parse_config({
        "app": "shop", "repo": "r", "deploy_to": "/srv/shop",
        "environments": {"staging": {"discover": [
            {"dns_srv": "_web._tcp.example.internal.", "roles": ["web"]}, {"command": "./inventory.sh --env staging"},
        ]}},
    })  # fmt: skip
    names = [source_name(s) for s in config.environments["staging"].discover]
    assert names == ["dns_srv:_web._tcp.example.internal", "command:./inventory.sh --env staging"]


LIVE = Live("20261129120000", "b" * 40)


@pytest.mark.parametrize(
    ("hosts", "live", "behind_names", "is_consistent"),
    [
        # no live release known: today's rule (every host reachable and on one SHA)
        ([HostView("a", True, "a" * 40), HostView("b", True, "a" * 40)], None, [], True),
        ([HostView("a", True, "a" * 40), HostView("b", True, None)], None, [], False),
        # with one: a host without a release, or on another SHA, is behind
        ([HostView("a", True, "b" * 40), HostView("b", True, None)], LIVE, ["b"], False),
        ([HostView("a", True, "a" * 40), HostView("b", True, "a" * 40)], LIVE, ["a", "b"], False),
        ([HostView("a", True, "b" * 40), HostView("b", True, "b" * 40)], LIVE, [], True),
        # unreachable is not known to be behind, but not consistent either
        ([HostView("a", True, "b" * 40), HostView("b", False, None)], LIVE, [], False),
    ],
)
def test_behind_and_consistent(
    hosts: list[HostView], live: Live | None, behind_names: list[str], is_consistent: bool
) -> None:
    assert behind(hosts, live) == behind_names
    assert consistent(hosts, live) is is_consistent


def _run(kind: str, release: str, at: float, state: str = "success") -> RunRecord:
    return RunRecord(f"r{at:g}", kind, "shop", "staging", "U0A", "main", release * 4, release, state, at)


@pytest.mark.parametrize(
    ("runs", "live", "previous"),
    [
        ([], None, None),
        ([_run("deploy", "r1", 1)], "r1", None),
        ([_run("deploy", "r1", 1), _run("deploy", "r2", 2)], "r2", "r1"),
        # a failed deploy and a task are not releases
        ([_run("deploy", "r1", 1), _run("deploy", "r2", 2), _run("deploy", "r3", 3, "failed"),
          _run("task", "", 4)], "r2", "r1"),
        # rolled back from r3 to r2: r3 is never a target again, r1 is
        ([_run("deploy", "r1", 1), _run("deploy", "r2", 2), _run("deploy", "r3", 3), _run("rollback", "r2", 4)],
         "r2", "r1"),
        # a converge is no new release
        ([_run("deploy", "r1", 1), _run("deploy", "r2", 2), _run("converge", "r2", 3)], "r2", "r1"),
    ],
)  # fmt: skip
def test_the_live_release_and_the_one_a_rollback_would_go_to(
    runs: list[RunRecord], live: str | None, previous: str | None
) -> None:
    last = max((r for r in runs if r.state == "success" and r.kind in ("deploy", "rollback")),
               key=lambda r: r.started_at, default=None)  # fmt: skip
    found = live_release(last)
    assert (found.release if found else None) == live
    prev = previous_release(reversed(runs))
    assert (prev.release if prev else None) == previous


def test_a_release_converge_prepared_is_a_rollback_target_like_a_successful_deploy() -> None:
    def entry(release: str, outcome: str) -> Entry:
        return Entry("t", "deploy", "r", "U", release * 4, release, None, outcome)

    entries = [entry("r1", "prepared"), entry("r2", "success")]
    target = rollback_target(entries, "r2", {"r1", "r2"})
    assert target is not None and target.release == "r1"
    assert rollback_target([entry("r1", "failed"), entry("r2", "success")], "r2", {"r1", "r2"}) is None
