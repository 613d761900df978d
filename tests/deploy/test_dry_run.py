"""Shaping a dry run from a plan and the hosts' live state, and its JSON (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy.config.models import parse_config
from deploy.delivery.promotion import PromotionBlock
from deploy.records import Commit, HostStatus, Shipment
from deploy.run.dry_run import as_json, live_sha, shape
from deploy.run.plan import plan_deploy

SHA, LIVE = "a" * 40, "b" * 40
SECRET = "hunter2-very-secret"


def _config(**pipeline: Any) -> Any:
    return parse_config(
        {
            "app": "shop",
            "repo": "git@github.com:acme/shop.git",
            "deploy_to": "/srv/shop",
            "secret_env": ["DB_PASSWORD"],
            "environments": {
                "production": {"hosts": [{"address": "10.0.0.1", "roles": ["migrate"]}, {"address": "10.0.0.2"}]}
            },
            "pipeline": {
                "build": ["make"],
                "migrate": {"run": "make migrate"},
                "restart": "sv restart shop",
                "healthcheck": {"run": "curl -fsS localhost/health"},
                **pipeline,
            },
        },
        "shop.yml",
    )


def _dry(config: Any, live: dict[str, HostStatus], block: PromotionBlock | None = None) -> Any:
    plan = plan_deploy(config, "production", SHA, "20260101120000", "U0ALICE", None, {"DB_PASSWORD": SECRET})
    ship = Shipment(LIVE, SHA, (Commit(SHA, "Ada", "new login"),), "https://github.com/acme/shop/compare/b...a")
    return shape(plan, "main", ship, block, live)


def test_each_host_gets_its_steps_the_release_and_the_one_it_replaces() -> None:
    live = {
        "10.0.0.1": HostStatus("10.0.0.1", True, "20251231000000", LIVE),
        "10.0.0.2": HostStatus("10.0.0.2", False, error="connection refused"),
    }
    dry = _dry(_config(), live)
    first, second = dry.hosts
    assert [s.name for s in first.steps] == ["upload", "build", "migrate", "switch", "restart", "healthcheck"]
    assert [s.name for s in second.steps] == ["upload", "build", "switch", "restart", "healthcheck"]
    assert (first.release, first.replaces, first.error) == ("20260101120000", "20251231000000", "")
    assert (second.replaces, second.error) == (None, "connection refused")
    assert "make migrate" in first.steps[2].command
    assert "releases/20260101120000" in first.steps[3].command


def test_json_has_exactly_the_documented_keys() -> None:
    block = PromotionBlock("production", "staging", SHA)
    out = as_json(_dry(_config(), {}, block), "production only takes commits that passed staging")
    assert list(out) == ["environment", "ref", "sha", "live_sha", "commits", "refused", "hosts"]
    assert (out["environment"], out["ref"], out["sha"], out["live_sha"]) == ("production", "main", SHA, LIVE)
    assert out["commits"] == [{"sha": SHA, "author": "Ada", "subject": "new login"}]
    assert out["refused"] == "production only takes commits that passed staging"
    assert [list(h) for h in out["hosts"]] == [["address", "release", "replaces", "steps"]] * 2
    assert all(list(s) == ["name", "command"] for h in out["hosts"] for s in h["steps"])
    json.dumps(out)


@pytest.mark.parametrize("where", ["build", "restart", "healthcheck"])
def test_a_secret_value_never_shows_in_a_printed_command(where: str) -> None:
    command = f"echo {SECRET}"
    keys: dict[str, Any] = {"build": [command]} if where == "build" else {where: command}
    if where == "healthcheck":
        keys = {"healthcheck": {"run": command}}
    text = json.dumps(as_json(_dry(_config(**keys), {}), None))
    assert SECRET not in text
    assert "[redacted]" in text


@pytest.mark.parametrize(
    ("hosts", "recorded", "expected"),
    [
        ({"a": HostStatus("a", True, "r1", LIVE), "b": HostStatus("b", True, "r1", LIVE)}, None, LIVE),
        ({"a": HostStatus("a", True, "r1", LIVE), "b": HostStatus("b", False)}, SHA, LIVE),
        ({"a": HostStatus("a", True, "r1", LIVE), "b": HostStatus("b", True, "r2", SHA)}, "c" * 40, "c" * 40),
        ({"a": HostStatus("a", True)}, None, None),
        ({}, SHA, SHA),
    ],
)
def test_live_is_what_the_hosts_agree_on_else_the_record(
    hosts: dict[str, HostStatus], recorded: str | None, expected: str | None
) -> None:
    assert live_sha(hosts, recorded) == expected
