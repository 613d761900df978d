"""Microsoft Teams: one Adaptive Card per event in the Workflows message shape (tests/fixtures/teams), posted to
the URL held in the variable the config names; people's text never becomes Markdown or a template there."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import jsonschema
import pytest

from deploy.store.tables import Store
from sinks.sender import Sender
from sinks.teams import card, plain
from tests.support.outbox_runs import route, run
from tests.support.receivers import Receiver

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures/teams/workflows-message.json").read_text())


def test_the_fixture_example_fits_the_schema_the_cards_are_checked_against() -> None:
    jsonschema.validate(FIXTURE["example"], FIXTURE["schema"])


def test_text_from_people_is_shown_as_typed() -> None:
    assert r"\*\*bold\*\* \[link\]\(http://x\) \{\{DATE\(2026\)\}\}" == plain(
        "**bold** [link](http://x) {{DATE(2026)}}"
    )


async def test_each_event_is_one_card_in_the_workflows_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: Callable[..., Awaitable[Receiver]]
) -> None:
    receiver = await receivers(answers=[202, 202])  # Workflows answer 202 Accepted
    monkeypatch.setenv("TEAMS_URL", f"{receiver.url}/workflows/abc/triggers/manual/paths/invoke?sig=s3cret")
    store = Store.in_data_dir(tmp_path / "data")
    route(store, "teams", {"url_env": "TEAMS_URL"})
    run(store, "r1", "failed", ref="feature/*x*", message="[click](http://evil.test) failed")
    sender = Sender(store)
    try:
        end = time.monotonic() + 10
        while len(receiver.requests) < 2:
            assert time.monotonic() < end
            await sender.tick()
            await sender.settle()
            await asyncio.sleep(0.05)
    finally:
        await sender.close()
    bodies = [r.json() for r in receiver.requests]
    for body in bodies:
        jsonschema.validate(body, FIXTURE["schema"])
    assert ["sig=s3cret"] * 2 == [f"sig={r.query['sig']}" for r in receiver.requests]
    last = bodies[1]["attachments"][0]["content"]
    assert "Attention" == last["body"][0]["color"]
    facts = {f["title"]: f["value"] for f in last["body"][1]["facts"]}
    assert (r"feature/\*x\*", r"\[click\]\(http://evil\.test\) failed") == (facts["Ref"], facts["Result"])
    assert [] == store.outbox.listing()


def test_a_card_links_the_run_when_its_message_is_known() -> None:
    doc = {"type": "run.started", "app": "shop", "environment": "staging", "url": "https://slack.test/p1"}
    assert [{"type": "Action.OpenUrl", "title": "Open the run", "url": "https://slack.test/p1"}] == card(doc)[
        "attachments"
    ][0]["content"]["actions"]
