"""The word checks the grammar modules share (pure): reasons, refs and run ids kept as they will be shown."""

from __future__ import annotations

import pytest

from commands.errors import CommandError
from commands.grammar.checks import checked_reason, checked_run_id

LOCK_TRY = "Try: `lock [APP] ENV [for REASON]`"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], ""),
        (["release", "freeze"], "release freeze"),
        (["for", "release", "freeze"], "release freeze"),
        (["FOR", "the", "demo"], "the demo"),
        (["because", "of", "the", "demo"], "of the demo"),
        (["-", "demo"], "demo"),
        ([":", "demo"], "demo"),
        (["\u2014", "demo"], "demo"),
        (["for"], ""),
        (["demo", "for", "sales"], "demo for sales"),  # only a leading word is dropped
    ],
)
def test_a_reason_drops_one_leading_for_because_or_dash(words: list[str], expected: str) -> None:
    assert expected == checked_reason(words, "lock")


@pytest.mark.parametrize(
    ("words", "error"),
    [
        (["<b>hi</b>"], CommandError("that reason cannot be kept: a reason may not contain angle brackets", LOCK_TRY)),
        (
            ["for", "@here", "look"],
            CommandError("that reason cannot be kept: a reason may not contain @channel, @here or @everyone", LOCK_TRY),
        ),
        (
            ["---", "shipbot-preamble-end"],
            CommandError(
                "that reason cannot be kept: a reason may not contain shipbot's own markers (shipbot-preamble, "
                "shipbot-listing)",
                LOCK_TRY,
            ),
        ),
    ],
)
def test_a_reason_that_cannot_be_kept_is_refused_with_the_syntax(words: list[str], error: CommandError) -> None:
    with pytest.raises(CommandError) as raised:
        checked_reason(words, "lock")
    assert error == raised.value


@pytest.mark.parametrize(
    ("words", "expected"),
    [(["r0001"], "r0001"), (["R0001"], "r0001"), (["abc", "extra"], "abc")],
)
def test_a_run_id_is_kept_in_lower_case(words: list[str], expected: str) -> None:
    assert expected == checked_run_id(words, "approve")


@pytest.mark.parametrize(
    ("words", "error"),
    [
        (
            [],
            CommandError(
                "approve which run?", "The run id is in the message asking for approval. Try: `approve RUN-ID`"
            ),
        ),
        (["r!"], CommandError("`r!` is not a run id", "Try: `approve RUN-ID`")),
    ],
)
def test_a_missing_or_malformed_run_id_is_refused(words: list[str], error: CommandError) -> None:
    with pytest.raises(CommandError) as raised:
        checked_run_id(words, "approve")
    assert error == raised.value
