"""The statuses of deployments GitHub's ``deployment`` event started are rows of the durable outbox: written with the
state change they report (a run's start and end in the transactions that record them), delivered in order per
deployment by whichever sender runs (the bot that wrote them may be gone), retried while GitHub answers 500, each
once. Against the GitHub receiver that checks requests against GitHub's published OpenAPI description."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from deploy.notify.forge_runs import DeploymentTarget, ForgeRuns
from deploy.store.tables import Store
from tests.support.databases import fresh_postgres
from tests.support.forges import GitHub
from tests.support.outbox_runs import deliver_all, route, run
from tests.support.receivers import Receiver

Receivers = Callable[..., Awaitable[Receiver]]
REFUSED = "GitHub user 'mallory' is not allowed to deploy: not in access.github_users"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None: the SQLite file of a data directory; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        with fresh_postgres() as url:
            yield url


def _target(number: int, environment: str = "staging") -> DeploymentTarget:
    return DeploymentTarget("github", "acme/shop", str(number), "shop", environment)


async def _deliver_all(store: Store, seconds: float = 30.0) -> None:
    await deliver_all(store, seconds, first_delay=0.2, longest=1.0)


async def test_statuses_written_before_a_kill_arrive_after_a_github_outage_once_each_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: Receivers, database_url: str | None
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test")
    github = GitHub("acme/shop", "ghp_test")
    for number in (9001, 9002, 9003):  # made on GitHub by someone else: shipbot only sets their statuses
        github.deployments[number], github.statuses[number] = {"id": number, "environment": "staging"}, []
    receiver = await receivers(handler=github, down_until=time.monotonic() + 3.0)
    target = {"repo": "acme/shop", "token_env": "GITHUB_TOKEN", "api_url": receiver.url, "production": False,
              "environment_url": "https://staging.shop.test"}  # fmt: skip
    data = tmp_path / "data"
    killed = Store.in_data_dir(
        data, database_url=database_url
    )  # the bot that takes the deployments, killed before sending anything
    route(killed, "github", target)
    runs = ForgeRuns(killed.db)
    assert runs.record("r1", _target(9001)) and runs.record("r2", _target(9002))
    assert killed.outbox.tell_deployment(_target(9001), "queued", "waiting in line (#1)", "r1")
    run(killed, "r1", "success", message="deployed to 1 host")  # in_progress and success, each with its run's write
    run(killed, "r2", "failed", message="healthcheck failed on h1; put back")
    assert killed.outbox.tell_deployment(_target(9003, "prodution"), "error", REFUSED)  # refused before any run
    assert not killed.outbox.tell_deployment(_target(9001), "in_progress", "late", "r1")  # past it: not written
    assert 6 == len(killed.outbox.listing())
    killed.close()

    live = Store.in_data_dir(data, database_url=database_url)  # another process, the same database
    route(live, "github", target)
    await _deliver_all(live)
    assert [] == github.problems
    assert {
        9001: [("queued", "waiting in line (#1)"), ("in_progress", "deploy r1 started"),
               ("success", "deployed to 1 host")],
        9002: [("in_progress", "deploy r2 started"), ("failure", "healthcheck failed on h1; put back")],
        9003: [("error", REFUSED)],
    } == {n: [(s["state"], s["description"]) for s in states] for n, states in github.statuses.items()}  # fmt: skip
    assert ["https://staging.shop.test"] * 2 == [s.get("environment_url") for s in github.statuses[9001][1:]]
    assert 500 in [r.status for r in receiver.requests]  # GitHub was down when the sender first tried
    assert [] == live.outbox.listing()  # every row delivered, none gave up
    live.close()
