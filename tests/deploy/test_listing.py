"""deploy.hosts.listing: the release listing command, run with the real ``/bin/sh`` and ``awk`` on folders built here,
and its parser on recorded output: long histories stay small on the wire, torn and hand-edited lines are survived."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deploy.capistrano import revisions_log
from deploy.hosts import framing, journal, listing
from tests.deploy.test_remote import HOSTILE, pwned, run_sh

SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
FRAME = framing.Frame("0123456789abcdef" * 2)
START, JOURNAL, END = listing.markers(FRAME)


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    return path


def line(
    release: str, sha: str, *, previous: str | None = None, action: str = "deploy", outcome: str = "success"
) -> str:
    return journal.Entry("2026-11-23T09:00:00Z", action, "x1", "U1", sha, release, previous, outcome).to_line()


def entry(release: str, sha: str, *, previous: str | None = None, action: str = "deploy") -> journal.Entry:
    return journal.Entry("2026-11-23T09:00:00Z", action, "x1", "U1", sha, release, previous, "success")


def recorded(head: str, journal_text: str = "") -> str:
    return f"{START}\n{head}{JOURNAL}\n{journal_text}{END}\n"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            recorded(
                f"current\tr2\nrelease\tr1\t{SHA_A}\nrelease\tr2\t{SHA_B}\npinned\tr1\n", line("r2", SHA_B) + "\n"
            ),
            listing.ReleaseListing(
                "r2", frozenset({"r1", "r2"}), frozenset({"r1"}), (entry("r2", SHA_B),), {"r1": SHA_A, "r2": SHA_B}
            ),
            id="whole",
        ),
        pytest.param(
            "Welcome to prod-7\nlast login: today\n" + recorded("current\t-\nrelease\tr1\t-\n"),
            listing.ReleaseListing(None, frozenset({"r1"})),
            id="behind-a-login-shells-noise-and-a-folder-without-revision",
        ),
        pytest.param(
            recorded(
                "current\tr1\n",
                line("r1", SHA_A)[:50]
                + line("r1", SHA_A)
                + "\n"  # torn, and the next append on the same line
                + "# a hand-written note\n\n"
                + json.dumps(entry("r1", SHA_A).__dict__, indent=None)
                + "\n"  # hand-edited: spaces, other order
                + '{"release": "r1"}\n[1, 2]\n"text"\n',  # valid JSON, not entries
            ),
            listing.ReleaseListing("r1", frozenset(), entries=(entry("r1", SHA_A), entry("r1", SHA_A))),
            id="torn-and-hand-edited-journal-lines",
        ),
        pytest.param(f"{START}\ncurrent\tr1\nrelease\tr1\t{SHA_A}\n", None, id="cut-short-before-the-end"),
        pytest.param("", None, id="nothing"),
    ],
)
def test_the_listing_is_parsed_from_recorded_output(output: str, expected: listing.ReleaseListing | None) -> None:
    assert expected == listing.parse(output, FRAME)


@pytest.mark.parametrize(
    ("entries", "revisions", "current", "expected"),
    [
        pytest.param([entry("r1", SHA_A), entry("r2", SHA_B)], {"r1": SHA_A, "r2": SHA_B}, "r2", "r1", id="previous"),
        pytest.param([entry("r1", SHA_A), entry("r2", SHA_B)], {"r2": SHA_B}, "r2", None, id="target-lost-revision"),
        pytest.param([entry("r1", SHA_A), entry("r2", SHA_B)], {"r1": SHA_C, "r2": SHA_B}, "r2", None,
                     id="target-holds-another-sha"),
        pytest.param(
            [entry("r1", SHA_A), entry("r2", SHA_B), entry("r3", SHA_C), entry("r2", SHA_B, previous="r3",
                                                                                 action="rollback")],
            {"r1": SHA_A, "r2": SHA_B, "r3": SHA_C}, "r2", "r1", id="never-back-to-a-release-rolled-back-from",
        ),
    ],
)  # fmt: skip
def test_rollback_goes_only_to_a_release_whose_folder_still_holds_its_sha(
    entries: list[journal.Entry], revisions: dict[str, str], current: str, expected: str | None
) -> None:
    found = listing.ReleaseListing(current, frozenset(revisions) | {"r1", "r2", "r3"}, entries=tuple(entries),
                                   revisions=revisions)  # fmt: skip
    target = found.rollback_target(current)
    assert expected == (target.release if target else None)


def make_host(deploy_to: Path, releases: dict[str, str | None], journal_lines: list[str]) -> None:
    for name, sha in releases.items():
        folder = deploy_to / "releases" / name
        folder.mkdir(parents=True)
        if sha is not None:
            (folder / "REVISION").write_text(sha + "\n")
    (deploy_to / ".shipbot").mkdir(parents=True, exist_ok=True)
    (deploy_to / ".shipbot" / "journal.jsonl").write_text("".join(f"{x}\n" for x in journal_lines))


@pytest.mark.parametrize("name", [p for p in HOSTILE if "\n" not in p.values[0]])
def test_the_command_lists_any_deploy_to_and_reads_back_with_nothing_run_unquoted(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    make_host(deploy_to, {"r1": SHA_A, "r2": SHA_B, "scratch": None}, [line("r1", SHA_A), line("r2", SHA_B)])
    os.symlink("releases/r2/", deploy_to / "current")  # made by another tool: a trailing slash
    os.symlink(str(deploy_to / "releases" / "r1"), deploy_to / "blue")  # an absolute link
    (deploy_to / "revisions.log").write_text(
        f"Branch main (at {SHA_A}) deployed as release r1 by cap\n$(touch pwned)\n"
    )

    result = run_sh(listing.command(str(deploy_to), FRAME), cwd)

    cap = revisions_log.RevisionsLog(True, (revisions_log.Line(1, "deploy", "r1", "cap", SHA_A, "main"),), (2,))
    expected = listing.ReleaseListing(
        "r2", frozenset({"r1", "r2", "scratch"}), frozenset({"r1"}), (entry("r1", SHA_A), entry("r2", SHA_B)),
        {"r1": SHA_A, "r2": SHA_B}, cap,
    )  # fmt: skip
    assert (0, b"", expected, []) == (result.returncode, result.stderr, listing.parse(result.stdout.decode(), FRAME),
                                      pwned(cwd.parent))  # fmt: skip


def test_a_fresh_host_lists_nothing_and_no_error(cwd: Path) -> None:
    result = run_sh(listing.command(str(cwd.parent / "nowhere"), FRAME), cwd)
    assert (0, b"", listing.ReleaseListing(None, frozenset(), capistrano=revisions_log.RevisionsLog(False))) == (
        result.returncode, result.stderr, listing.parse(result.stdout.decode(), FRAME)
    )  # fmt: skip


def test_a_long_history_crosses_the_wire_as_the_lines_of_existing_releases_and_the_recent_ones(cwd: Path) -> None:
    deploy_to = cwd / "srv"
    old = [f"2025{i:010d}" for i in range(2000)]  # releases long deleted
    kept = {"20260101000001": SHA_A, "20260101000002": SHA_B}
    lines = [line(r, SHA_C, previous=p) for p, r in zip([None, *old], old, strict=False)] * 10  # 20,000 lines
    lines.insert(5, line("20260101000001", SHA_A))  # an existing release deployed long ago
    lines.insert(9, line("20260101000002", SHA_B, previous="20260101000001").replace('":"', '": "'))  # hand-edited
    lines += [line(r, SHA_C) for r in old[:50]]  # the recent past
    make_host(deploy_to, kept, lines)

    result = run_sh(listing.command(str(deploy_to), FRAME, recent=50), cwd)

    found = listing.parse(result.stdout.decode(), FRAME)
    assert found is not None
    assert (0, [entry("20260101000001", SHA_A), entry("20260101000002", SHA_B, previous="20260101000001")]) == (
        result.returncode, list(found.entries[:2])
    )  # fmt: skip
    assert 52 == len(found.entries), "the two of existing releases, then the last 50 lines"
    assert len(result.stdout) < 20_000, f"{len(result.stdout)} bytes for a journal of {len(lines)} lines"


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
def test_the_command_runs_on_dash_and_bash(cwd: Path, shell: str) -> None:
    deploy_to = cwd / "srv"
    make_host(deploy_to, {"r1": SHA_A}, [line("r1", SHA_A)])
    result = run_sh(listing.command(str(deploy_to), FRAME), cwd, shell=shell)
    expected = listing.ReleaseListing(None, frozenset({"r1"}), entries=(entry("r1", SHA_A),), revisions={"r1": SHA_A},
                                      capistrano=revisions_log.RevisionsLog(False))  # fmt: skip
    assert expected == listing.parse(result.stdout.decode(), FRAME)
