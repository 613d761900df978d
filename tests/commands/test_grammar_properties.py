"""Property tests: parse raises nothing but CommandError and never returns unvalidated text."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.command import Command, Deploy, Help, Reject, Rollback, RunTask
from commands.errors import CommandError
from commands.grammar import RELEASE, RUN_ID, parse, reason_problem
from commands.help_text import SYNTAX
from commands.vocabulary import GrammarContext
from deploy.delivery.refs import ref_problem
from tests.commands.helpers import ONE_APP, TWO_APPS

WORDS = [
    "deploy",
    "deploy!",
    "rollback",
    "roll",
    "back",
    "cancel",
    "status",
    "history",
    "lock",
    "unlock",
    "where",
    "can",
    "I",
    "environments",
    "run",
    "approve",
    "reject",
    "help",
    "to",
    "in",
    "on",
    "for",
    "--force",
    "staging",
    "stg",
    "production",
    "prod",
    "sandbox",
    "shop",
    "api",
    "main",
    "feature/x",
    "v1.4.2",
    "3f2a9c1",
    "migrate",
    "reindex",
    "web",
    "db",
    "r7k2m9",
    "5",
    "<!channel>",
    "<!here>",
    "<@U0EVE>",
    "<@U0SHIPBOT>",
    "<http://x.io|x.io>",
    "&lt;",
    "&gt;",
    "&amp;",
    "`",
    "$(id)",
    ";",
    "|",
    "production/web",
    "shop@main",
    "shop/feature/y",
    "stagin",
    "ｄｅｐｌｏｙ",
    "dеploy",
    "\u200b",
    "\u00a0",
    "\x00",
    "\n",
    "é",
    "🚀",
    "..",
    "@{u}",
    "-rf",
    "/deploy",
    "?",
    "!",
    "deploys",
    "deploy:migrate",
    "deploy:reindex!",
    "rollback!",
    "shop/main",
    "api/main",
    "123456",
    "12345678",
]

messages = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=8).map(" ".join),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join),
)


def _assert_validated(command: Command, context: GrammarContext) -> None:
    fields = dataclasses.asdict(command)
    app = fields.get("app")
    environment = fields.get("environment")
    if app is not None:
        assert app in context.apps
    if environment is not None:
        assert any(environment in vocab.environments for vocab in context.apps.values())
        if app is not None:
            assert environment in context.apps[app].environments
    if isinstance(command, Deploy):
        assert ref_problem(command.ref) is None
    if isinstance(command, Deploy | RunTask) and command.target is not None:
        env = context.apps[command.app].environments[command.environment]
        assert command.target in (*env.roles, *env.hosts)
    if isinstance(command, RunTask):
        assert command.task in context.apps[command.app].tasks
    if isinstance(command, Rollback) and command.to is not None:
        assert RELEASE.fullmatch(command.to) and ref_problem(command.to) is None
    run_id = fields.get("run_id")
    if run_id is not None:
        assert RUN_ID.fullmatch(run_id)
    reason = fields.get("reason")
    if reason is not None:
        assert reason_problem(reason) is None
    if isinstance(command, Reject):
        assert reason_problem(command.reason) is None
    if isinstance(command, Help) and command.topic is not None:
        assert command.topic in SYNTAX
    for name, value in fields.items():
        if isinstance(value, str):
            assert "<" not in value and ">" not in value
            assert all(ch.isprintable() for ch in value)
            if name != "note":  # shipbot's own sentence about how it read the text, with the words in code spans
                assert "`" not in value


def _check(text: str, context: GrammarContext, *, slash: bool = False) -> None:
    try:
        command = parse(text, context, slash=slash)
    except CommandError as err:
        for part in (err.message, err.hint):
            assert "<" not in part, part
            assert "\x00" not in part and "\n" not in part
        return
    _assert_validated(command, context)


@settings(max_examples=600)
@given(messages)
def test_one_app_parse_raises_only_command_error_and_returns_validated_text(text: str) -> None:
    _check(text, ONE_APP)


@settings(max_examples=600)
@given(messages)
def test_two_apps_parse_raises_only_command_error_and_returns_validated_text(text: str) -> None:
    _check(text, TWO_APPS)


@settings(max_examples=300)
@given(messages)
def test_slash_text_raises_only_command_error_and_returns_validated_text(text: str) -> None:
    _check(text, ONE_APP, slash=True)
    _check(text, TWO_APPS, slash=True)


@given(st.text(min_size=1001, max_size=3000))
def test_long_input_is_refused(text: str) -> None:
    try:
        parse(text, ONE_APP)
    except CommandError as err:
        assert err.message.startswith("that message is too long")
    else:
        raise AssertionError("a message over the limit was read")


@given(
    st.sampled_from(["deploy", "status", "lock", "rollback"]),
    st.text(alphabet=st.characters(blacklist_characters="<>", blacklist_categories=["Cs"]), max_size=40),
)
def test_any_broadcast_is_refused_wherever_it_is(word: str, filler: str) -> None:
    try:
        parse(f"{word} {filler} <!channel> staging", ONE_APP)
    except CommandError as err:
        assert err.message == "your message contains a Slack broadcast (@channel); shipbot never passes one on"
    else:
        raise AssertionError("a broadcast went through")
