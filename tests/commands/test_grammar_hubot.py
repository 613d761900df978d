"""hubot-deploy's phrases as aliases of shipbot's grammar: each phrase reads as a shipbot command, or is refused
with what to type instead (never a default environment, never a second-factor code read as a word)."""

from __future__ import annotations

import pytest

from commands.command import Command, Deploy, History, Lock, Rollback, RunTask, WhereCanIDeploy
from commands.errors import CommandError
from commands.grammar import parse
from commands.vocabulary import GrammarContext
from tests.commands.helpers import TWO_APPS, config

HUBOT = GrammarContext.from_configs([config("hubot")], bot_user_id="U0SHIPBOT")
ENVS = "Environments: `production`, `staging`."
NEVER = "shipbot never picks one for you."
TRY_RUN = "Try: `run [APP] TASK on ENV[/ROLE]`"
SECOND_FACTOR = "that looks like a second-factor code at the end; shipbot does not take one"
YUBIKEY = "ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded"


def read_as_app(word: str, environment: str, verb: str = "deploy", ref: str | None = None) -> str:
    reading = f"the app hubot and the ref `{ref}`" if ref else "the app hubot"
    return (
        f"`{word}` was read as {reading}, not a branch; "
        f"for a branch named `{word}`, write `{verb} hubot {word} to {environment}`."
    )


def second_factor(command: str) -> CommandError:
    return CommandError(
        SECOND_FACTOR,
        f"shipbot knows you by your Slack account and checks its access rules itself: send `{command}` without "
        "the code.",
    )


ONE_APP_PHRASES: list[tuple[str, Command | CommandError]] = [
    (
        "deploy hubot to production",
        Deploy("hubot", "production", "release", default_ref=True, note=read_as_app("hubot", "production")),
    ),
    (
        "deploy HUBOT in staging",
        Deploy("hubot", "staging", "main", default_ref=True, note=read_as_app("HUBOT", "staging")),
    ),
    (
        "deploy hubot/my-branch to production",
        Deploy("hubot", "production", "my-branch", note=read_as_app("hubot/my-branch", "production", ref="my-branch")),
    ),
    (
        "deploy hubot/my-branch to production/web",
        Deploy(
            "hubot",
            "production",
            "my-branch",
            "web",
            note=read_as_app("hubot/my-branch", "production", ref="my-branch"),
        ),
    ),
    (
        "deploy hubot to production/web",
        Deploy("hubot", "production", "release", "web", default_ref=True, note=read_as_app("hubot", "production")),
    ),
    (
        "deploy! hubot to production",
        Deploy(
            "hubot",
            "production",
            "release",
            force=True,
            default_ref=True,
            note=read_as_app("hubot", "production", "deploy!"),
        ),
    ),
    ("deploy hubot@v1.4.2 to staging", Deploy("hubot", "staging", "v1.4.2")),
    ("deploy hubot hubot to staging", Deploy("hubot", "staging", "hubot")),
    ("deploy hubot hubot/my-branch to staging", Deploy("hubot", "staging", "hubot/my-branch")),
    ("deploy main to staging", Deploy("hubot", "staging", "main")),
    ("deploys hubot", History("hubot")),
    ("deploys hubot in production", History("hubot", "production")),
    ("deploys hubot on stg 5", History("hubot", "staging", 5)),
    ("deploys in production", History("hubot", "production")),
    ("deploy:migrate hubot to production", RunTask("hubot", "migrate", "production")),
    ("deploy:migrate hubot in production/db", RunTask("hubot", "migrate", "production", "db")),
    ("deploy:MIGRATE to staging", RunTask("hubot", "migrate", "staging")),
    ("where can I deploy hubot", WhereCanIDeploy("hubot")),
    ("rollback production to 1234567", Rollback("hubot", "production", "1234567")),
    ("lock production for 123456", Lock("hubot", "production", "123456")),
    (
        "deploy hubot",
        CommandError("deploy `hubot` where?", f"Name the environment, like `deploy hubot to staging`; {NEVER} {ENVS}"),
    ),
    (
        "deploy! hubot",
        CommandError(
            "deploy! `hubot` where?", f"Name the environment, like `deploy! hubot to staging`; {NEVER} {ENVS}"
        ),
    ),
    (
        "deploy hubot/my-branch",
        CommandError(
            "deploy `hubot/my-branch` where?",
            f"Name the environment, like `deploy hubot/my-branch to staging`; {NEVER} {ENVS}",
        ),
    ),
    ("deploy hubot to production 123456", second_factor("deploy hubot to production")),
    ("deploy hubot to production/web 12345678", second_factor("deploy hubot to production/web")),
    ("deploy hubot 1234567", second_factor("deploy hubot")),
    (f"deploy hubot to production {YUBIKEY}", second_factor("deploy hubot to production")),
    ("rollback production 123456", second_factor("rollback production")),
    ("deploy:migrate hubot to staging 123456", second_factor("deploy:migrate hubot to staging")),
    (
        "deploy:migrate hubot",
        CommandError(
            "run `migrate` hubot where?", f"Name the environment, like `deploy:migrate hubot to ENV`; {NEVER} {ENVS}"
        ),
    ),
    (
        "deploy:migrate! hubot to staging",
        CommandError("a task is never forced", "Drop the `!`: `deploy:migrate hubot to staging`."),
    ),
    (
        "deploy:version hubot",
        CommandError("unknown task `version`", f"Tasks: `cache-clear`, `migrate`. {TRY_RUN}"),
    ),
    ("deploy:migrat hubot to staging", CommandError("unknown task `migrat`", f"did you mean `migrate`? {TRY_RUN}")),
    ("deploy: hubot", CommandError("deploy: which task?", f"Tasks: `cache-clear`, `migrate`. {TRY_RUN}")),
    (
        "deploy:migrate hubot/my-branch to staging",
        CommandError("a task takes no ref: `migrate` runs on what is deployed", f"Leave out `/my-branch`. {TRY_RUN}"),
    ),
    (
        "deploys hubot/my-branch in production",
        CommandError(
            "the history lists every ref; it cannot be limited to one branch",
            "Leave out `/my-branch`, like `deploys hubot in ENV`. Try: `history [APP] [ENV] [N]`",
        ),
    ),
    (
        "rollback! production",
        CommandError(
            "a rollback to the previous release needs no `!`",
            "Nothing stops it coming back, not even a freeze: drop the `!`. `rollback! ENV to RELEASE` forces a "
            "chosen release.",
        ),
    ),
]

