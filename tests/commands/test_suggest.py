"""Near misses and safe echoing."""

from __future__ import annotations

import pytest

from commands.suggest import closest, did_you_mean, distance, shown


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("staging", "staging", 0),
        ("stagin", "staging", 1),
        ("satging", "staging", 1),
        ("prod", "prdo", 1),
        ("", "abc", 3),
        ("hello", "help", 2),
        ("kitten", "sitting", 3),
    ],
)
def test_distance(a: str, b: str, expected: int) -> None:
    assert distance(a, b) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("stagin", "staging"),
        ("STAGIN", "staging"),
        ("prodution", "production"),
        ("qa", None),
        ("staging", None),
        ("xyz", None),
        ("prd", None),
    ],
)
def test_did_you_mean(word: str, expected: str | None) -> None:
    assert did_you_mean(word, ["staging", "production"]) == expected


def test_closest_always_answers_when_there_are_candidates() -> None:
    assert (closest("zzz", ["help", "status"]), closest("zzz", [])) == ("help", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("main", "main"),
        ("<!channel>", "?!channel?"),
        ("a`b*c_d~e|f&g", "a?b?c?d?e?f?g"),
        ("a\nb\x00", "a?b?"),
        ("x" * 50, "x" * 39 + "…"),
        ("", "?"),
        ("démo", "démo"),
    ],
)
def test_shown_is_safe_to_echo(text: str, expected: str) -> None:
    assert shown(text) == expected
