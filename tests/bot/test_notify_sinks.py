"""The bot's own timer delivers the outbox: a deploy typed in chat reaches a signed webhook, and /metrics counts
the deliveries by sink and outcome and the rows still pending; an approved deploy is told with its approval, and a
freeze window that is on when the bot starts is told once."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from tests.bot.conftest import ACCESS, StackFactory
from tests.support.receivers import Receiver

pytestmark = pytest.mark.sshd
SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="


async def test_a_deploy_from_chat_reaches_the_webhook_and_the_metrics(
    stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = await Receiver(answers=[500]).start()  # the first attempt fails: retried by the bot's timer
    try:
        s = await stack(hosts=2, staging={"notify": [{"webhook": f"{receiver.url}/h", "secret_env": "HOOK_SECRET"}]})
        await s.say("alice", "deploy main to staging")
        end = time.monotonic() + 60
        while sum(r.status == 200 for r in receiver.requests) < 2:
            assert time.monotonic() < end, [r.status for r in receiver.requests]
            await asyncio.sleep(0.1)
    finally:
        await receiver.stop()
    delivered = [Webhook(SECRET).verify(r.body, r.headers) for r in receiver.requests if r.status == 200]
    assert [("run.started", "U0ALICE"), ("run.succeeded", "U0ALICE")] == [(d["type"], d["user"]) for d in delivered]
    url = f"http://127.0.0.1:{s.running.ops_port}/metrics"
    end = time.monotonic() + 10
    while True:  # the gauge is read on the timer's next round (every second)
        text = (await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())).decode()
        if 'shipbot_notifications_pending{sink="webhook"} 0.0' in text or time.monotonic() > end:
            break
        await asyncio.sleep(0.2)
    assert 'shipbot_notifications_total{outcome="delivered",sink="webhook"} 2.0' in text
    assert 'shipbot_notifications_total{outcome="retried",sink="webhook"} 1.0' in text
    assert 'shipbot_notifications_pending{sink="webhook"} 0.0' in text


async def test_an_approved_deploy_and_a_freeze_reach_the_webhook_from_the_bot(
    stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = await Receiver().start()
    hook = {"webhook": f"{receiver.url}/h", "secret_env": "HOOK_SECRET"}
    today = datetime.now(UTC).date().isoformat()
    access = {**ACCESS, "freeze": [{"environments": ["staging"], "reason": "audit week", "from": today, "to": today}]}
    try:
        s = await stack(hosts=2, access=access, staging={"notify": [hook]}, production={"notify": ["C0DEPLOYS", hook]})
        await s.say("alice", "deploy main to production")
        ask = await s.bot_message(lambda m: "run_approve" in str(m.blocks))
        run_id = next(e["value"] for b in ask.blocks if b["type"] == "actions" for e in b["elements"]
                      if e["action_id"] == "run_approve")  # fmt: skip
        await s.emu.click("bob", "#deploys", ask.ts, "run_approve", value=run_id)
        end = time.monotonic() + 60
        while len(receiver.requests) < 5:
            assert time.monotonic() < end, [r.json()["type"] for r in receiver.requests]
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # nothing more comes: each event once
    finally:
        await receiver.stop()
    delivered = [Webhook(SECRET).verify(r.body, r.headers) for r in receiver.requests]
    assert [
        ("approval.requested", "U0ALICE", None),
        ("approval.decided", "U0BOB", "approved"),
        ("run.started", "U0ALICE", None),
        ("run.succeeded", "U0ALICE", None),
    ] == [(d["type"], d["user"], d.get("outcome")) for d in delivered if d["environment"] == "production"]
    assert {run_id} == {d["run_id"] for d in delivered if d["environment"] == "production"}
    place = await asyncio.to_thread(s.store.ledger.place_of, run_id)
    assert place is not None
    ended = next(d for d in delivered if d["type"] == "run.succeeded")
    assert f"/archives/{place[0]}/p{place[1].replace('.', '')}" in ended["url"], "the run's message, linked"
    assert [("freeze.started", "audit week")] == [
        (d["type"], d["reason"]) for d in delivered if d["environment"] == "staging"
    ]
