"""Standard Webhooks: the signature reproduces the published test vector, the reference verifier accepts every
request shipbot sends, and a receiver that is down gets every event afterwards, once each, in order, with the same
``webhook-id`` on every retry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from deploy.store.tables import Store
from sinks import webhook
from sinks.sender import Sender
from tests.support.outbox_runs import route, run
from tests.support.receivers import Receiver

VECTOR = json.loads((Path(__file__).parent.parent / "fixtures/standard_webhooks/test_vector.json").read_text())
SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="
Receivers = Callable[..., Awaitable[Receiver]]


def test_signature_reproduces_the_published_test_vector() -> None:
    signed = webhook.sign(VECTOR["secret"], VECTOR["msg_id"], VECTOR["timestamp"], VECTOR["payload"].encode())
    assert VECTOR["signature"] == signed


def test_a_secret_that_is_not_base64_is_refused_by_name() -> None:
    with pytest.raises(webhook.BadSecret, match="not whsec_ followed by base64"):
        webhook.sign("whsec_not base64!", "msg_1", 1, b"{}")


async def _until(condition: Callable[[], bool], sender: Sender, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the outbox did not deliver in time"
        await sender.tick()
        await sender.settle()
        await asyncio.sleep(0.05)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    return Store.in_data_dir(tmp_path / "data")


async def test_the_reference_verifier_accepts_each_event_as_sent(store: Store, receivers: Receivers) -> None:
    receiver = await receivers()
    route(store, "webhook", {"url": f"{receiver.url}/hooks", "secret_env": "HOOK_SECRET"})
    run(store, "r1", "success")
    sender = Sender(store)
    try:
        await _until(lambda: len(receiver.requests) == 2, sender)
    finally:
        await sender.close()
    verifier = Webhook(SECRET)
    bodies = [verifier.verify(r.body, r.headers) for r in receiver.requests]
    assert ["run.started", "run.succeeded"] == [b["type"] for b in bodies]
    assert [("shop", "staging", "r1", "deploy", 1)] * 2 == [
        (b["app"], b["environment"], b["run_id"], b["kind"], b["version"]) for b in bodies
    ]
    assert ["application/json"] * 2 == [r.headers["Content-Type"] for r in receiver.requests]


async def test_a_receiver_down_gets_every_event_afterwards_in_order_with_stable_ids(
    store: Store, receivers: Receivers
) -> None:
    receiver = await receivers(down_until=time.monotonic() + 2.0)
    route(store, "webhook", {"url": f"{receiver.url}/hooks", "secret_env": "HOOK_SECRET"})
    run(store, "r1", "success")
    run(store, "r2", "failed")
    sender = Sender(store, first_delay=0.2, longest=0.5)
    try:
        await _until(lambda: sum(r.status == 200 for r in receiver.requests) == 4, sender)
    finally:
        await sender.close()
    accepted = [r for r in receiver.requests if r.status == 200]
    assert [("r1", "run.started"), ("r1", "run.succeeded"), ("r2", "run.started"), ("r2", "run.failed")] == [
        (r.json()["run_id"], r.json()["type"]) for r in accepted
    ]
    assert len({r.headers["webhook-id"] for r in accepted}) == 4  # once each
    for request in receiver.requests:  # every attempt of an event, refused or accepted, carries its one id
        same_event = [r for r in receiver.requests if r.json()["id"] == request.json()["id"]]
        assert {request.headers["webhook-id"]} == {r.headers["webhook-id"] for r in same_event}
    assert any(r.status == 500 for r in receiver.requests)
    assert [] == store.outbox.listing()


async def test_retry_after_is_honoured(store: Store, receivers: Receivers) -> None:
    receiver = await receivers(answers=[(503, {"Retry-After": "2"})])
    route(store, "webhook", {"url": f"{receiver.url}/hooks", "secret_env": "HOOK_SECRET"})
    run(store, "r1", "success")
    sender = Sender(store, first_delay=0.05, longest=0.1)
    try:
        await _until(lambda: sum(r.status == 200 for r in receiver.requests) == 2, sender)
    finally:
        await sender.close()
    first, second = receiver.requests[0], receiver.requests[1]
    assert (503, 200, first.headers["webhook-id"]) == (first.status, second.status, second.headers["webhook-id"])
    assert second.at - first.at >= 1.9


async def test_a_4xx_is_given_up_at_once_and_listed_with_its_first_line(store: Store, receivers: Receivers) -> None:
    receiver = await receivers(answers=[400])
    route(store, "webhook", {"url": f"{receiver.url}/hooks", "secret_env": "HOOK_SECRET"})
    run(store, "r1", "success")
    sender = Sender(store, first_delay=0.05)
    try:
        await _until(lambda: len(receiver.requests) == 2, sender)
    finally:
        await sender.close()
    gave_up = [n.shown() for n in store.outbox.listing(failed=True)]
    assert [("webhook", "run.started", "r1", "gave_up", 1, "HTTP 400: scripted 400", None)] == [
        (g["sink"], g["type"], g["run_id"], g["state"], g["attempts"], g["last_error"], g["next_attempt_at"])
        for g in gave_up
    ]
    assert [400, 200] == [r.status for r in receiver.requests]  # the queue went on past the given-up row


async def test_a_secret_is_never_in_the_outbox_nor_the_listing(store: Store, receivers: Receivers) -> None:
    receiver = await receivers()
    route(store, "webhook", {"url": f"{receiver.url}/hooks", "secret_env": "HOOK_SECRET"})
    run(store, "r1", "success")
    dump = json.dumps(store.db.execute("SELECT * FROM outbox").fetchall())
    assert SECRET not in dump
    assert "HOOK_SECRET" in dump
