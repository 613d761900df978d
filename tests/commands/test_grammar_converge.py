"""``converge [APP] ENV``, deploy targets of environments whose hosts are discovered, and converge's policy (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.access_config import policy_for
from commands.command import Converge, Deploy
from commands.errors import CommandError
from commands.grammar.dispatch import parse
from commands.policy import Actor, decide
from commands.vocabulary import GrammarContext
from deploy.config.models import Config, parse_config


def config(app: str = "shop", **access: object) -> Config:
    return parse_config({
        "app": app, "repo": "r", "deploy_to": "/srv/shop",
        "environments": {
            "staging": {"discover": [{"dns_srv": "_web._tcp.x.test", "roles": ["web"]}, {"command": "./inv"}]},
            "production": {"hosts": [{"address": "10.0.0.1", "roles": ["web"]}]},
        },
        "access": access,
    })  # fmt: skip


CONTEXT = GrammarContext.from_configs([config()], None)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("converge staging", Converge("shop", "staging")),
        ("converge shop stg", Converge("shop", "staging")),
        ("/deploy converge prod", Converge("shop", "production")),
        ("CONVERGE production", Converge("shop", "production")),
        # discovered environments take any plain role or host word: the run checks it against the hosts it finds
        ("deploy main to staging/web", Deploy("shop", "staging", "main", "web")),
        ("deploy main to staging/db", Deploy("shop", "staging", "main", "db")),
        ("deploy main to staging/10.0.0.5:2222", Deploy("shop", "staging", "main", "10.0.0.5:2222")),
    ],
)
def test_converge_and_discovered_targets_read(text: str, command: object) -> None:
    assert parse(text, CONTEXT) == command


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("converge", "converge which environment?"),
        ("converge stagin", "did you mean"),
        ("converge staging now", "too many words for `converge`"),
        ("deploy main to production/db", "production has no role or host `db`"),
        ("deploy main to staging/$(id)", "has no role or host"),
    ],
)
def test_converge_and_target_mistakes_get_one_hint(text: str, message: str) -> None:
    with pytest.raises(CommandError) as err:
        parse(text, CONTEXT)
    assert message in f"{err.value.message} {err.value.hint}"


NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday afternoon


@pytest.mark.parametrize(
    ("user", "channel", "allowed", "reason"),
    [
        ("U0ALICE", "C0DEPLOYS", True, "may deploy"),
        ("U0EVE", "C0DEPLOYS", False, "may not deploy"),
        ("U0ALICE", "C0RANDOM", False, "C0DEPLOYS"),
    ],
)
def test_converge_is_decided_like_a_deploy(user: str, channel: str, allowed: bool, reason: str) -> None:
    cfg = config(environments={"production": {"deploy": ["U0ALICE"], "channels": ["C0DEPLOYS"]}})
    decision = decide({"shop": policy_for(cfg)}, {"shop": Actor(user)}, Converge("shop", "production"), channel, NOW)
    assert decision.allowed is allowed
    assert reason in f"{decision.reason} {decision.hint}"


def test_converge_is_refused_in_a_freeze_like_a_deploy() -> None:
    cfg = config(
        environments={"production": {"deploy": ["*"]}},
        freeze=[{"environments": ["production"], "cron": "0 12-23 * * FRI", "timezone": "UTC", "reason": "Fridays"}],
    )
    decision = decide({"shop": policy_for(cfg)}, {"shop": Actor("U0ALICE")}, Converge("shop", "production"), "C", NOW)
    assert not decision.allowed
    assert "frozen: Fridays" in decision.reason
