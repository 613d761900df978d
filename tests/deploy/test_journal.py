"""deploy.hosts.journal: the per-host journal lines and which release a rollback goes to."""

from __future__ import annotations

import re

import pytest

from deploy.hosts.journal import Entry, entry, find, parse, rollback_target

A, B, C, D = "20261120090000", "20261121090000", "20261122090000", "20261123090000"
SHA_A = "aaaaaaa1111111111111111111111111111111111"[:40]
SHA_B = "bbbbbbb2222222222222222222222222222222222"[:40]
SHA_C = "ccccccc3333333333333333333333333333333333"[:40]
SHA_D = "ddddddd4444444444444444444444444444444444"[:40]
SHAS = {A: SHA_A, B: SHA_B, C: SHA_C, D: SHA_D}


def deploy(release: str, outcome: str = "success", previous: str | None = None, sha: str | None = None) -> Entry:
    return Entry(
        f"t{release}", "deploy", f"run{release[-6:]}", "U0ALICE", sha or SHAS[release], release, previous, outcome
    )


def rollback(release: str, previous: str, outcome: str = "success") -> Entry:
    return Entry(f"t{release}", "rollback", f"rb{previous[-6:]}", "U0BOB", SHAS[release], release, previous, outcome)


def test_a_journal_line_is_compact_json_with_sorted_keys() -> None:
    line = Entry("2026-11-23T09:00:00Z", "deploy", "r1a2b3", "U0ALICE", SHA_A, D, C, "success").to_line()
    expected = (
        '{"action":"deploy","outcome":"success","previous":"20261122090000","release":"20261123090000",'
        f'"run":"r1a2b3","sha":"{SHA_A}","time":"2026-11-23T09:00:00Z","user":"U0ALICE"}}'
    )
    assert expected == line


def test_a_new_entry_is_stamped_with_the_current_utc_time() -> None:
    made = entry(action="rollback", run="r1", user="U0BOB", sha=SHA_A, release=A, previous=B, outcome="success")
    assert (True, Entry(made.time, "rollback", "r1", "U0BOB", SHA_A, A, B, "success")) == (
        bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", made.time)),
        made,
    )


GOOD = Entry("2026-11-23T09:00:00Z", "deploy", "r1", "U0ALICE", SHA_A, A, None, "success")
GOOD2 = Entry("2026-11-23T10:00:00Z", "deploy", "r2", "U0BOB", SHA_B, B, A, "failed")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param(f"{GOOD.to_line()}\n{GOOD2.to_line()}\n", [GOOD, GOOD2], id="two-lines-in-order"),
        pytest.param(f"{GOOD.to_line()}\n{GOOD2.to_line()[:40]}", [GOOD], id="torn-last-line"),
        pytest.param(f"{GOOD2.to_line()[:40]}\n{GOOD.to_line()}\n", [GOOD], id="torn-line-in-the-middle"),
        pytest.param(f"\n\n{GOOD.to_line()}\n\n", [GOOD], id="blank-lines"),
        pytest.param(f"{GOOD.to_line()}\r\n", [GOOD], id="crlf"),
        pytest.param('[1, 2]\n42\n"deploy"\nnull\n{}\n', [], id="json-that-is-not-an-entry"),
        pytest.param(
            '{"time": "t", "action": "deploy", "run": "r", "user": "u", "sha": "s", "release": "x"}\n',
            [],
            id="missing-outcome",
        ),
        pytest.param(
            '{"time": "t", "action": "deploy", "run": "r", "user": "u", "sha": "s", "release": 20261120090000,'
            ' "outcome": "success", "note": "hand edit"}\n',
            [Entry("t", "deploy", "r", "u", "s", A, None, "success")],
            id="missing-previous-extra-key-and-number",
        ),
        pytest.param("# edited by hand\n" + GOOD.to_line(), [GOOD], id="comment-line"),
    ],
)
def test_parsing_keeps_valid_entries_in_order_and_skips_the_rest(text: str, expected: list[Entry]) -> None:
    assert expected == parse(text)


