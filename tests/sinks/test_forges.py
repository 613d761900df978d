"""GitHub and GitLab deployments, against local receivers that check every request against GitHub's published
OpenAPI description and GitLab's API docs (``tests/fixtures``): a run becomes one deployment with its statuses in
order; a retry after a lost answer finds the deployment it made instead of making a second one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from deploy.store.tables import Store
from sinks.sender import Sender
from tests.support.forges import GitHub, GitLab
from tests.support.outbox_runs import SHA, deliver_all, route, run
from tests.support.receivers import Receiver

Receivers = Callable[..., Awaitable[Receiver]]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test")
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-test")
    return Store.in_data_dir(tmp_path / "data")


async def _deliver_all(store: Store, seconds: float = 20.0) -> None:
    await deliver_all(store, seconds, first_delay=0.1, longest=0.2)


def _github_route(store: Store, receiver: Receiver, **extra: object) -> None:
    route(store, "github", {"repo": "acme/shop", "token_env": "GITHUB_TOKEN", "api_url": receiver.url,
                            "production": False, "environment_url": "https://staging.shop.test", **extra})  # fmt: skip


async def test_github_gets_a_deployment_per_run_and_its_statuses_in_order(store: Store, receivers: Receivers) -> None:
    github = GitHub("acme/shop", "ghp_test")
    receiver = await receivers(handler=github)
    _github_route(store, receiver, production=True)
    run(store, "r1", "success")
    run(store, "r2", "failed", message="healthcheck failed on h1; put back")
    await _deliver_all(store)
    assert [] == github.problems
    assert [(1, SHA, "staging", False, [], True, "r1"), (2, SHA, "staging", False, [], True, "r2")] == [
        (
            d["id"],
            d["ref"],
            d["environment"],
            d["request"]["auto_merge"],
            d["request"]["required_contexts"],
            d["production_environment"],
            d["payload"]["shipbot_run_id"],
        )
        for d in github.deployments.values()
    ]
    assert {1: ["queued", "in_progress", "success"], 2: ["queued", "in_progress", "failure"]} == {
        n: [s["state"] for s in states] for n, states in github.statuses.items()
    }
    assert {"https://staging.shop.test"} == {s["environment_url"] for s in github.statuses[1]}
    assert "healthcheck failed on h1; put back" == github.statuses[2][-1]["description"]
    assert ("1", True) == (
        store.outbox.deployment_of("github", "acme/shop", "r1"),
        store.outbox.created_here("github", "acme/shop", "1"),
    )


async def test_github_after_a_lost_answer_finds_its_deployment_instead_of_making_another(
    store: Store, receivers: Receivers
) -> None:
    github = GitHub("acme/shop", "ghp_test")
    receiver = await receivers(handler=github)
    _github_route(store, receiver)
    run(store, "r1", "success")
    github.deployments[7] = {"id": 7, "sha": SHA, "environment": "staging", "payload": '{"shipbot_run_id": "r1"}'}
    github.statuses[7] = []  # made on an attempt whose answer never reached the store
    await _deliver_all(store)
    assert ([7], ["queued", "in_progress", "success"]) == (
        list(github.deployments),
        [s["state"] for s in github.statuses[7]],
    )  # the queued status it never got comes first


@pytest.mark.parametrize("drop", [False, True], ids=["500", "closed"])
async def test_github_creates_then_answers_500_and_the_retry_keeps_one_deployment(
    store: Store, receivers: Receivers, drop: bool
) -> None:
    github = GitHub(
        "acme/shop", "ghp_test", lose=2, drop=drop
    )  # the deployment, then its queued status: made, answered 500
    receiver = await receivers(handler=github)
    _github_route(store, receiver)
    run(store, "r1", "success")
    run(store, "r2", "success")  # the same commit again: a deployment of its own
    await _deliver_all(store)
    assert [] == github.problems
    assert [("r1", ["queued", "in_progress", "success"]), ("r2", ["queued", "in_progress", "success"])] == [
        (d["payload"]["shipbot_run_id"], [s["state"] for s in github.statuses[n]])
        for n, d in github.deployments.items()
    ]
    assert 500 in [r.status for r in receiver.requests]
    assert ["1", "2"] == [store.outbox.deployment_of("github", "acme/shop", r) for r in ("r1", "r2")]


async def test_a_task_run_records_no_deployment(store: Store, receivers: Receivers) -> None:
    github = GitHub("acme/shop", "ghp_test")
    receiver = await receivers(handler=github)
    _github_route(store, receiver)
    run(store, "r1", "success", kind="task", sha="", ref="db:migrate")
    await _deliver_all(store)
    assert ({}, []) == (github.deployments, [r.path for r in receiver.requests])


async def test_gitlab_gets_a_deployment_running_then_its_end(store: Store, receivers: Receivers) -> None:
    gitlab = GitLab("acme/shop", "glpat-test")
    receiver = await receivers(handler=gitlab)
    route(store, "gitlab", {"project": "acme/shop", "token_env": "GITLAB_TOKEN", "api_url": f"{receiver.url}/api/v4",
                            "production": False, "environment_url": None})  # fmt: skip
    run(store, "r1", "success")
    run(store, "r2", "cancelled")
    await _deliver_all(store)
    assert [] == gitlab.problems
    assert [
        [{"environment": "staging", "sha": SHA, "ref": "main", "tag": False, "status": "running"},
         {"status": "success"}],
        [{"environment": "staging", "sha": SHA, "ref": "main", "tag": False, "status": "running"},
         {"status": "canceled"}],
    ] == list(gitlab.deployments.values())  # fmt: skip


@pytest.mark.parametrize("drop", [False, True], ids=["500", "closed"])
async def test_gitlab_creates_then_answers_500_and_the_retry_keeps_one_deployment(
    store: Store, receivers: Receivers, drop: bool
) -> None:
    gitlab = GitLab("acme/shop", "glpat-test", lose=1, drop=drop)  # the deployment is made, the answer lost
    receiver = await receivers(handler=gitlab)
    route(store, "gitlab", {"project": "acme/shop", "token_env": "GITLAB_TOKEN", "api_url": f"{receiver.url}/api/v4",
                            "production": False, "environment_url": None})  # fmt: skip
    run(store, "r1", "success")
    run(store, "r2", "failed")  # the same commit and ref again: a deployment of its own, not r1's
    await _deliver_all(store)
    assert [] == gitlab.problems
    assert [["running", "success"], ["running", "failed"]] == [
        [r["status"] for r in requests] for requests in gitlab.deployments.values()
    ]
    assert [500] == [r.status for r in receiver.requests if r.status >= 300]  # (closed: never sent)
    assert ["42", "43"] == [store.outbox.deployment_of("gitlab", "acme/shop", r) for r in ("r1", "r2")]


async def test_gitlab_loses_the_answer_to_an_update_and_the_retry_is_delivered_once(
    store: Store, receivers: Receivers
) -> None:
    gitlab = GitLab("acme/shop", "glpat-test")
    receiver = await receivers(handler=gitlab)
    route(store, "gitlab", {"project": "acme/shop", "token_env": "GITLAB_TOKEN", "api_url": f"{receiver.url}/api/v4",
                            "production": False, "environment_url": None})  # fmt: skip
    run(store, "r1", "success")
    sender = Sender(store, first_delay=0.1, longest=0.2)
    try:
        await sender.tick()
        await sender.settle()  # the run's start: deployment 42, running
        gitlab.lose = 1  # its end: recorded by GitLab, answered 500
    finally:
        await sender.close()
    await _deliver_all(store)
    assert {42: ["running", "success"]} == {
        n: [r["status"] for r in requests] for n, requests in gitlab.deployments.items()
    }
    assert [500, 400] == [r.status for r in receiver.requests if r.status >= 300]  # the retry: "cannot transition"
    assert [] == store.outbox.listing()  # delivered: GitLab shows the status it was to get
