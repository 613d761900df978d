"""deploy.capistrano.cap_entries: Capistrano's revisions.log lines as history entries, their times, and the timeline
beside shipbot's runs (pure)."""

from __future__ import annotations

import calendar
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.capistrano import revisions_log
from deploy.capistrano.cap_entries import CapEntry, from_listing, release_time, timeline
from deploy.capistrano.revisions_log import RevisionsLog
from deploy.hosts import journal
from deploy.records import RunRecord

FIXTURES = Path(__file__).parents[1] / "fixtures" / "capistrano"
A, B, C = "20260101120000", "20260102120000", "20260103120000"
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
SEEN = calendar.timegm((2027, 2, 1, 0, 0, 0, 0, 0, 0))  # when shipbot read the log
HOST = "web1"


def at(release: str) -> float:
    found = release_time(release)
    assert found is not None
    return found


def log_of(*lines: str) -> RevisionsLog:
    parsed = [revisions_log.parse_line(i, t) for i, t in enumerate(lines, 1)]
    return RevisionsLog(True, tuple(p for p in parsed if p is not None))


def deployed(release: str, sha: str, user: str = "carol") -> str:
    return revisions_log.deploy_line("main", sha, release, user)


def rolled(release: str, user: str = "carol") -> str:
    return revisions_log.rollback_line(user, release)


def own(action: str, release: str, user: str, outcome: str = "success") -> journal.Entry:
    return journal.Entry("2026-01-04T00:00:00Z", action, "r1", user, "", release, None, outcome)


def read(log: RevisionsLog, journal_entries: tuple[journal.Entry, ...] = ()) -> list[tuple[str, str, str, float]]:
    return [(e.action, e.release, e.user, e.at) for e in from_listing("shop", "prod", HOST, log, journal_entries, SEEN)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (A, calendar.timegm((2026, 1, 1, 12, 0, 0, 0, 0, 0))),
        ("19991231235959", calendar.timegm((1999, 12, 31, 23, 59, 59, 0, 0, 0))),
        ("20261399000000", None),  # month 13
        ("2026010112000", None),  # 13 digits
        ("r0abc", None),
        ("２０２６０１０１１２００００", None),  # digits, but not ASCII ones
    ],
)
def test_a_capistrano_release_name_is_its_utc_time(name: str, expected: float | None) -> None:
    assert expected == release_time(name)


@pytest.mark.parametrize(
    ("lines", "journal_entries", "expected"),
    [
        pytest.param(
            [deployed(A, SHA_A), deployed(B, SHA_B)], (),
            [("deploy", A, "carol", at(A)), ("deploy", B, "carol", at(B))], id="deploys-at-their-stamps",
        ),
        pytest.param(
            [deployed(A, SHA_A), deployed(B, SHA_B), rolled(A)], (),
            [("deploy", A, "carol", at(A)), ("deploy", B, "carol", at(B)), ("rollback", A, "carol", SEEN)],
            id="a-rollback-when-first-seen",
        ),
        pytest.param(
            [deployed(A, SHA_A), deployed(B, SHA_B), rolled(A), deployed(C, SHA_C)], (),
            [("deploy", A, "carol", at(A)), ("deploy", B, "carol", at(B)), ("rollback", A, "carol", at(C)),
             ("deploy", C, "carol", at(C))],
            id="a-rollback-no-later-than-the-deploy-after-it",
        ),
        pytest.param(
            [deployed(A, SHA_A), deployed(B, SHA_B, "alice"), rolled(A, "alice"), rolled(A)],
            (own("deploy", B, "alice"), own("rollback", A, "alice")),
            [("deploy", A, "carol", at(A)), ("rollback", A, "carol", SEEN)],
            id="shipbots-own-lines-left-out-capistranos-kept",
        ),
        pytest.param(
            [deployed(A, SHA_A), deployed(B, SHA_B, "alice")], (own("deploy", B, "alice", "reverted"),),
            [("deploy", A, "carol", at(A)), ("deploy", B, "alice", at(B))],
            id="a-journal-line-that-never-went-live-is-not-the-logs",
        ),
        pytest.param(
            [deployed("20990101000000", SHA_A), deployed("not-a-stamp", SHA_B)], (),
            [("deploy", "20990101000000", "carol", SEEN), ("deploy", "not-a-stamp", "carol", SEEN)],
            id="no-time-after-it-was-seen",
        ),
    ],
)  # fmt: skip
def test_the_lines_capistrano_wrote_become_entries_in_file_order(
    lines: list[str], journal_entries: tuple[journal.Entry, ...], expected: list[tuple[str, str, str, float]]
) -> None:
    assert expected == read(log_of(*lines), journal_entries)


