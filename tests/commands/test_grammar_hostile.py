"""Property tests: the chat grammar against what the deploy side must never be handed: shipbot's own markers, NUL,
newlines, shell and option syntax in refs, and megabyte messages. Only CommandError comes out, in one line, and a
command that parses holds no such text."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.errors import CommandError
from commands.grammar import parse
from tests.commands.helpers import ONE_APP, TWO_APPS

HOSTILE = [
    "--- shipbot-preamble-end", "shipbot-listing-end", "shipbot-preamble-" + "0" * 32, "---", "\x00", "\n", "\r",
    "\u2028", "--output=/tmp/x", "-x", "demo/$(id)", "a..b", "main@{u}", "HEAD~1", "refs/heads/main", "$(id)",
    "`id`", "'", '"', "\\", "é", "🚀", "\t",
]  # fmt: skip
WORDS = ["deploy", "deploy!", "rollback", "to", "staging", "production", "shop", "api", "main", "--to", "lock"]
messages = st.lists(st.sampled_from(HOSTILE + WORDS) | st.text(max_size=10), min_size=1, max_size=7).map(" ".join)
_BAD = ("\x00", "\n", "\r", "\u2028", "$(", "`", "..", "@{", "shipbot-preamble", "shipbot-listing")


def _check(text: str) -> None:
    for context in (ONE_APP, TWO_APPS):
        try:
            command = parse(text, context)
        except CommandError as err:
            assert "\n" not in err.message and "\x00" not in err.message + err.hint
            continue
        for name, value in dataclasses.asdict(command).items():
            if isinstance(value, str) and name != "note":
                assert not any(bad in value for bad in _BAD), (name, value)
                assert not value.startswith("-"), (name, value)


@settings(max_examples=500)
@given(messages)
def test_hostile_words_never_reach_a_command(text: str) -> None:
    _check(text)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(HOSTILE + WORDS))
def test_a_megabyte_message_is_refused_at_once(word: str) -> None:
    try:
        parse("deploy " + (word + " ") * (1024 * 1024 // (len(word) + 1)), ONE_APP)
    except CommandError as err:
        assert err.message.startswith("that message is too long")
    else:
        raise AssertionError("a megabyte message was read")
