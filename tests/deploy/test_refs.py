"""deploy.delivery.refs: which refs a person may type, and why the others are refused."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.delivery.refs import MAX_REF_LENGTH, is_valid_ref, looks_like_sha, ref_problem

# Characters that mean something to a POSIX shell (or start a comment / expansion) when left unquoted.
SHELL_METACHARACTERS = set(" \t\n|&;<>()$`\\\"'*?[#~=%!{}")


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("main", id="branch"),
        pytest.param("release/2026-11", id="branch-with-slash-and-dash"),
        pytest.param("v1.2.3", id="tag-with-dots"),
        pytest.param("feature/new_login", id="underscore"),
        pytest.param("hotfix+1", id="plus"),
        pytest.param("user@example", id="at-sign-inside"),
        pytest.param("a1b2c3d", id="short-sha"),
        pytest.param("0123456789abcdef0123456789abcdef01234567", id="full-sha"),
        pytest.param("a" * MAX_REF_LENGTH, id="exactly-max-length"),
        pytest.param("x-", id="dash-not-first"),
    ],
)
def test_ordinary_branch_tag_and_sha_names_are_accepted(ref: str) -> None:
    assert (None, True) == (ref_problem(ref), is_valid_ref(ref))


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        pytest.param("", "the ref is empty", id="empty"),
        pytest.param("a" * (MAX_REF_LENGTH + 1), "the ref is longer than 200 characters", id="too-long"),
        pytest.param("café", "a ref may only contain ASCII characters", id="non-ascii"),
        pytest.param("main\n", "a ref may not contain control characters", id="newline"),
        pytest.param("a\tb", "a ref may not contain control characters", id="tab"),
        pytest.param("a\x00b", "a ref may not contain control characters", id="nul"),
        pytest.param("a\x7fb", "a ref may not contain '\\x7f'", id="delete-char"),
        pytest.param("main branch", "a ref may not contain ' '", id="space"),
        pytest.param("main;reboot", "a ref may not contain ';'", id="semicolon"),
        pytest.param("$(reboot)", "a ref may not contain '$'", id="command-substitution"),
        pytest.param("`id`", "a ref may not contain backticks", id="backtick"),
        pytest.param("it's", 'a ref may not contain "\'"', id="single-quote"),
        pytest.param('say"hi', "a ref may not contain '\"'", id="double-quote"),
        pytest.param("a|b", "a ref may not contain '|'", id="pipe"),
        pytest.param("a&b", "a ref may not contain '&'", id="ampersand"),
        pytest.param("a>b", "a ref may not contain angle brackets", id="redirect"),
        pytest.param("<!here>", "a ref may not contain angle brackets", id="slack-mention"),
        pytest.param("#1", "a ref may not contain '#'", id="hash"),
        pytest.param("100%", "a ref may not contain '%'", id="percent"),
        pytest.param("a,b", "a ref may not contain ','", id="comma"),
        pytest.param("wow!", "a ref may not contain '!'", id="bang"),
        pytest.param("main^", "a ref may not contain '^'", id="caret-revision"),
        pytest.param("main~1", "a ref may not contain '~'", id="tilde-revision"),
        pytest.param("a:b", "a ref may not contain ':'", id="colon"),
        pytest.param("a*", "a ref may not contain '*'", id="glob-star"),
        pytest.param("a?", "a ref may not contain '?'", id="glob-question"),
        pytest.param("a[1]", "a ref may not contain '['", id="glob-bracket"),
        pytest.param("a\\b", "a ref may not contain '\\\\'", id="backslash"),
        pytest.param("main@{u}", "a ref may not contain '{'", id="reflog-syntax"),
        pytest.param("--upload-pack=evil", "a ref may not contain '='", id="option-with-value"),
        pytest.param("-x", "a ref may not start with '-'", id="option"),
        pytest.param("@", "'@' alone is not a ref", id="lone-at"),
        pytest.param("a..b", "a ref may not contain '..'", id="range"),
        pytest.param("a//b", "a ref may not contain '//'", id="double-slash"),
        pytest.param("/main", "a ref may not start or end with '/'", id="leading-slash"),
        pytest.param("main/", "a ref may not start or end with '/'", id="trailing-slash"),
        pytest.param("main.", "a ref may not end with '.'", id="trailing-dot"),
        pytest.param(".hidden", "no part of a ref may start with '.'", id="leading-dot"),
        pytest.param("a/.b", "no part of a ref may start with '.'", id="part-leading-dot"),
        pytest.param("main.lock", "no part of a ref may end with '.lock'", id="lock-suffix"),
        pytest.param("a.lock/b", "no part of a ref may end with '.lock'", id="part-lock-suffix"),
    ],
)
def test_refused_refs_say_why(ref: str, problem: str) -> None:
    assert (problem, False) == (ref_problem(ref), is_valid_ref(ref))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("a1b2c3d", True, id="seven-hex"),
        pytest.param("0123456789abcdef0123456789abcdef01234567", True, id="forty-hex"),
        pytest.param("1234567", True, id="seven-digits"),
        pytest.param("a1b2c3", False, id="six-hex-too-short"),
        pytest.param("0123456789abcdef0123456789abcdef012345678", False, id="forty-one-hex-too-long"),
        pytest.param("A1B2C3D", False, id="uppercase"),
        pytest.param("a1b2c3g", False, id="non-hex-letter"),
        pytest.param("main", False, id="branch"),
        pytest.param(" a1b2c3d", False, id="leading-space"),
    ],
)
def test_sha_detection_accepts_only_7_to_40_lowercase_hex_digits(ref: str, expected: bool) -> None:
    assert expected == looks_like_sha(ref)


@given(st.text(max_size=250))
def test_ref_problem_never_raises_and_accepted_refs_hold_no_shell_metacharacters(ref: str) -> None:
    problem = ref_problem(ref)
    if problem is None:
        assert set() == set(ref) & SHELL_METACHARACTERS
        assert ref.isascii()
        assert ref.isprintable()
        assert not ref.startswith("-")
    else:
        assert isinstance(problem, str)
        assert problem


_REFISH = st.text(alphabet="ab01/.-_@{}^~:+ ", min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(_REFISH)
def test_every_accepted_ref_is_one_git_itself_accepts(ref: str) -> None:
    if ref_problem(ref) is not None:
        return
    result = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", f"refs/heads/{ref}"], capture_output=True, check=False
    )
    assert 0 == result.returncode
