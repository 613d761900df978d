"""Who may press Abort at a pause: the requester, approvers, deployers and admins; never blocked by a freeze."""

from __future__ import annotations

import pytest

from commands.access_config import policy_for
from commands.identity import actor_for
from commands.policy import decide_abort
from tests.commands.helpers import config
from tests.commands.test_policy import POLICY


@pytest.mark.parametrize(
    ("user", "environment", "allowed"),
    [
        pytest.param("U0EVE", "production", True, id="the-requester-even-outside-every-list"),
        pytest.param("U0CAROL", "production", True, id="an-approver"),
        pytest.param("U0ALICE", "production", True, id="a-deployer"),
        pytest.param("U0ADMIN", "production", True, id="an-admin"),
        pytest.param("U0DAVE", "production", False, id="someone-else"),
        pytest.param("U0DAVE", "qa", False, id="an-environment-without-rules"),
        pytest.param("U0ADMIN", "qa", True, id="an-admin-where-there-are-no-rules"),
    ],
)
def test_abort_is_for_the_requester_approvers_deployers_and_admins(user: str, environment: str, allowed: bool) -> None:
    decision = decide_abort(POLICY, actor_for(POLICY, user), "U0EVE", environment)

    assert allowed == decision.allowed, decision.reason
    assert decision.allowed or "may not abort" in decision.reason


def test_without_access_rules_anyone_may_abort() -> None:
    open_policy = policy_for(config())

    assert decide_abort(open_policy, actor_for(open_policy, "U0DAVE"), "U0EVE", "production").allowed
