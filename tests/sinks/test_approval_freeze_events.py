"""Approvals and freezes reach the sinks (SQLite and PostgreSQL): each approval's request and decision is one signed
webhook, written with the approval's row (so a second approver, who comes late, tells nothing), the freeze windows'
beginnings and ends are told once each even with two bots looking at one database, Teams and IRC say them in a
sentence, and GitHub records none of them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from standardwebhooks import Webhook

from commands.access_config import AccessConfig, AppPolicy, FreezeWindow
from commands.approval_book import ApprovalBook, PendingApproval
from commands.command import ChangeFlag, Deploy, Rollback
from commands.runs import RunRequest
from commands.usecases.freezes import FreezeWatch
from deploy.store.ports import APPROVED, REJECTED, ports_of
from deploy.store.tables import Store
from sinks import irc, teams
from tests.support.forges import GitHub
from tests.support.outbox_runs import SHA, deliver_all, route
from tests.support.receivers import Receiver

SECRET = "whsec_" + "c2hpcGJvdC10ZXN0LXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="
SCHEMA = json.loads((Path(__file__).parents[2] / "docs/events.schema.json").read_text())
Receivers = Callable[..., Awaitable[Receiver]]


async def _deliver_all(store: Store, seconds: float = 20.0) -> None:
    await deliver_all(store, seconds, first_delay=0.1, longest=0.2)


def _routes(store: Store, hooks: Receiver, forge: Receiver, environment: str = "production") -> None:
    route(store, "webhook", {"url": f"{hooks.url}/shipbot", "secret_env": "HOOK_SECRET"}, environment=environment)
    route(store, "github", {"repo": "acme/shop", "token_env": "GITHUB_TOKEN", "api_url": forge.url,
                            "production": True, "environment_url": None}, environment=environment)  # fmt: skip


def _received(hooks: Receiver) -> list[dict[str, Any]]:
    documents = [Webhook(SECRET).verify(r.body, r.headers) for r in hooks.requests if r.status == 200]
    for document in documents:
        jsonschema.validate(document, SCHEMA)
    return documents


def _pending(run_id: str, kind: str = "deploy", user: str = "U0ALICE") -> PendingApproval:
    if kind == "deploy":
        run = RunRequest(run_id, kind, "shop", "production", user, "C0DEPLOYS", time.time(), "main", SHA)
        command: Deploy | Rollback = Deploy("shop", "production", "main")
    else:
        run = RunRequest(run_id, kind, "shop", "production", user, "C0DEPLOYS", time.time())
        command = Rollback("shop", "production")
    return PendingApproval(run, command, ("@deployers",), time.time() + 900)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test")


async def test_each_approval_asked_and_decided_reaches_the_webhook_once_and_github_never(
    stores: Callable[[], Store], receivers: Receivers
) -> None:
    github = GitHub("acme/shop", "ghp_test")
    hooks, forge = await receivers(), await receivers(handler=github)
    store, other = stores(), stores()
    _routes(store, hooks, forge)
    _routes(other, hooks, forge)  # a second replica on the same database
    book, late = ApprovalBook(ports_of(store).waiting), ApprovalBook(ports_of(other).waiting)
    approved, rejected, expired = _pending("r1"), _pending("r2"), _pending("r3", kind="rollback")
    for pending in (approved, rejected, expired):
        await book.add(pending)
    assert await book.decide("r1", APPROVED, "U0BOB", approved.run)
    assert not await late.decide("r1", APPROVED, "U0CAROL", approved.run), "carol comes second: nothing is told"
    assert await late.decide("r2", REJECTED, "U0CAROL", rejected.run, "not during the sale")
    assert ["r3"] == [p.run.run_id for p in await book.take_expired(time.time() + 3600)]
    await _deliver_all(store)
    got = [(d["type"], d["run_id"], d.get("outcome"), d.get("user"), d.get("requested_by")) for d in _received(hooks)]
    assert [
        ("approval.requested", "r1", None, "U0ALICE", None),
        ("approval.requested", "r2", None, "U0ALICE", None),
        ("approval.requested", "r3", None, "U0ALICE", None),
        ("approval.decided", "r1", "approved", "U0BOB", "U0ALICE"),
        ("approval.decided", "r2", "rejected", "U0CAROL", "U0ALICE"),
        ("approval.decided", "r3", "expired", None, "U0ALICE"),
    ] == got
    documents = {(d["type"], d["run_id"]): d for d in _received(hooks)}
    asked = documents["approval.requested", "r1"]
    assert ("shop", "production", "deploy", "main", SHA) == (
        asked["app"], asked["environment"], asked["kind"], asked["ref"], asked["sha"],
    )  # fmt: skip
    assert "not during the sale" == documents["approval.decided", "r2"]["reason"]
    assert ("rollback", None) == (
        documents["approval.decided", "r3"]["kind"],
        documents["approval.decided", "r3"].get("ref"),
    )
    assert [] == [r for r in forge.requests], "GitHub's deployments record runs, not approvals"
    assert [
        f"U0ALICE asks for approval of a deploy of shop production main ({SHA[:7]}) [r1]",
        f"U0CAROL rejected U0ALICE's deploy of shop production main ({SHA[:7]}): not during the sale [r2]",
        "U0ALICE's rollback of shop production expired unapproved [r3]",
    ] == [
        irc.line_of(documents[key])
        for key in (("approval.requested", "r1"), ("approval.decided", "r2"), ("approval.decided", "r3"))
    ]
    card = teams.card(documents["approval.decided", "r1"])["attachments"][0]["content"]
    assert (
        f"U0BOB approved U0ALICE's deploy of shop production main \\({SHA[:7]}\\) \\[r1\\]" == card["body"][0]["text"]
    )
    assert {"Asked by": "U0ALICE", "Outcome": "approved"}.items() <= {
        f["title"]: f["value"] for f in card["body"][1]["facts"]
    }.items()


async def test_a_flag_raise_waiting_for_approval_is_told_as_a_flag_change(
    stores: Callable[[], Store], receivers: Receivers
) -> None:
    hooks, forge = await receivers(), await receivers(handler=GitHub("acme/shop", "ghp_test"))
    store = stores()
    _routes(store, hooks, forge)
    book = ApprovalBook(ports_of(store).waiting)
    what = "flag new-login to 10% in production, from 0%"
    run = RunRequest("r9", "flag", "shop", "production", "U0ALICE", "C0DEPLOYS", time.time(), ref=what)
    command = ChangeFlag("ramp", "new-login", "shop", "production", tenths=100)
    pending = PendingApproval(run, command, ("@deployers",), time.time() + 900)
    await book.add(pending)
    assert await book.decide("r9", APPROVED, "U0BOB", run)
    await _deliver_all(store)
    documents = _received(hooks)  # each one valid against the published schema
    assert [("approval.requested", "flag"), ("approval.decided", "flag")] == [(d["type"], d["kind"]) for d in documents]
    assert f"U0BOB approved U0ALICE's flag change of shop production {what} [r9]" == irc.line_of(documents[1])


def _friday_freeze(environments: list[str] | None = None) -> AppPolicy:
    """Fridays from 12:00 to 23:59 Berlin time, production only; and the 24th to the 26th of December."""
    windows = [
        FreezeWindow(environments=environments or ["production"], reason="Friday afternoon",
                     cron="0 12-23 * * FRI", timezone="Europe/Berlin"),
        FreezeWindow(environments=["production"], reason="Christmas", **{"from": date(2026, 12, 24)},
                     to=date(2026, 12, 26)),
    ]  # fmt: skip
    return AppPolicy("shop", ("staging", "production"), AccessConfig(freeze=windows))


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> float:
        return self.moment.timestamp()


async def test_two_bots_on_one_database_tell_each_freeze_start_and_end_once(
    stores: Callable[[], Store], receivers: Receivers
) -> None:
    github = GitHub("acme/shop", "ghp_test")
    hooks, forge = await receivers(), await receivers(handler=github)
    first, second = stores(), stores()
    for store in (first, second):
        _routes(store, hooks, forge)
        _routes(store, hooks, forge, environment="staging")
    clock = Clock(datetime(2026, 12, 11, 9, 0, tzinfo=UTC))  # a Friday, 10:00 in Berlin
    policy = {"shop": _friday_freeze()}
    bots = [FreezeWatch(policy, ports_of(store).freezes, clock) for store in (first, second)]

    async def look(moment: datetime) -> list[str]:
        clock.moment = moment
        told = await asyncio.gather(*(bot.check() for bot in bots))
        return [t.event for one in told for _, t in one]

    assert [] == await look(datetime(2026, 12, 11, 9, 0, tzinfo=UTC))
    assert ["freeze.started"] == await look(datetime(2026, 12, 11, 11, 0, 30, tzinfo=UTC))  # 12:00:30 in Berlin
    assert [] == await look(datetime(2026, 12, 11, 15, 0, tzinfo=UTC))
    assert [] == await look(datetime(2026, 12, 11, 22, 59, 30, tzinfo=UTC))  # 23:59:30: still frozen
    assert ["freeze.ended"] == await look(datetime(2026, 12, 11, 23, 0, 20, tzinfo=UTC))
    assert [] == await look(datetime(2026, 12, 11, 23, 1, tzinfo=UTC))
    await _deliver_all(first)
    documents = _received(hooks)
    assert [
        ("freeze.started", "production", "Friday afternoon", "2026-12-11T11:00:00.000Z", "2026-12-11T23:00:00.000Z"),
        ("freeze.ended", "production", "Friday afternoon", "2026-12-11T11:00:00.000Z", None),
    ] == [(d["type"], d["environment"], d["reason"], d["window_start"], d.get("ends_at")) for d in documents]
    assert "shop production is frozen until 2026-12-11 23:00 UTC: Friday afternoon" == irc.line_of(documents[0])
    assert "the freeze on shop production ended" == irc.line_of(documents[1])
    assert (
        "the freeze on shop production ended"
        == teams.card(documents[1])["attachments"][0]["content"]["body"][0]["text"]
    )
    assert [] == forge.requests, "GitHub's deployments record runs, not freezes"


async def test_a_bot_starting_inside_a_freeze_tells_it_once_and_never_the_ones_it_missed(
    stores: Callable[[], Store], receivers: Receivers
) -> None:
    hooks, forge = await receivers(), await receivers(handler=GitHub("acme/shop", "ghp_test"))
    store = stores()
    _routes(store, hooks, forge)
    clock = Clock(datetime(2026, 12, 25, 10, 0, tzinfo=UTC))  # Christmas began yesterday; two Fridays passed unseen
    bot = FreezeWatch({"shop": _friday_freeze()}, ports_of(store).freezes, clock)
    told = [t.event for _, t in await bot.check()]
    told += [
        t.event for _, t in await FreezeWatch({"shop": _friday_freeze()}, ports_of(stores()).freezes, clock).check()
    ]
    clock.moment = datetime(2026, 12, 27, 10, 0, tzinfo=UTC)
    told += [t.event for _, t in await bot.check()]
    assert ["freeze.started", "freeze.ended"] == told
    await _deliver_all(store)
    assert [
        ("freeze.started", "Christmas", "2026-12-24T00:00:00.000Z", "2026-12-27T00:00:00.000Z"),
        ("freeze.ended", "Christmas", "2026-12-24T00:00:00.000Z", None),
    ] == [(d["type"], d["reason"], d["window_start"], d.get("ends_at")) for d in _received(hooks)]