TWO_APP_PHRASES: list[tuple[str, Command | CommandError]] = [
    ("deploy api to staging", Deploy("api", "staging", "main", default_ref=True)),
    ("deploy api/feature/x to staging/web", Deploy("api", "staging", "feature/x", "web")),
    ("deploy! api to sandbox", Deploy("api", "sandbox", "main", force=True, default_ref=True)),
    ("deploys api", History("api")),
    ("deploys api in sandbox", History("api", "sandbox")),
    ("deploy:reindex api to staging", RunTask("api", "reindex", "staging")),
    ("deploy:reindex to sandbox", RunTask("api", "reindex", "sandbox")),
    (
        "deploy api",
        CommandError(
            "deploy `api` where?",
            f"Name the environment, like `deploy api to staging`; {NEVER} Environments: `sandbox`, `staging`.",
        ),
    ),
    (
        "deploy:reindex api",
        CommandError(
            "run `reindex` api where?",
            f"Name the environment, like `deploy:reindex api to ENV`; {NEVER} Environments: `sandbox`, `staging`.",
        ),
    ),
    ("deploy api to sandbox 654321", second_factor("deploy api to sandbox")),
]


def _read(text: str, context: GrammarContext) -> Command | CommandError:
    try:
        return parse(text, context)
    except CommandError as err:
        return err


@pytest.mark.parametrize(("text", "expected"), ONE_APP_PHRASES)
def test_hubot_phrases_with_one_app(text: str, expected: Command | CommandError) -> None:
    assert _read(text, HUBOT) == expected


@pytest.mark.parametrize(("text", "expected"), TWO_APP_PHRASES)
def test_hubot_phrases_with_two_apps(text: str, expected: Command | CommandError) -> None:
    assert _read(text, TWO_APPS) == expected
