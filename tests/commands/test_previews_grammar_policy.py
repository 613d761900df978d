"""``preview``, ``teardown`` and ``previews``: how they read, who may use them, and when help shows them (tables)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from commands.access_config import policy_for
from commands.command import ListPreviews, Preview, Teardown
from commands.errors import CommandError
from commands.grammar import parse
from commands.identity import actor_for
from commands.parse_report import parse_report
from commands.policy import allowed_topics, decide_preview
from tests.commands.helpers import ONE_APP, SHOP, TWO_APPS, config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preview demo/xyz", Preview("demo/xyz")),
        ("Preview Demo/XYZ", Preview("Demo/XYZ")),
        ("preview shop demo/xyz", Preview("demo/xyz", "shop")),
        ("teardown demo/xyz", Teardown("demo/xyz")),
        ("teardown api demo/xyz", Teardown("demo/xyz", "api")),
        ("previews", ListPreviews()),
        ("previews api", ListPreviews("api")),
        ("/deploy preview demo/xyz", Preview("demo/xyz")),
    ],
)
def test_preview_commands_read(text: str, expected: object) -> None:
    assert expected == parse(text, TWO_APPS)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("preview", "preview which branch?"),
        ("teardown", "teardown which branch?"),
        ("preview a b c", "too many words"),
        ("preview nope demo/x", "unknown app `nope`"),
        ("preview demo/../x", "not a ref shipbot accepts"),
        ("preview demo/x;reboot", "not a ref shipbot accepts"),
        ("previews nope", "unknown app"),
    ],
)
def test_preview_commands_refused(text: str, says: str) -> None:
    with pytest.raises(CommandError) as err:
        parse(text, ONE_APP)
    assert says in err.value.message


STAGING_FOR_ALICE: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "environments": {"staging": {"deploy": ["U0ALICE"]}, "production": {"deploy": ["U0BOB"]}},
}


@pytest.mark.parametrize(
    ("access", "user", "action", "allowed"),
    [
        (None, "U0EVE", "preview", True),  # no access section: open
        (STAGING_FOR_ALICE, "U0ALICE", "preview", True),  # may deploy to staging
        (STAGING_FOR_ALICE, "U0BOB", "teardown", True),  # may deploy to production
        (STAGING_FOR_ALICE, "U0EVE", "preview", False),  # may deploy nowhere
        (STAGING_FOR_ALICE, "U0ADMIN", "teardown", True),
        ({**STAGING_FOR_ALICE, "preview": ["U0EVE"]}, "U0EVE", "preview", True),
        ({**STAGING_FOR_ALICE, "preview": ["U0EVE"]}, "U0ALICE", "preview", False),  # the list replaces the default
        ({**STAGING_FOR_ALICE, "preview": ["U0EVE"]}, "U0ALICE", "teardown", True),  # teardown keeps its default
        ({**STAGING_FOR_ALICE, "teardown": []}, "U0ALICE", "teardown", False),
        ({**STAGING_FOR_ALICE, "teardown": []}, "U0ADMIN", "teardown", True),
    ],
)
def test_who_may_make_and_remove_previews(access: Any, user: str, action: str, allowed: bool) -> None:
    policy = policy_for(config(access=access))

    decision = decide_preview(policy, actor_for(policy, user), action)

    assert allowed == decision.allowed, decision.reason
    if not allowed:
        assert "previews of shop" in decision.reason


def test_help_shows_the_preview_commands_only_where_an_app_has_previews() -> None:
    plain = {"shop": policy_for(SHOP)}
    with_previews = {"shop": replace(plain["shop"], previews=True)}
    actors = {"shop": actor_for(plain["shop"], "U0ALICE")}

    assert not {"preview", "teardown", "previews"} & set(allowed_topics(plain, actors, "C0X"))
    assert {"preview", "teardown", "previews"} <= set(allowed_topics(with_previews, actors, "C0X"))


def test_parse_json_reports_a_preview_and_its_right() -> None:
    report = parse_report("preview demo/xyz", [config(access=STAGING_FOR_ALICE)], "U0EVE", "C0X")

    assert ("preview", "demo/xyz", False) == (report["command"], report["ref"], report["allowed"])
    assert "may not make previews of shop" in str(report["reason"])
