"""The promotion order, dry runs and what ships, in chat: the real bolt app against the Slack emulator, deploying
to real sshd hosts from a real git repository (reached as a GitHub URL through git's ``insteadOf``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deploy.store.tables import Store
from slack_emulator.workspace import Message
from tests.bot.conftest import Stack, StackFactory, dump
from tests.support.gitrepo import GitRepo
from tests.support.snapshots import host_trees, store_tables

pytestmark = pytest.mark.sshd

GITHUB = "https://github.com/acme/shop.git"
PROMOTE = {"promote_from": "staging"}
NO_APPROVAL: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"]},
    "environments": {"staging": {"deploy": ["*"]}, "production": {"deploy": ["@deployers"]}},
}


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch, app_repo: GitRepo) -> str:
    """git on this machine fetches ``GITHUB`` from the test repository (the config keeps the GitHub URL)."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{app_repo.path}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", GITHUB)
    return GITHUB


def approve_id(ask: Message) -> str:
    return next(
        e["value"]
        for b in ask.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "run_approve"
    )


async def green(s: Stack, ref: str, environment: str) -> Message:
    return await s.bot_message(
        lambda m: (
            ":large_green_circle:" in str(m.blocks) and ref in m.text and environment in m.text and not m.thread_ts
        )
    )


async def approved_deploy(s: Stack, ref: str) -> tuple[str, Message]:
    """alice asks for ``ref`` on production, bob approves: the approval request's blocks as they asked (the
    message loses its buttons once decided) and the run's message."""
    await s.say("alice", f"deploy {ref} to production")
    ask = await s.bot_message(lambda m: "run_approve" in str(m.blocks) and ref in str(m.blocks))
    asked = str(ask.blocks)
    await s.emu.click("bob", "#deploys", ask.ts, "run_approve", value=approve_id(ask))
    return asked, await green(s, ref, "production")


async def test_production_refuses_what_staging_never_ran_then_ships_it_with_a_compare_link(
    stack: StackFactory, github: str, tmp_path: Path
) -> None:
    s = await stack(hosts=2, production=PROMOTE, repo=github)
    main, login = s.repo.sha("main"), s.repo.sha("feature/new-login")

    await s.say("alice", "deploy main to production")

    refusal = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE" and "only takes" in m.text, 30)
    assert (
        f"production only takes commits that passed staging: {main[:7]} has never been deployed successfully "
        "to staging (it is on: nowhere)"
    ) in refusal.text
    assert "run_approve" not in await dump(s.emu), "refused before any approval is asked"
    assert [] == Store.in_data_dir(tmp_path / "data").list_runs("shop", "production")
    assert not (s.fleet.hosts[1].local_deploy_to / "current").exists()

    await s.say("alice", "deploy main to staging")
    await green(s, "main", "staging")
    await approved_deploy(s, "main")
    await s.say("alice", "deploy feature/new-login to staging")
    await green(s, "feature/new-login", "staging")

    ask, report = await approved_deploy(s, "feature/new-login")

    link = f"https://github.com/acme/shop/compare/{main}...{login}"
    assert f"<{link}|compare {main[:7]}...{login[:7]}>" in ask
    assert link in str(report.blocks)
    assert "new login page" in ask and "new login page" in str(report.blocks)

    await s.say("alice", "deploy v1.0.0 to production")
    older = await s.bot_message(lambda m: "run_approve" in str(m.blocks) and "v1.0.0" in str(m.blocks))
    assert f"{main[:7]} is older than what is live ({login[:7]}): this deploy goes back in history" in str(older.blocks)
    assert f"https://github.com/acme/shop/compare/{main}...{login}|what goes away" in str(older.blocks)


async def test_admins_force_past_the_order_others_may_not_and_dry_runs_change_nothing(
    stack: StackFactory, tmp_path: Path
) -> None:
    s = await stack(hosts=2, production=PROMOTE, access=NO_APPROVAL)
    login = s.repo.sha("feature/new-login")
    await s.say("bob", "deploy main to staging")
    await green(s, "main", "staging")
    data = tmp_path / "data"
    before = (host_trees(s.fleet), store_tables(data, skip=("inbox", "bot_presence")))

    await s.say("alice", "deploy feature/new-login to staging --dry-run")
    dry = await s.emu.wait_for(
        lambda m: m.ephemeral_to == "U0ALICE" and "Plan" in str(m.blocks) and "staging" in m.text, 30
    )
    await s.say("alice", "plan feature/new-login to production")
    planned = await s.emu.wait_for(
        lambda m: m.ephemeral_to == "U0ALICE" and "Plan" in str(m.blocks) and "production" in m.text, 30
    )

    assert (host_trees(s.fleet), store_tables(data, skip=("inbox", "bot_presence"))) == before
    shown = str(dry.blocks)
    assert login[:7] in shown and "new login page" in shown and "1 commit would ship" in shown
    assert "replaces" in shown and "build" in shown and "healthcheck" in shown
    assert "would be refused" not in shown
    assert (
        f"this deploy would be refused: production only takes commits that passed staging: {login[:7]} has never "
        "been deployed successfully to staging (it is on: nowhere)"
    ) in str(planned.blocks)

    await s.say("bob", "deploy! feature/new-login to production")
    refused = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0BOB" and "may not force" in m.text, 30)
    assert "bob may not force deploys to production" in refused.text
    assert not (s.fleet.hosts[1].local_deploy_to / "current").exists()

    await s.say("admin", "deploy! feature/new-login to production")

    report = await green(s, "feature/new-login", "production")
    assert "forced past the promotion order by admin: production only takes commits that passed staging" in str(
        report.blocks
    )
    announced = await s.bot_message(lambda m: "Starting" in str(m.blocks) and "forced" in str(m.blocks))
    assert announced.ephemeral_to is None, "a forced deploy is announced to the channel"
    assert (s.fleet.hosts[1].local_deploy_to / "current" / "VERSION").read_text() == "v2\n"
    audit = {(actor, action, env) for _, actor, action, env, _ in Store.in_data_dir(data).audit()}
    assert {("U0ADMIN", "force promotion", "production"), ("U0ADMIN", "force", "production")} <= audit
