"""A preview's life on GitHub: each commit it goes live on is a deployment to a transient environment named after
it, ``success`` with the preview's URL; removing it sets every one of them ``inactive``. Each step is written in
the transaction that records it in the previews table."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import jsonschema
import pytest

from deploy.notify.outbox import PREVIEWS, Route
from deploy.store.tables import Store
from sinks.sender import Sender
from tests.support.forges import GitHub
from tests.support.receivers import Receiver

FIRST, SECOND = "1" * 40, "2" * 40
SCHEMA = json.loads((Path(__file__).parents[2] / "docs/events.schema.json").read_text())


@pytest.mark.parametrize("lost", [0, 1], ids=["answered", "first-answer-lost"])
async def test_a_preview_made_updated_and_removed_is_a_transient_environment_on_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: Callable[..., Awaitable[Receiver]], lost: int
) -> None:
    """``lost``: GitHub makes the first deployment but answers 500; the retry finds it instead of making another."""
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test")
    github = GitHub("acme/shop", "ghp_test", lose=lost)
    receiver = await receivers(handler=github)
    store = Store.in_data_dir(tmp_path / "data")
    store.outbox.route("shop", PREVIEWS, [Route("github", {
        "repo": "acme/shop", "token_env": "GITHUB_TOKEN", "api_url": receiver.url, "production": False,
        "transient": True, "domain": "preview.shop.test"})])  # fmt: skip
    assert store.previews.reserve("shop", "feature-x", "feature/x", 9001, ["h1"], "U0ALICE")
    store.previews.live("shop", "feature-x", FIRST, "U0ALICE")
    store.previews.live("shop", "feature-x", SECOND, "U0BOB")
    assert store.previews.remove("shop", "feature-x")
    written = store.outbox.listing()
    assert ["preview.created", "preview.updated", "preview.removed"] == [n.type for n in written]
    assert [("feature-x", "feature/x", "U0ALICE"), ("feature-x", "feature/x", "U0BOB")] == [
        (n.document["environment"], n.document["ref"], n.document["user"]) for n in written[:2]
    ]
    for n in written:
        jsonschema.validate(n.document, SCHEMA)
    sender = Sender(store, first_delay=0.1)
    try:
        end = time.monotonic() + 20
        while store.outbox.listing():
            assert time.monotonic() < end, [n.shown() for n in store.outbox.listing()]
            await sender.tick()
            await sender.settle()
            await asyncio.sleep(0.05)
    finally:
        await sender.close()
    assert [] == github.problems
    assert [(FIRST, "feature-x", True, False), (SECOND, "feature-x", True, False)] == [
        (d["ref"], d["environment"], d["transient_environment"], d["production_environment"])
        for d in github.deployments.values()
    ]
    assert [[("success", "http://feature-x.preview.shop.test/"), ("inactive", None)]] * 2 == [
        [(s["state"], s.get("environment_url")) for s in states] for states in github.statuses.values()
    ]
