"""Who may change a feature flag, and when (pure): the ``flag`` right (the ``deploy`` list by default, bound to the
environment's channels), freezes for a change that raises exposure, never for the kill switch, ``flag!`` for those
who may force."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.access_config import policy_for
from commands.command import ChangeFlag
from commands.identity import Actor
from commands.policy import decide_action, may_force
from commands.usecases.flag_service import flag_decision
from deploy.flags.flag_defs import FlagDef
from tests.commands.helpers import config

FRIDAY = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)  # inside the freeze below
POLICY = policy_for(
    config(
        access={
            "admins": ["U0ADMIN"],
            "environments": {
                "staging": {"deploy": ["U0ALICE", "U0BOB"], "flag": ["U0ALICE"], "channels": ["C0DEPLOYS"]},
                "production": {"deploy": ["U0ALICE"], "force": ["U0BOB"], "flag": ["U0ALICE", "U0BOB"]},
            },
            "freeze": [{"environments": ["staging", "production"], "cron": "0 12-23 * * FRI", "reason": "Friday"}],
        }
    )
)


@pytest.mark.parametrize(
    ("user", "environment", "channel", "raising", "force", "allowed", "says"),
    [
        ("U0ALICE", "staging", "C0DEPLOYS", False, False, True, "may change feature flags in staging"),
        ("U0BOB", "staging", "C0DEPLOYS", False, False, False, "may not change feature flags in staging"),
        ("U0ALICE", "staging", "C0OTHER", False, False, False, "may only be changed from channel C0DEPLOYS"),
        ("U0ALICE", "staging", "C0DEPLOYS", True, False, False, "staging is frozen: Friday"),
        ("U0ALICE", "production", "C0X", True, True, False, "may not force flags in production"),
        ("U0BOB", "production", "C0X", True, True, True, "may change feature flags in production"),
        ("U0ADMIN", "production", "C0X", True, False, False, "production is frozen: Friday"),
    ],
)  # fmt: skip
def test_flag_decisions(
    user: str, environment: str, channel: str, raising: bool, force: bool, allowed: bool, says: str
) -> None:
    decision = decide_action(POLICY, Actor(user), "flag", environment, channel, FRIDAY, force=force, raising=raising)
    assert (decision.allowed, says in decision.reason) == (allowed, True), decision


def test_a_forced_raise_through_a_freeze_is_named_for_the_audit() -> None:
    decision = decide_action(POLICY, Actor("U0BOB"), "flag", "production", "C0X", FRIDAY, force=True, raising=True)
    assert [o for o in decision.overrides if o.startswith("forced through a freeze: Friday")] != []


def test_who_may_force_flags() -> None:
    assert [may_force(POLICY, Actor(u), "production") for u in ("U0ALICE", "U0BOB", "U0ADMIN")] == [False, True, True]
    assert may_force(POLICY, None, "production")  # the operator at the command line


APPROVING = policy_for(
    config(
        access={
            "admins": ["U0ADMIN"],
            "environments": {
                "staging": {"deploy": ["U0ALICE"], "force": ["U0ALICE"]},
                "production": {
                    "deploy": ["U0ALICE"], "force": ["U0ALICE"], "approve": ["U0BOB"], "approval": "required",
                },
            },
        }
    )
)  # fmt: skip
MONDAY = datetime(2026, 3, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "before", "after", "environment", "force", "waits"),
    [
        ("ramp", FlagDef(0), FlagDef(100), "production", False, True),  # raise, approval required: waits
        ("ramp", FlagDef(0), FlagDef(100), "production", True, True),  # flag! goes past freezes, never an approver
        ("allow", FlagDef(0), FlagDef(0, ("U1",)), "production", False, True),  # a key added raises too
        ("on", None, FlagDef(1000), "production", False, True),  # a new flag turned on
        ("ramp", FlagDef(0), FlagDef(100), "staging", False, False),  # raise, no approval there
        ("ramp", FlagDef(0), FlagDef(100), "staging", True, False),
        ("ramp", FlagDef(200), FlagDef(100), "production", False, False),  # lowering: the kill switch
        ("off", FlagDef(1000), FlagDef(0), "production", True, False),
        ("drop", FlagDef(0, ("U1", "U2")), FlagDef(0, ("U1",)), "production", False, False),
        ("ramp", FlagDef(200), FlagDef(100), "staging", False, False),
        ("revert", FlagDef(100), FlagDef(100), "production", False, False),  # the same exposure: nothing raised
    ],
)  # fmt: skip
def test_a_raise_waits_for_an_approver_where_deploys_do_and_lowering_never_does(
    action: str, before: FlagDef | None, after: FlagDef, environment: str, force: bool, waits: bool
) -> None:
    command = ChangeFlag(action, "new-login", "shop", environment, force=force)
    decision = flag_decision(APPROVING, Actor("U0ALICE"), command, before, after, "C0X", MONDAY)
    assert (decision.allowed, decision.approval_required) == (True, waits), decision
    if waits:
        assert decision.approvers == ("U0BOB",)
