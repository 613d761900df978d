"""A real deploy over SSH tells its sinks: a deploy and a failed deploy reach a Standard Webhooks receiver and
GitHub's deployments API (local receivers), in order, with the documents the schema describes."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import jsonschema
import pytest
from standardwebhooks import Webhook

from deploy.config.models import parse_config
from deploy.events import Outcome
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.store.tables import Store
from sinks.sender import Sender
from tests.engine.conftest import PIPELINE
from tests.support.forges import GitHub
from tests.support.gitrepo import GitRepo
from tests.support.receivers import Receiver
from tests.support.sshd_fleet import FleetFactory

SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="
SCHEMA = json.loads((Path(__file__).parents[2] / "docs/events.schema.json").read_text())


async def test_a_deploy_and_a_failed_deploy_reach_every_sink_in_order(
    tmp_path: Path, sshd_fleet: FleetFactory, app_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test")
    hooks = await Receiver().start()
    github = GitHub("acme/shop", "ghp_test")
    forge = await Receiver(handler=github).start()
    fleet = await sshd_fleet(1)
    data = fleet.config_yaml(repo=app_repo.path, pipeline=PIPELINE, shared={"dirs": ["log"]},
                             deployments={"github": {"repo": "acme/shop", "token_env": "GITHUB_TOKEN",
                                                     "api_url": forge.url}})  # fmt: skip
    data["environments"]["staging"].update(
        notify=["C0DEPLOYS", {"webhook": f"{hooks.url}/shipbot", "secret_env": "HOOK_SECRET"}],
        url="https://staging.shop.test",
    )
    store = Store.in_data_dir(tmp_path / "data")
    config = parse_config(data, "test.yml")
    store.outbox.route_config(config)  # as the composition root does (cli.engines.build_engine)
    engine = Engine(config, store, tmp_path / "data", SshConnector)
    sender = Sender(store, first_delay=0.1)
    try:
        good = await engine.deploy("staging", "main", user="U0ALICE")
        bad = await engine.deploy("staging", "broken-health", user="U0ALICE")
        assert (Outcome.SUCCESS, Outcome.FAILED) == (good.outcome, bad.outcome)
        end = time.monotonic() + 30
        while store.outbox.listing():
            assert time.monotonic() < end, [n.shown() for n in store.outbox.listing()]
            await sender.tick()
            await sender.settle()
            await asyncio.sleep(0.05)
    finally:
        await sender.close()
        await hooks.stop()
        await forge.stop()
    documents = [Webhook(SECRET).verify(r.body, r.headers) for r in hooks.requests]
    for document in documents:
        jsonschema.validate(document, SCHEMA)
    assert [
        ("run.started", app_repo.sha("main"), None),
        ("run.succeeded", app_repo.sha("main"), None),
        ("run.started", app_repo.sha("broken-health"), None),
        ("run.failed", app_repo.sha("broken-health"), True),
    ] == [(d["type"], d["sha"], d.get("reverted")) for d in documents]
    assert [] == github.problems
    assert [["queued", "in_progress", "success"], ["queued", "in_progress", "failure"]] == [
        [s["state"] for s in states] for states in github.statuses.values()
    ]
    assert {"https://staging.shop.test"} == {s["environment_url"] for st in github.statuses.values() for s in st}
