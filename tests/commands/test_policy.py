"""Policy tables: who may do what where, channels, admins and overrides, freezes at their edges across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.access_config import AppPolicy, policy_for
from commands.command import Command, Deploy, Help, Lock, Rollback, RunTask, Status, Unlock
from commands.freeze import FreezeHit, active_freeze
from commands.identity import Actor, actor_for, slack_handles
from commands.policy import Decision, allowed_topics, decide, decide_action, decide_approval, decide_unlock
from deploy.errors import ConfigError
from deploy.records import LockRecord
from tests.commands.helpers import config

ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"], "sre": ["U0CAROL"]},
    "environments": {
        "staging": {"deploy": ["*"], "lock": ["*"]},
        "production": {
            "deploy": ["@deployers"],
            "rollback": ["@deployers", "@sre"],
            "approve": ["@sre"],
            "lock": ["@sre"],
            "force": ["U0BOB"],
            "approval": "required",
            "channels": ["C0DEPLOYS"],
            "queue": True,
        },
    },
    "freeze": [
        {
            "environments": ["production"],
            "cron": "0 12-23 * * FRI",
            "timezone": "Europe/Berlin",
            "reason": "No deploys on Friday afternoon",
        },
        {"environments": ["production"], "from": "2026-12-20", "to": "2027-01-04", "reason": "holiday freeze"},
        {"environments": ["staging"], "cron": "* 1-3 * * SUN", "timezone": "Europe/Berlin", "reason": "DST drill"},
        {
            "environments": ["staging"],
            "from": "2026-10-24",
            "to": "2026-10-25",
            "timezone": "Europe/Berlin",
            "reason": "autumn freeze",
        },
    ],
}
POLICY = policy_for(config(access=ACCESS))
POLICIES = {"shop": POLICY}
OPEN = {"shop": policy_for(config())}
# A Tuesday in May: no freeze.
TUESDAY = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)


def actor(user: str) -> dict[str, Actor]:
    return {"shop": actor_for(POLICY, user)}


def dep(env: str, force: bool = False) -> Deploy:
    return Deploy("shop", env, "main", force=force)


WHO_MAY = [
    # (user, command, channel, allowed, reason, overrides)
    ("U0EVE", dep("staging"), "C0RANDOM", True, "U0EVE may deploy to staging (everyone)", ()),
    ("U0ALICE", dep("production"), "C0DEPLOYS", True, "U0ALICE may deploy to production (@deployers)", ()),
    ("U0BOB", dep("production"), "C0DEPLOYS", True, "U0BOB may deploy to production (@deployers)", ()),
    (
        "U0CAROL",
        dep("production"),
        "C0DEPLOYS",
        False,
        "U0CAROL may not deploy to production: that is for @deployers",
        (),
    ),
    ("U0EVE", dep("production"), "C0DEPLOYS", False, "U0EVE may not deploy to production: that is for @deployers", ()),
    (
        "U0ALICE",
        dep("production"),
        "C0RANDOM",
        False,
        "production may only be changed from channel C0DEPLOYS, not C0RANDOM",
        (),
    ),
    (
        "U0ADMIN",
        dep("production"),
        "C0RANDOM",
        True,
        "U0ADMIN may deploy to production as an admin",
        (
            "admin: not in production's deploy list (@deployers)",
            "admin: asked from C0RANDOM, outside production's channels (C0DEPLOYS)",
        ),
    ),
    (
        "U0CAROL",
        Rollback("shop", "production"),
        "C0DEPLOYS",
        True,
        "U0CAROL may roll back production (@deployers or @sre)",
        (),
    ),
    (
        "U0EVE",
        Rollback("shop", "production"),
        "C0DEPLOYS",
        False,
        "U0EVE may not roll back production: that is for @deployers or @sre",
        (),
    ),
    ("U0EVE", Rollback("shop", "staging"), "C0X", True, "U0EVE may roll back staging (everyone)", ()),
    ("U0CAROL", Lock("shop", "production"), "C0X", True, "U0CAROL may lock production (@sre)", ()),
    ("U0ALICE", Lock("shop", "production"), "C0X", False, "U0ALICE may not lock production: that is for @sre", ()),
    ("U0EVE", Lock("shop", "staging"), "C0X", True, "U0EVE may lock staging (everyone)", ()),
    (
        "U0ALICE",
        RunTask("shop", "migrate", "production"),
        "C0DEPLOYS",
        True,
        "U0ALICE may run tasks in production (@deployers)",
        (),
    ),
    ("U0EVE", RunTask("shop", "migrate", "staging"), "C0X", True, "U0EVE may run tasks in staging (everyone)", ()),
    (
        "U0ALICE",
        Unlock("shop", "production", force=True),
        "C0X",
        False,
        "U0ALICE may not unlock someone else's lock on production: that is for admins only",
        (),
    ),
    (
        "U0EVE",
        Unlock("shop", "production"),
        "C0X",
        True,
        "the lock's owner may unlock it; anyone else needs --force and the right to",
        (),
    ),
    ("U0EVE", Status(), "C0X", True, "everyone may read status, history and help", ()),
    ("U0EVE", Help(), "C0X", True, "everyone may read status, history and help", ()),
]


@pytest.mark.parametrize(("user", "command", "channel", "allowed", "reason", "overrides"), WHO_MAY)
def test_who_may_do_what_where(
    user: str, command: Command, channel: str, allowed: bool, reason: str, overrides: tuple[str, ...]
) -> None:
    decision = decide(POLICIES, actor(user), command, channel, TUESDAY)
    assert (decision.allowed, decision.reason, decision.overrides) == (allowed, reason, overrides)


def test_production_deploy_needs_approval_and_queues() -> None:
    decision = decide(POLICIES, actor("U0ALICE"), dep("production"), "C0DEPLOYS", TUESDAY)
    assert decision == Decision(
        True,
        "U0ALICE may deploy to production (@deployers)",
        approval_required=True,
        approvers=("@sre",),
        approval_timeout=900.0,
        queue=True,
    )


def test_an_environment_without_rules_is_for_admins_only() -> None:
    policy = policy_for(config(environments=("staging", "production", "qa"), access=ACCESS))
    assert decide_action(policy, actor_for(policy, "U0ALICE"), "deploy", "qa", "C0X", TUESDAY) == Decision(
        False,
        "qa has no rules under access.environments, so only admins may deploy to qa",
        hint="An admin can add rules for it to the config.",
    )
    admin = decide_action(policy, actor_for(policy, "U0ADMIN"), "deploy", "qa", "C0X", TUESDAY)
    assert (admin.allowed, admin.overrides) == (True, ("admin: qa has no access rules",))


def test_no_access_section_lets_everyone_do_everything() -> None:
    for command in (
        dep("production"),
        Rollback("shop", "production"),
        Lock("shop", "production"),
        dep("staging", True),
    ):
        decision = decide(OPEN, {"shop": Actor("U0ANYONE")}, command, "C0X", TUESDAY)
        assert (decision.allowed, decision.reason) == (
            True,
            "no access rules are configured, so everyone may do everything",
        )


# ------------------------------------------------------------------------------------------- identity


def test_a_renamed_user_gains_nothing() -> None:
    # Eve renames herself "alice" (or even "U0ALICE" as display name): the ID Slack sends is still hers.
    eve = actor("U0EVE")
    assert eve == {"shop": Actor("U0EVE", frozenset())}
    assert decide(POLICIES, eve, dep("production"), "C0DEPLOYS", TUESDAY).allowed is False
    # Alice renamed keeps her rights: the ID is the same.
    assert decide(POLICIES, actor("U0ALICE"), dep("production"), "C0DEPLOYS", TUESDAY).allowed is True


def test_display_names_in_the_config_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        policy_for(
            config(access={"groups": {"deployers": ["alice"]}, "environments": {"staging": {"deploy": ["bob"]}}})
        )
    assert caught.value.problems == [
        "access.groups.deployers[0]: 'alice' is not a Slack user ID (U… or W…); display names change, IDs do not "
        "(got 'alice')",
        "access.environments.staging.deploy[0]: 'bob' is not a Slack user ID (U… or W…), an @group or '*'; display "
        "names change, IDs do not (got 'bob')",
    ]


def test_slack_groups_resolve_through_memberships() -> None:
    policy = policy_for(
        config(
            access={
                "environments": {"production": {"deploy": ["@oncall", "@deployers"]}},
                "groups": {"deployers": ["U0ALICE"]},
            }
        )
    )
    assert slack_handles(policy) == frozenset({"oncall"})
    dave = actor_for(policy, "U0DAVE", {"oncall": frozenset({"U0DAVE"})})
    assert dave == Actor("U0DAVE", frozenset({"oncall"}))
    assert decide_action(policy, dave, "deploy", "production", "C0X", TUESDAY).allowed is True
    # a Slack group with the name of a config group does not add members to it
    assert actor_for(policy, "U0EVE", {"deployers": frozenset({"U0EVE"})}) == Actor("U0EVE", frozenset())


# -------------------------------------------------------------------------------------------- approval


def test_approval_by_the_requester_is_refused_even_for_admins() -> None:
    for user in ("U0CAROL", "U0ADMIN"):
        decision = decide_approval(POLICY, actor(user)["shop"], user, "production", "C0DEPLOYS", TUESDAY)
        assert decision == Decision(False, "you cannot approve your own deploy", hint="Ask someone else: @sre.")


def test_approval_by_an_approver_and_by_others() -> None:
    ok = decide_approval(POLICY, actor("U0CAROL")["shop"], "U0ALICE", "production", "C0DEPLOYS", TUESDAY)
    assert (ok.allowed, ok.reason) == (True, "U0CAROL may approve deploys to production (@sre)")
    no = decide_approval(POLICY, actor("U0BOB")["shop"], "U0ALICE", "production", "C0DEPLOYS", TUESDAY)
    assert (no.allowed, no.reason) == (False, "U0BOB may not approve deploys to production: that is for @sre")


# -------------------------------------------------------------------------------------------- unlock


LOCK = LockRecord("production", "U0CAROL", "db migration", since=1_780_000_000.0)


@pytest.mark.parametrize(
    ("user", "force", "expected"),
    [
        ("U0CAROL", False, Decision(True, "U0CAROL holds the lock")),
        (
            "U0ALICE",
            False,
            Decision(
                False,
                "production is locked by U0CAROL since 2026-05-28 20:26 UTC: db migration; only they can unlock it",
                hint="Ask U0CAROL to unlock it, or an admin.",
            ),
        ),
        (
            "U0ALICE",
            True,
            Decision(
                False,
                "production is locked by U0CAROL since 2026-05-28 20:26 UTC: db migration; only they or an admin "
                "can unlock it",
                hint="Ask U0CAROL or an admin.",
            ),
        ),
        (
            "U0ADMIN",
            False,
            Decision(
                False,
                "production is locked by U0CAROL since 2026-05-28 20:26 UTC: db migration; only they can unlock it",
                hint="You may override it with `unlock production --force` (recorded).",
            ),
        ),
        (
            "U0ADMIN",
            True,
            Decision(True, "U0ADMIN may remove others' locks", ("unlocked U0CAROL's lock (db migration)",)),
        ),
    ],
)
def test_only_the_owner_or_an_admin_with_force_unlocks(user: str, force: bool, expected: Decision) -> None:
    assert decide_unlock(POLICY, actor(user)["shop"], LOCK, force, "C0X", TUESDAY) == expected


# ---------------------------------------------------------------------------------------------- freeze


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


FRIDAY_END = "until Sat 2026-05-09 00:00 Europe/Berlin"
FREEZE_EDGES = [
    # Friday afternoon, Berlin summer time (UTC+2): 12:00 local = 10:00Z, window ends 24:00 local = 22:00Z
    ("2026-05-08T09:59:00+00:00", None),
    (
        "2026-05-08T10:00:00+00:00",
        FreezeHit("No deploys on Friday afternoon", at("2026-05-08T22:00:00+00:00"), "Europe/Berlin"),
    ),
    (
        "2026-05-08T21:59:59+00:00",
        FreezeHit("No deploys on Friday afternoon", at("2026-05-08T22:00:00+00:00"), "Europe/Berlin"),
    ),
    ("2026-05-08T22:00:00+00:00", None),
    # Winter time (UTC+1): 12:00 local = 11:00Z
    ("2026-01-09T10:59:00+00:00", None),
    (
        "2026-01-09T11:00:00+00:00",
        FreezeHit("No deploys on Friday afternoon", at("2026-01-09T23:00:00+00:00"), "Europe/Berlin"),
    ),
    (
        "2026-01-09T22:59:00+00:00",
        FreezeHit("No deploys on Friday afternoon", at("2026-01-09T23:00:00+00:00"), "Europe/Berlin"),
    ),
    ("2026-01-09T23:00:00+00:00", None),
    # Holiday freeze, inclusive of the `to` day (UTC by default)
    ("2026-12-19T23:59:00+00:00", None),
    ("2026-12-20T00:00:00+00:00", FreezeHit("holiday freeze", at("2027-01-05T00:00:00+00:00"), "UTC")),
    ("2027-01-04T23:59:00+00:00", FreezeHit("holiday freeze", at("2027-01-05T00:00:00+00:00"), "UTC")),
    ("2027-01-05T00:00:00+00:00", None),
]


@pytest.mark.parametrize(("moment", "expected"), FREEZE_EDGES)
def test_production_freeze_edges(moment: str, expected: FreezeHit | None) -> None:
    assert active_freeze(POLICY.access.freeze if POLICY.access else [], "production", at(moment)) == expected


DST_EDGES = [
    # 2026-03-29: Berlin springs forward at 02:00 CET -> 03:00 CEST. "* 1-3 * * SUN" is 01:00 CET (00:00Z) to
    # 03:59 CEST (01:59Z): two hours in UTC, not three.
    ("2026-03-28T23:59:00+00:00", None),
    ("2026-03-29T00:00:00+00:00", FreezeHit("DST drill", at("2026-03-29T02:00:00+00:00"), "Europe/Berlin")),
    ("2026-03-29T01:00:00+00:00", FreezeHit("DST drill", at("2026-03-29T02:00:00+00:00"), "Europe/Berlin")),
    ("2026-03-29T01:59:00+00:00", FreezeHit("DST drill", at("2026-03-29T02:00:00+00:00"), "Europe/Berlin")),
    ("2026-03-29T02:00:00+00:00", None),
    # 2026-10-24/25 dated freeze in Berlin: starts 00:00 CEST on the 24th (22:00Z on the 23rd), ends 24:00 CET on
    # the 25th (23:00Z), after the clocks went back at 03:00 CEST -> 02:00 CET on the 25th.
    ("2026-10-23T21:59:00+00:00", None),
    ("2026-10-23T22:00:00+00:00", FreezeHit("autumn freeze", at("2026-10-25T23:00:00+00:00"), "Europe/Berlin")),
    ("2026-10-25T22:59:00+00:00", FreezeHit("autumn freeze", at("2026-10-25T23:00:00+00:00"), "Europe/Berlin")),
    ("2026-10-25T23:00:00+00:00", None),
    # 2026-10-25 is also a Sunday: "* 1-3" local runs 01:00 CEST (23:00Z on the 24th) to 03:59 CET (02:59Z),
    # four hours in UTC because 02:00-02:59 happens twice.
    ("2026-10-25T00:30:00+00:00", FreezeHit("DST drill", at("2026-10-25T03:00:00+00:00"), "Europe/Berlin")),
    ("2026-10-25T02:59:00+00:00", FreezeHit("DST drill", at("2026-10-25T03:00:00+00:00"), "Europe/Berlin")),
]


@pytest.mark.parametrize(("moment", "expected"), DST_EDGES)
def test_staging_freezes_across_daylight_saving_changes(moment: str, expected: FreezeHit | None) -> None:
    assert active_freeze(POLICY.access.freeze if POLICY.access else [], "staging", at(moment)) == expected


def test_a_deploy_in_a_freeze_is_refused_with_reason_and_end() -> None:
    friday = at("2026-05-08T12:00:00+00:00")
    decision = decide(POLICIES, actor("U0ALICE"), dep("production"), "C0DEPLOYS", friday)
    assert decision == Decision(
        False, f"production is frozen: No deploys on Friday afternoon, {FRIDAY_END}", hint="Wait until it ends."
    )


def test_force_passes_a_freeze_only_for_those_allowed_to_force() -> None:
    friday = at("2026-05-08T12:00:00+00:00")
    bob = decide(POLICIES, actor("U0BOB"), dep("production", force=True), "C0DEPLOYS", friday)
    assert (bob.allowed, bob.forced, bob.overrides) == (
        True,
        True,
        (f"forced through a freeze: No deploys on Friday afternoon, {FRIDAY_END}",),
    )
    alice = decide(POLICIES, actor("U0ALICE"), dep("production", force=True), "C0DEPLOYS", friday)
    assert alice == Decision(
        False,
        "U0ALICE may not force deploys to production: that is for U0BOB",
        hint="Drop the `!` to deploy normally.",
    )
    bob_plain = decide(POLICIES, actor("U0BOB"), dep("production"), "C0DEPLOYS", friday)
    assert bob_plain.hint == "You may force it with `deploy! [APP] [REF] to ENV`."


def test_a_freeze_does_not_stop_a_rollback() -> None:
    friday = at("2026-05-08T12:00:00+00:00")
    assert decide(POLICIES, actor("U0CAROL"), Rollback("shop", "production"), "C0DEPLOYS", friday).allowed is True


FRIDAY = at("2026-05-08T12:00:00+00:00")
FROZEN = f"production is frozen: No deploys on Friday afternoon, {FRIDAY_END}"
ROLLBACK_CASES: list[tuple[str, Rollback, datetime, Decision]] = [
    (
        "U0CAROL",
        Rollback("shop", "production"),
        TUESDAY,
        Decision(True, "U0CAROL may roll back production (@deployers or @sre)", approvers=("@sre",), queue=True),
    ),
    (
        "U0CAROL",
        Rollback("shop", "production"),
        FRIDAY,
        Decision(True, "U0CAROL may roll back production (@deployers or @sre)", approvers=("@sre",), queue=True),
    ),
    (
        "U0CAROL",
        Rollback("shop", "production", "v1.4.1"),
        TUESDAY,
        Decision(
            True,
            "U0CAROL may roll back production (@deployers or @sre)",
            approval_required=True,
            approvers=("@sre",),
            queue=True,
        ),
    ),
    (
        "U0CAROL",
        Rollback("shop", "production", "v1.4.1"),
        FRIDAY,
        Decision(False, FROZEN, hint="Wait until it ends."),
    ),
    (
        "U0BOB",
        Rollback("shop", "production", "v1.4.1"),
        FRIDAY,
        Decision(False, FROZEN, hint="You may force it with `rollback! [APP] ENV to RELEASE|SHA`."),
    ),
    (
        "U0BOB",
        Rollback("shop", "production", "v1.4.1", force=True),
        FRIDAY,
        Decision(
            True,
            "U0BOB may roll back production (@deployers or @sre)",
            (f"forced through a freeze: No deploys on Friday afternoon, {FRIDAY_END}",),
            approval_required=True,
            approvers=("@sre",),
            queue=True,
            forced=True,
        ),
    ),
    (
        "U0CAROL",
        Rollback("shop", "production", "v1.4.1", force=True),
        TUESDAY,
        Decision(
            False,
            "U0CAROL may not force rollbacks of production: that is for U0BOB",
            hint="Drop the `!` to roll back normally.",
        ),
    ),
    (
        "U0EVE",
        Rollback("shop", "production", "v1.4.1"),
        TUESDAY,
        Decision(
            False,
            "U0EVE may not roll back production: that is for @deployers or @sre",
            hint="`where can I deploy` lists what you may do; an admin can change access in the config.",
        ),
    ),
]


@pytest.mark.parametrize(("user", "command", "now", "expected"), ROLLBACK_CASES)
def test_a_rollback_to_a_chosen_release_passes_a_deploys_gates_and_a_plain_one_does_not(
    user: str, command: Rollback, now: datetime, expected: Decision
) -> None:
    assert decide(POLICIES, actor(user), command, "C0DEPLOYS", now) == expected


# ------------------------------------------------------------------------------------------------ help


PROD_ONLY = {
    "shop": policy_for(
        config(access={**ACCESS, "environments": {"production": ACCESS["environments"]["production"]}, "freeze": []})
    )
}


@pytest.mark.parametrize(
    ("user", "channel", "expected"),
    [
        ("U0EVE", "C0X", ("status", "history", "unlock", "where", "flags", "help")),
        (
            "U0ALICE",
            "C0DEPLOYS",
            (
                "deploy",
                "rollback",
                "converge",
                "cancel",
                "plan",
                "status",
                "history",
                "unlock",
                "where",
                "run",
                "flags",
                "flag",
                "help",
            ),
        ),
        ("U0ALICE", "C0X", ("cancel", "status", "history", "unlock", "where", "flags", "help")),
        (
            "U0CAROL",
            "C0DEPLOYS",
            ("rollback", "status", "history", "lock", "unlock", "where", "approve", "reject", "flags", "help"),
        ),
        (
            "U0BOB",
            "C0DEPLOYS",
            (
                "deploy",
                "deploy!",
                "rollback",
                "rollback!",
                "converge",
                "cancel",
                "plan",
                "status",
                "history",
                "unlock",
                "where",
                "run",
                "flags",
                "flag",
                "flag!",
                "help",
            ),
        ),
        (
            "U0ADMIN",
            "C0X",
            (
                "deploy",
                "deploy!",
                "rollback",
                "rollback!",
                "converge",
                "cancel",
                "plan",
                "status",
                "history",
                "lock",
                "unlock",
                "where",
                "run",
                "approve",
                "reject",
                "flags",
                "flag",
                "flag!",
                "help",
            ),
        ),
    ],
)
def test_help_lists_only_what_the_asker_may_do_there(user: str, channel: str, expected: tuple[str, ...]) -> None:
    actors = {"shop": actor_for(PROD_ONLY["shop"], user)}
    assert allowed_topics(PROD_ONLY, actors, channel) == expected


def test_help_on_an_open_config_lists_everything() -> None:
    assert len(allowed_topics(OPEN, {"shop": Actor("U0X")}, "C0X")) == 19


# -------------------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    ("access", "problems"),
    [
        (
            {"environments": {"prodution": {"deploy": ["*"]}}},
            ["access.environments.prodution: 'prodution' is not an environment of shop; did you mean 'production'?"],
        ),
        (
            {"environments": {"staging": {"deploy": ["*"], "deplyo": ["*"]}}},
            [
                "access.environments.staging.deplyo: unknown key; the README's config reference lists the keys "
                "allowed here"
            ],
        ),
        (
            {"freeze": [{"environments": ["production"], "cron": "every friday", "reason": "x"}]},
            ["access.freeze[0]: 'every friday' is not a cron expression (minute hour day month weekday)"],
        ),
        (
            {
                "freeze": [
                    {"environments": ["production"], "cron": "0 12 * * FRI", "timezone": "Mars/Olympus", "reason": "x"}
                ]
            },
            ["access.freeze[0]: unknown timezone 'Mars/Olympus'; use a name like Europe/Berlin or UTC"],
        ),
        (
            {"freeze": [{"environments": ["qa"], "from": "2026-01-02", "to": "2026-01-01", "reason": "x"}]},
            ["access.freeze[0]: to is before from"],
        ),
        (
            {"freeze": [{"environments": ["qa"], "from": "2026-01-01", "to": "2026-01-02", "reason": "x"}]},
            [
                "access.freeze[0].environments[0]: 'qa' is not an environment of shop; environments are staging, "
                "production"
            ],
        ),
        (
            {"environments": {"production": {"channels": ["#deploys"], "approval": "maybe"}}},
            [
                "access.environments.production.approval: Input should be 'required' or 'none' (got 'maybe')",
                "access.environments.production.channels[0]: '#deploys' is not a Slack channel ID (C…, G… or D…) "
                "(got '#deploys')",
            ],
        ),
    ],
)
def test_access_config_errors_name_the_key_path(access: dict[str, Any], problems: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        policy_for(config(access=access))
    assert caught.value.problems == problems


def test_approval_timeout_is_configurable() -> None:
    policy: AppPolicy = policy_for(
        config(access={"environments": {"production": {"deploy": ["*"], "approval": True, "approval_timeout": "5m"}}})
    )
    decision = decide_action(policy, Actor("U0X"), "deploy", "production", "C0X", TUESDAY)
    assert (decision.approval_required, decision.approval_timeout, decision.approvers) == (True, 300.0, ("*",))