@pytest.mark.parametrize(
    ("entries", "current", "existing", "expected"),
    [
        pytest.param([], None, set(), None, id="empty-journal"),
        pytest.param([deploy(A)], A, {A}, None, id="only-the-current-release"),
        pytest.param([deploy(A), deploy(B)], B, {A, B}, A, id="previous-release"),
        pytest.param([deploy(A), deploy(B), deploy(C)], C, {A, B, C}, B, id="newest-earlier-release"),
        pytest.param([deploy(A), deploy(B, "failed"), deploy(C)], C, {A, B, C}, A, id="skips-failed-deploy"),
        pytest.param([deploy(A), deploy(B), deploy(C, "reverted")], B, {A, B, C}, A, id="skips-reverted-deploy"),
        pytest.param([deploy(A), deploy(B), deploy(C, "cancelled")], B, {A, B, C}, A, id="skips-cancelled-deploy"),
        pytest.param([deploy(A), deploy(B), rollback(A, B)], A, {A, B}, None, id="never-back-to-a-release-left"),
        pytest.param(
            [deploy(A), deploy(B), rollback(A, B), deploy(C)], C, {A, B, C}, A, id="skips-release-rolled-back-from"
        ),
        pytest.param(
            [deploy(A), deploy(B), deploy(C), rollback(B, C, "failed")],
            None,
            {A, B, C},
            C,
            id="failed-rollback-does-not-condemn",
        ),
        pytest.param([deploy(A), deploy(B), deploy(C)], C, {A, C}, A, id="skips-deleted-folder"),
        pytest.param([deploy(A), deploy(B)], B, {B}, None, id="all-earlier-folders-deleted"),
        pytest.param([deploy(A), deploy(B)], None, {A, B}, B, id="no-current-newest-good"),
        pytest.param([deploy(A), deploy(B)], "20261119090000", {A, B}, B, id="current-not-in-journal"),
        pytest.param([rollback(A, B)], B, {A, B}, None, id="rollback-entries-are-not-targets"),
    ],
)
def test_rollback_goes_to_the_newest_earlier_good_release_still_on_disk(
    entries: list[Entry], current: str | None, existing: set[str], expected: str | None
) -> None:
    target = rollback_target(entries, current, existing)
    assert expected == (target.release if target else None)


def test_rollback_target_is_the_journal_entry_itself() -> None:
    entries = [deploy(A), deploy(B, previous=A)]
    assert deploy(A) == rollback_target(entries, B, {A, B})


@pytest.mark.parametrize(
    ("entries", "wanted", "existing", "expected"),
    [
        pytest.param([deploy(A), deploy(B)], A, {A, B}, A, id="release-id"),
        pytest.param([deploy(A), deploy(B)], SHA_A, {A, B}, A, id="full-sha"),
        pytest.param([deploy(A), deploy(B)], SHA_B[:7], {A, B}, B, id="seven-char-sha-prefix"),
        pytest.param([deploy(A), deploy(B)], SHA_B[:6], {A, B}, None, id="six-chars-is-too-short"),
        pytest.param([deploy(A), deploy(B)], A[:10], {A, B}, None, id="partial-release-id"),
        pytest.param([deploy(A), deploy(B, sha=SHA_A)], SHA_A[:12], {A, B}, B, id="same-sha-newest-release"),
        pytest.param([deploy(A), deploy(B, sha=SHA_A)], SHA_A[:12], {A}, A, id="same-sha-newest-on-disk"),
        pytest.param([deploy(A, "failed")], A, {A}, None, id="failed-release"),
        pytest.param([deploy(A, "reverted")], SHA_A, {A}, None, id="reverted-release"),
        pytest.param([deploy(A)], A, set(), None, id="deleted-release"),
        pytest.param([deploy(A), deploy(B), rollback(A, B)], B, {A, B}, B, id="explicit-release-rolled-back-from"),
        pytest.param([deploy(A)], "20261231000000", {A}, None, id="unknown"),
    ],
)
def test_a_release_is_found_by_id_or_sha_prefix_among_good_releases_on_disk(
    entries: list[Entry], wanted: str, existing: set[str], expected: str | None
) -> None:
    found = find(entries, wanted, existing)
    assert expected == (found.release if found else None)
