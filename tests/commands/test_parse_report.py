"""``shipbot parse --json`` dicts: exactly the contract keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.parse_report import parse_report
from tests.commands.helpers import config
from tests.commands.test_policy import ACCESS

CONFIGS = [config(access=ACCESS)]
TUESDAY = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "user", "channel", "now", "expected"),
    [
        (
            "deploy feature/new-login to staging",
            "U0EVE",
            "C0X",
            TUESDAY,
            {
                "command": "deploy",
                "app": "shop",
                "ref": "feature/new-login",
                "environment": "staging",
                "target": None,
                "force": False,
                "allowed": True,
                "reason": "U0EVE may deploy to staging (everyone)",
            },
        ),
        (
            "deploy to production/web",
            "U0ALICE",
            "C0DEPLOYS",
            TUESDAY,
            {
                "command": "deploy",
                "app": "shop",
                "ref": "release",
                "environment": "production",
                "target": "web",
                "force": False,
                "allowed": True,
                "reason": "U0ALICE may deploy to production (@deployers); waits for approval by someone else",
            },
        ),
        (
            "deploy main to production",
            "U0ALICE",
            "C0DEPLOYS",
            FRIDAY,
            {
                "command": "deploy",
                "app": "shop",
                "ref": "main",
                "environment": "production",
                "target": None,
                "force": False,
                "allowed": False,
                "reason": "production is frozen: No deploys on Friday afternoon, until Sat 2026-05-09 00:00 "
                "Europe/Berlin. Wait until it ends.",
            },
        ),
        (
            "deploy! main to production",
            "U0BOB",
            "C0DEPLOYS",
            FRIDAY,
            {
                "command": "deploy",
                "app": "shop",
                "ref": "main",
                "environment": "production",
                "target": None,
                "force": True,
                "allowed": True,
                "reason": "U0BOB may deploy to production (@deployers) (overrides: forced through a freeze: No deploys "
                "on Friday afternoon, until Sat 2026-05-09 00:00 Europe/Berlin); waits for approval by someone else",
            },
        ),
        (
            "deploy main to production",
            None,
            None,
            TUESDAY,
            {
                "command": "deploy",
                "app": "shop",
                "ref": "main",
                "environment": "production",
                "target": None,
                "force": False,
                "allowed": False,
                "reason": "anyone may not deploy to production: that is for @deployers. `where can I deploy` lists "
                "what you may do; an admin can change access in the config.",
            },
        ),
        (
            "rollback prod to 3f2a9c1",
            "U0CAROL",
            "C0DEPLOYS",
            TUESDAY,
            {
                "command": "rollback",
                "app": "shop",
                "ref": "3f2a9c1",
                "environment": "production",
                "target": None,
                "force": False,
                "allowed": True,
                "reason": "U0CAROL may roll back production (@deployers or @sre); waits for approval by someone else",
            },
        ),
        (
            "status",
            "U0EVE",
            "C0X",
            TUESDAY,
            {
                "command": "status",
                "app": None,
                "ref": None,
                "environment": None,
                "target": None,
                "force": False,
                "allowed": True,
                "reason": "everyone may read status, history and help",
            },
        ),
        (
            "deploy main to stagin",
            "U0EVE",
            "C0X",
            TUESDAY,
            {
                "error": "unknown environment `stagin`",
                "hint": "did you mean `staging`? Try: `deploy [APP] [REF] to ENV[/ROLE-OR-HOST]`",
            },
        ),
        (
            "deploy main to staging",
            "alice",
            "C0X",
            TUESDAY,
            {
                "error": "'alice' is not a Slack user ID",
                "hint": "Pass the immutable ID (U… or W…) from the person's Slack profile, not a display name.",
            },
        ),
    ],
)
def test_parse_report(
    text: str, user: str | None, channel: str | None, now: datetime, expected: dict[str, object]
) -> None:
    assert parse_report(text, CONFIGS, user, channel, now=now) == expected


def test_slack_groups_can_be_given_to_the_report() -> None:
    configs = [config(access={"environments": {"staging": {"deploy": ["@oncall"]}}})]
    report = parse_report(
        "deploy to staging", configs, "U0DAVE", "C0X", now=TUESDAY, group_members={"oncall": frozenset({"U0DAVE"})}
    )
    assert (report["allowed"], report["reason"]) == (True, "U0DAVE may deploy to staging (@oncall)")


@pytest.mark.parametrize(
    "text", ["deploy:migrate shop to production", "run migrate on production", "run shop migrate on production"]
)
def test_a_named_task_shows_its_name_beside_the_existing_keys(text: str) -> None:
    report = parse_report(text, CONFIGS, "U0ALICE", "C0DEPLOYS", now=TUESDAY)
    assert {"command": "run", "app": "shop", "environment": "production", "task": "migrate"} == {
        k: report[k] for k in ("command", "app", "environment", "task")
    }
    assert {"command", "app", "ref", "environment", "target", "force", "allowed", "reason", "task"} == set(report)


def test_commands_other_than_run_have_no_task_key() -> None:
    assert "task" not in parse_report("deploy main to staging", CONFIGS, "U0ALICE", "C0DEPLOYS", now=TUESDAY)
