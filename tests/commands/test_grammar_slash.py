"""The ``/deploy`` slash command as Slack sends it: the text after the command word, never the word itself.

Empty text is help, text that starts with a command word is that command, anything else is a deploy."""

from __future__ import annotations

import pytest

from commands.command import (
    Approve,
    Cancel,
    Command,
    Deploy,
    Help,
    History,
    Lock,
    Reject,
    Rollback,
    RunTask,
    Status,
    Unlock,
    WhereCanIDeploy,
)
from commands.errors import CommandError
from commands.grammar import parse
from tests.commands.helpers import DEPLOY_SYNTAX, ONE_APP, TWO_APPS

NOTE = (
    "`shop/feature/x` was read as the app shop and the ref `feature/x`, not a branch; "
    "for a branch named `shop/feature/x`, write `deploy shop shop/feature/x to staging`."
)

SLASH_TEXTS: list[tuple[str, Command]] = [
    ("", Help()),
    ("   ", Help()),
    ("help", Help()),
    ("help deploy", Help("deploy")),
    ("HELP rollback!", Help("rollback!")),
    ("main to staging", Deploy("shop", "staging", "main")),
    ("feature/x to stg", Deploy("shop", "staging", "feature/x")),
    ("v1.4.2 production", Deploy("shop", "production", "v1.4.2")),
    ("staging", Deploy("shop", "staging", "main", default_ref=True)),
    ("to production/web", Deploy("shop", "production", "release", "web", default_ref=True)),
    ("`feature/x` to staging", Deploy("shop", "staging", "feature/x")),
    ("! main to production", Deploy("shop", "production", "main", force=True)),
    ("deploy! main to production", Deploy("shop", "production", "main", force=True)),
    ("deploy ! main to production", Deploy("shop", "production", "main", force=True)),
    ("deploy main to staging", Deploy("shop", "staging", "main")),
    ("shop/feature/x to staging", Deploy("shop", "staging", "feature/x", note=NOTE)),
    ("status", Status()),
    ("status staging", Status("shop", "staging")),
    ("Status prod", Status("shop", "production")),
    ("history", History()),
    ("history prod 5", History("shop", "production", 5)),
    ("deploys shop in production", History("shop", "production")),
    ("lock production for release prep", Lock("shop", "production", "release prep")),
    ("unlock production --force", Unlock("shop", "production", force=True)),
    ("rollback production", Rollback("shop", "production")),
    ("roll back production", Rollback("shop", "production")),
    ("rollback production to v1.4.1", Rollback("shop", "production", "v1.4.1")),
    ("rollback! production to v1.4.1", Rollback("shop", "production", "v1.4.1", force=True)),
    ("rollback ! production to v1.4.1", Rollback("shop", "production", "v1.4.1", force=True)),
    ("cancel", Cancel()),
    ("cancel r7k2m9", Cancel(run_id="r7k2m9")),
    ("where can I deploy", WhereCanIDeploy()),
    ("environments", WhereCanIDeploy()),
    ("run migrate on production", RunTask("shop", "migrate", "production")),
    ("deploy:migrate shop to production", RunTask("shop", "migrate", "production")),
    ("approve r7k2m9", Approve("r7k2m9")),
    ("reject r7k2m9 tests are red", Reject("r7k2m9", "tests are red")),
    ("/deploy main to staging", Deploy("shop", "staging", "main")),
]

TRY_DEPLOY = f"Try: {DEPLOY_SYNTAX}"
ENVS = "Environments: `production`, `staging`."

SLASH_ERRORS: list[tuple[str, CommandError]] = [
    ("main to stagin", CommandError("unknown environment `stagin`", f"did you mean `staging`? {TRY_DEPLOY}")),
    (
        "main",
        CommandError(
            "deploy `main` where?",
            f"Name the environment, like `deploy main to staging`; shipbot never picks one for you. {ENVS}",
        ),
    ),
    (
        "stauts",
        CommandError(
            "I don't know the command `stauts`", "did you mean `status`? To deploy a ref of that name: `deploy stauts`."
        ),
    ),
    (
        "histroy prod",
        CommandError(
            "I don't know the command `histroy`",
            "did you mean `history prod`? To deploy a ref of that name: `deploy histroy prod`.",
        ),
    ),
    (
        "main to production 123456",
        CommandError(
            "that looks like a second-factor code at the end; shipbot does not take one",
            "shipbot knows you by your Slack account and checks its access rules itself: send "
            "`deploy main to production` without the code.",
        ),
    ),
    (
        "status stagin",
        CommandError("unknown environment `stagin`", "did you mean `staging`? Try: `status [APP] [ENV]`"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), SLASH_TEXTS)
def test_slash_text(text: str, expected: Command) -> None:
    assert parse(text, ONE_APP, slash=True) == expected


@pytest.mark.parametrize(("text", "expected"), SLASH_ERRORS)
def test_slash_text_errors(text: str, expected: CommandError) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text, ONE_APP, slash=True)
    assert caught.value == expected


def test_slash_text_with_two_apps_names_the_app_like_any_deploy() -> None:
    assert parse("api@v2 to staging", TWO_APPS, slash=True) == Deploy("api", "staging", "v2")


def test_the_same_text_in_a_message_is_not_a_deploy() -> None:
    """Only after ``/deploy`` does a message without a command word read as a deploy."""
    with pytest.raises(CommandError) as caught:
        parse("main to staging", ONE_APP)
    assert caught.value == CommandError("I don't know the command `main`", "did you mean `deploy main to staging`?")
