"""deploy.capistrano.revisions_log: Capistrano's revisions.log lines (formats taken from Capistrano 3.17.2's own i18n
file, saved under tests/fixtures/capistrano), the history and rollback targets they give, and the host commands that
read the log and order release folders, run with the real ``/bin/sh``, ``awk``, ``touch`` and ``ls -xt``."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.capistrano import revisions_log
from deploy.capistrano.revisions_log import Line, RevisionsLog
from deploy.hosts import journal
from tests.deploy.test_remote import pwned, run_sh

FIXTURES = Path(__file__).parents[1] / "fixtures" / "capistrano"
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
A, B, C = "20260101120000", "20260102120000", "20260103120000"


def test_the_line_formats_are_capistranos_own() -> None:
    i18n = (FIXTURES / "i18n-3.17.2.rb").read_text()
    messages = dict(re.findall(r'(\w+_log_message): "([^"]*)"', i18n))
    ours = {
        "revision_log_message": revisions_log.REVISION_LOG_MESSAGE,
        "rollback_log_message": revisions_log.ROLLBACK_LOG_MESSAGE,
    }
    assert {k: v.replace("%{", "{") for k, v in messages.items()} == ours


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"Branch main (at {SHA_A}) deployed as release {A} by carol",
            Line(7, "deploy", A, "carol", SHA_A, "main"),
            id="deploy",
        ),
        pytest.param(  # cap run where USER is unset: "by " and nothing
            f"Branch main (at {SHA_A}) deployed as release {A} by ",
            Line(7, "deploy", A, "", SHA_A, "main"),
            id="deploy-no-user",
        ),
        pytest.param(
            f"Branch feature/x (y) (at {SHA_A}) deployed as release {A} by Carol Smith",
            Line(7, "deploy", A, "Carol Smith", SHA_A, "feature/x (y)"),
            id="odd-branch",
        ),
        pytest.param(f"carol rolled back to release {A}", Line(7, "rollback", A, "carol"), id="rollback"),
        pytest.param(f" rolled back to release {A}", Line(7, "rollback", A, ""), id="rollback-no-user"),
        pytest.param(f"carol rolled back to release {A}\r", Line(7, "rollback", A, "carol"), id="crlf"),
        pytest.param("", None, id="empty"),
        pytest.param("deployed 20260101120000", None, id="other-tool"),
        pytest.param(f"Branch main (at {SHA_A}) deployed as release ../etc by x", None, id="path-as-release"),
        pytest.param(f"carol rolled back to release {A} and then some", None, id="trailing"),
    ],
)
def test_lines_are_read_in_capistranos_two_formats_only(text: str, expected: Line | None) -> None:
    assert expected == revisions_log.parse_line(7, text)


_word = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="._-@"), min_size=1, max_size=12)


@given(
    branch=st.lists(_word, min_size=1, max_size=3).map("/".join),
    sha=st.text("0123456789abcdef", min_size=7, max_size=40),
    release=st.from_regex(r"[0-9]{14}", fullmatch=True),
    user=st.lists(_word, max_size=3).map(" ".join),
)
def test_every_line_written_reads_back(branch: str, sha: str, release: str, user: str) -> None:
    deploy = revisions_log.parse_line(1, revisions_log.deploy_line(branch, sha, release, user))
    rollback = revisions_log.parse_line(2, revisions_log.rollback_line(user, release))
    assert (Line(1, "deploy", release, user, sha, branch), Line(2, "rollback", release, user)) == (deploy, rollback)


@given(st.text())
def test_any_text_is_read_without_error(text: str) -> None:
    numbered = "".join(f"{i}\t{t}\n" for i, t in enumerate(text.splitlines(), 1))
    output = f"noise\n{revisions_log.START}\n{revisions_log.PRESENT}\n{numbered}{revisions_log.END}\n"
    found = revisions_log.parse_output(output)
    assert found is not None and len(found.lines) + len(found.bad) == len(text.splitlines())


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param("login banner\n", None, id="no-section"),
        pytest.param(f"{revisions_log.START}\n{revisions_log.PRESENT}\n1\tx\n", None, id="torn"),
        pytest.param(
            f"{revisions_log.START}\n{revisions_log.ABSENT}\n{revisions_log.END}\n", RevisionsLog(False), id="absent"
        ),
        pytest.param(
            f"{revisions_log.START}\n{revisions_log.PRESENT}\n3\tcarol rolled back to release {A}\n9\tgarbage\n"
            f"{revisions_log.END}\n",
            RevisionsLog(True, (Line(3, "rollback", A, "carol"),), (9,)),
            id="good-and-garbage",
        ),
    ],
)
def test_the_section_is_read_whole_or_not_at_all(output: str, expected: RevisionsLog | None) -> None:
    assert expected == revisions_log.parse_output(output)


def cap_log(*lines: str) -> RevisionsLog:
    parsed = [revisions_log.parse_line(i, t) for i, t in enumerate(lines, 1)]
    return RevisionsLog(True, tuple(p for p in parsed if p is not None))


def deployed(release: str, sha: str) -> str:
    return revisions_log.deploy_line("main", sha, release, "carol")


def shipbot_entry(release: str, sha: str, previous: str | None, action: str = "deploy") -> journal.Entry:
    return journal.Entry("2026-01-04T00:00:00Z", action, "r1", "U1", sha, release, previous, "success")


@pytest.mark.parametrize(
    ("log", "entries", "current", "revisions", "expected"),
    [
        pytest.param(
            cap_log(deployed(A, SHA_A), deployed(B, SHA_B)), [], B, {A: SHA_A, B: SHA_B}, A, id="capistranos-previous"
        ),
        pytest.param(
            cap_log(deployed(A, SHA_A), deployed(B, SHA_B)), [], B, {B: SHA_B}, None, id="no-REVISION-never-a-target"
        ),
        pytest.param(
            cap_log(deployed(A, SHA_A), deployed(B, SHA_B)),
            [],
            B,
            {A: SHA_C, B: SHA_B},
            None,
            id="REVISION-not-the-logged-sha",
        ),
        pytest.param(
            cap_log(deployed(A, SHA_A), deployed(B, SHA_B), deployed(C, SHA_C), revisions_log.rollback_line("x", B)),
            [],
            B,
            {A: SHA_A, B: SHA_B, C: SHA_C},
            A,
            id="cap-rolled-back-from-C",
        ),
        pytest.param(
            cap_log(deployed(A, SHA_A), deployed(B, SHA_B), revisions_log.rollback_line("x", A)),
            [shipbot_entry(A, SHA_A, B, "rollback")],
            A,
            {A: SHA_A, B: SHA_B},
            None,
            id="nothing-left",
        ),
        pytest.param(
            cap_log(deployed(A, SHA_A), deployed(B, SHA_B), deployed(C, SHA_C)),
            [shipbot_entry(C, SHA_C, B)],
            C,
            {A: SHA_A, B: SHA_B, C: SHA_C},
            B,
            id="journal-then-log",
        ),
        pytest.param(
            cap_log(deployed(A, SHA_A), deployed(C, SHA_C)),
            [shipbot_entry(B, SHA_B, A), shipbot_entry(C, SHA_C, B)],
            C,
            {A: SHA_A, B: SHA_B, C: SHA_C},
            B,
            id="journal-first",
        ),
        pytest.param(None, [], B, {A: SHA_A, B: SHA_B}, None, id="no-log-no-journal"),
    ],
)
def test_the_previous_good_release_comes_from_the_journal_then_from_revisions_log(
    log: RevisionsLog | None, entries: list[journal.Entry], current: str, revisions: dict[str, str],
    expected: str | None,
) -> None:  # fmt: skip
    target = revisions_log.rollback_target(log, entries, current, {A, B, C}, revisions)
    assert expected == (target.release if target else None)


def test_a_capistrano_release_name_is_a_rollback_target_by_name() -> None:
    log = cap_log(deployed(A, SHA_A), deployed(B, SHA_B))
    found = revisions_log.find(log, [], A, {A, B}, {A: SHA_A, B: SHA_B})
    by_sha = revisions_log.find(log, [], SHA_B[:8], {A, B}, {A: SHA_A, B: SHA_B})
    missing = revisions_log.find(log, [], A, {A, B}, {B: SHA_B})
    assert (A, SHA_A, B, None) == (found.release if found else None, found.sha if found else None,
                                   by_sha.release if by_sha else None, missing)  # fmt: skip


@pytest.mark.parametrize(
    ("layout", "present", "expected"),
    [
        pytest.param(
            "auto",
            True,
            (True, ("layout auto acts as capistrano: h1 has Capistrano's revisions.log, which this run appends to",)),
            id="auto-found",
        ),
        pytest.param("auto", False, (False, ()), id="auto-none"),
        pytest.param("capistrano", False, (True, ()), id="capistrano"),
        pytest.param("shipbot", True, (False, ()), id="shipbot"),
    ],
)
def test_the_layout_decides_whether_a_run_writes_capistranos_log(
    layout: str, present: bool, expected: tuple[bool, tuple[str, ...]]
) -> None:
    assert expected == revisions_log.decide(layout, {"h1": RevisionsLog(present), "h2": None})


def test_ignored_lines_are_named_by_host_and_line_number_then_counted() -> None:
    _, notes = revisions_log.decide(
        "shipbot", {"web2": RevisionsLog(True, (), (2, 5)), "web1": RevisionsLog(True, (), (1, 3))}
    )
    assert [
        "web1: line 1 of revisions.log is not a line Capistrano writes; it was ignored",
        "web1: line 3 of revisions.log is not a line Capistrano writes; it was ignored",
        "web2: line 2 of revisions.log is not a line Capistrano writes; it was ignored",
        "1 more lines of revisions.log were ignored",
    ] == list(notes)


def test_the_host_reads_recent_lines_and_old_ones_of_existing_releases(tmp_path: Path) -> None:
    deploy_to = tmp_path / "srv" / "it's $(touch pwned)"
    (deploy_to / "releases" / A).mkdir(parents=True)
    lines = [deployed(A, SHA_A)] + [f"$(touch pwned) filler {i}" for i in range(600)] + [deployed(B, SHA_B)]
    (deploy_to / "revisions.log").write_text("\n".join(lines) + "\n")
    result = run_sh(revisions_log.command(str(deploy_to), recent=3), tmp_path)
    found = revisions_log.parse_output(result.stdout.decode())
    assert found == RevisionsLog(
        True, (Line(1, "deploy", A, "carol", SHA_A, "main"), Line(602, "deploy", B, "carol", SHA_B, "main")),
        (600, 601),
    )  # fmt: skip
    assert [] == pwned(tmp_path)


def test_release_folders_keep_capistranos_ls_xt_order(tmp_path: Path) -> None:
    deploy_to = tmp_path / "srv"
    for day, name in enumerate((A, B, C)):  # deployed a day apart, as on a real host (not within one clock tick)
        (deploy_to / "releases" / name).mkdir(parents=True)
        os.utime(deploy_to / "releases" / name, (1_767_225_600 + day * 86_400,) * 2)
    log = deploy_to / "revisions.log"
    # shipbot rolls back from C to B, then Capistrano's deploy:rollback would go to A, the one before B
    run_sh(revisions_log.order_command(str(deploy_to), B, C), tmp_path)
    run_sh(revisions_log.append(str(deploy_to), revisions_log.rollback_line("alice", B)), tmp_path)
    ls = subprocess.run(["ls", "-xt", str(deploy_to / "releases")], capture_output=True, text=True, check=True)
    assert ([B, A, C], [f"alice rolled back to release {B}"]) == (ls.stdout.split(), log.read_text().splitlines())
    # a release that failed and is kept (keep_failed_releases) never comes before the live one either
    failed = "20260104120000"
    (deploy_to / "releases" / failed).mkdir()
    run_sh(revisions_log.oldest(str(deploy_to), failed), tmp_path)
    ls = subprocess.run(["ls", "-xt", str(deploy_to / "releases")], capture_output=True, text=True, check=True)
    assert [B, A] == ls.stdout.split()[:2]


def test_a_log_the_real_cap_wrote_reads_as_two_deploys_and_a_rollback() -> None:
    """Written by Capistrano 3.17.2: a deploy with USER unset, one by carol, then carol's deploy:rollback."""
    text = (FIXTURES / "revisions.log").read_text()
    numbered = "".join(f"{i}\t{t}\n" for i, t in enumerate(text.splitlines(), 1))
    found = revisions_log.parse_output(
        f"{revisions_log.START}\n{revisions_log.PRESENT}\n{numbered}{revisions_log.END}\n"
    )
    assert found is not None
    first, second = "20261207020908", "20261207022440"
    assert [("deploy", first, None), ("deploy", second, first), ("rollback", first, second)] == [
        (e.action, e.release, e.previous) for e in found.entries()
    ]
    revisions = {first: "dabfdc53ac4e95dc5a7ae6f3869893a04137aeca", second: "5a7b5bbea5d79f42c734854ec5c4d4c84af9a4e7"}
    # cap removed the release it rolled back from; were it still there, it would never be a target again
    assert None is revisions_log.rollback_target(found, [], first, {first, second}, revisions)