def test_a_log_the_real_cap_wrote_gives_two_deploys_and_a_rollback_with_their_shas_and_branch() -> None:
    """Written by Capistrano 3.17.2: a deploy with USER unset, one by carol, then carol's deploy:rollback."""
    lines = (FIXTURES / "revisions.log").read_text().splitlines()
    entries = from_listing("shop", "prod", HOST, log_of(*lines), (), SEEN)
    first, second = "20261207020908", "20261207022440"
    sha1, sha2 = "dabfdc53ac4e95dc5a7ae6f3869893a04137aeca", "5a7b5bbea5d79f42c734854ec5c4d4c84af9a4e7"
    assert [
        CapEntry("shop", "prod", first, "deploy", "", sha1, "main", at(first), HOST, 1),
        CapEntry("shop", "prod", second, "deploy", "carol", sha2, "main", at(second), HOST, 2),
        CapEntry("shop", "prod", first, "rollback", "carol", sha1, "", SEEN, HOST, 3),
    ] == entries
    assert "deployed as release 20261207020908 by someone with Capistrano" == entries[0].describe()
    assert {"source": "capistrano", "run_id": None, "kind": "rollback", "release": first, "sha": sha1} == {
        k: v for k, v in entries[2].as_json().items() if k in ("source", "run_id", "kind", "release", "sha")
    }


_users = st.sampled_from(["carol", "alice", "", "bob smith"])
_releases = st.sampled_from([A, B, C, "20991231235959", "old-name"])
_lines = st.one_of(
    st.builds(deployed, _releases, st.sampled_from([SHA_A, SHA_B]), _users),
    st.builds(rolled, _releases, _users),
    st.text(max_size=40),
)


@given(st.lists(_lines, max_size=12), st.lists(st.tuples(st.sampled_from(["deploy", "rollback"]), _releases, _users)))
def test_entries_never_come_after_they_were_seen_nor_after_a_later_deploy(
    lines: list[str], mine: list[tuple[str, str, str]]
) -> None:
    found = from_listing("shop", "prod", HOST, log_of(*lines), [own(*m) for m in mine], SEEN)
    assert len(found) <= len([t for t in lines if revisions_log.parse_line(1, t) is not None])
    assert [e.line for e in found] == sorted(e.line for e in found)
    for i, entry in enumerate(found):
        assert entry.at <= SEEN
        later_deploys = [e.at for e in found[i + 1 :] if e.action == "deploy"]
        if entry.action == "rollback" and later_deploys:
            assert entry.at <= later_deploys[0]


def run_at(run_id: str, started_at: float) -> RunRecord:
    return RunRecord(run_id, "deploy", "shop", "prod", "U1", "main", SHA_C, "", "success", started_at)


def cap_at(release: str, when: float) -> CapEntry:
    return CapEntry("shop", "prod", release, "deploy", "carol", SHA_A, "main", when, HOST, 1)


def test_the_timeline_is_newest_first_cut_to_the_limit_a_run_before_a_line_of_the_same_time() -> None:
    runs = [run_at("r3", 30.0), run_at("r1", 10.0)]
    entries = [cap_at(C, 30.0), cap_at(B, 20.0), cap_at(A, 5.0)]
    assert [runs[0], entries[0], entries[1], runs[1]] == timeline(runs, entries, 4)
    assert [runs[0], entries[0], entries[1], runs[1], entries[2]] == timeline(runs, entries, 20)
    assert [] == timeline(runs, entries, 0)
