"""deploy.redact: secret values never reach stored, logged or shown output; output tails."""

from __future__ import annotations

import pytest

from deploy.redact import Redactor, tail


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        pytest.param([], "password=hunter2", "password=hunter2", id="no-secrets"),
        pytest.param(["hunter2"], "password=hunter2", "password=[redacted]", id="one-secret"),
        pytest.param(
            ["hunter2"], "hunter2 hunter2\nhunter2", "[redacted] [redacted]\n[redacted]", id="every-occurrence"
        ),
        pytest.param(["s3cr", "s3cret-token"], "t=s3cret-token", "t=[redacted]", id="longest-first"),
        pytest.param(
            ["abc", ""], "abc is too short to redact", "abc is too short to redact", id="short-values-ignored"
        ),
        pytest.param(["abcd"], "abcd", "[redacted]", id="four-chars-redacted"),
        pytest.param(["$(id) 'x'"], "got $(id) 'x' back", "got [redacted] back", id="shell-characters"),
        pytest.param(["Hunter2"], "hunter2", "hunter2", id="case-sensitive"),
        pytest.param(("tok-" + str(i) for i in range(3)), "tok-1 tok-2", "[redacted] [redacted]", id="any-iterable"),
    ],
)
def test_secret_values_are_replaced_in_output(secrets: list[str], text: str, expected: str) -> None:
    assert expected == Redactor(secrets)(text)


def test_extending_a_redactor_adds_secrets_without_changing_the_original() -> None:
    base = Redactor(["first-secret"])
    more = base.extend(["second-secret"])
    text = "first-secret second-secret"
    assert ("[redacted] second-secret", "[redacted] [redacted]") == (base(text), more(text))


@pytest.mark.parametrize(
    ("text", "lines", "chars", "expected"),
    [
        pytest.param("", 30, 4000, "", id="empty"),
        pytest.param("a\nb\nc\n", 30, 4000, "a\nb\nc", id="short-output-whole-without-trailing-newline"),
        pytest.param("a\nb\nc\nd\n", 2, 4000, "c\nd", id="last-lines"),
        pytest.param("a\nb\n\n\n", 2, 4000, "a\nb", id="trailing-blank-lines-dropped"),
        pytest.param("x" * 50 + "\nend", 30, 10, "xxxxxx\nend", id="last-characters"),
        pytest.param("a\r\nb\r\n", 30, 4000, "a\nb", id="crlf"),
    ],
)
def test_the_tail_of_output_is_the_last_lines_within_a_character_budget(
    text: str, lines: int, chars: int, expected: str
) -> None:
    assert expected == tail(text, lines, chars)
