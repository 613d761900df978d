"""deploy.guarded, deploy.bookkeeping and deploy.leases' guard: host commands that decide from where ``current``
really points (run by a real ``sh``), the preamble parser, retention from the first exec's listing, and the
owner's local view of its lease."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deploy import guarded, journal, remote
from deploy.bookkeeping import doomed_after
from deploy.hostrun import HostRun
from deploy.leases import LeaseGuard
from deploy.listing import ReleaseListing
from deploy.plan import Host
from deploy.ports import StepResult
from deploy.steps import RunSteps

SHA = "0123456789abcdef0123456789abcdef01234567"


def sh(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False)


def layout(tmp_path: Path, current: str | None, *releases: str) -> Path:
    for r in releases:
        (tmp_path / "releases" / r).mkdir(parents=True)
        (tmp_path / "releases" / r / "REVISION").write_text(SHA + "\n")
    if current:
        (tmp_path / "current").symlink_to(f"releases/{current}")
    return tmp_path


@pytest.mark.parametrize(
    ("current", "after", "said"),
    [
        pytest.param("r2", "releases/r1", guarded.SWITCHED_BACK, id="switched: goes back"),
        pytest.param("r1", "releases/r1", guarded.UNCHANGED, id="never switched: nothing"),
    ],
)
def test_switching_back_acts_on_where_current_really_points(
    tmp_path: Path, current: str, after: str, said: str
) -> None:
    d = layout(tmp_path, current, "r1", "r2")
    result = sh(guarded.switch_back(str(d), "r2", "r1"))
    assert (0, said, after) == (result.returncode, result.stdout.strip(), str((d / "current").readlink()))


def test_the_switch_writes_its_intent_to_the_journal_before_the_rename(tmp_path: Path) -> None:
    d = layout(tmp_path, "r1", "r1", "r2")
    result = sh(guarded.switch(str(d), "run1", "r1", "r2", SHA))
    lines = remote.journal_path(str(d))
    assert (0, "releases/r2", [], '"intent":"switch"') == (
        result.returncode,
        str((d / "current").readlink()),
        journal.parse(Path(lines).read_text()),
        Path(lines).read_text().split(",")[1][:18],
    )


def test_a_switch_to_a_release_with_another_sha_says_so_and_changes_nothing(tmp_path: Path) -> None:
    d = layout(tmp_path, "r1", "r1", "r2")
    result = sh(guarded.switch(str(d), "run1", "r1", "r2", "f" * 40))
    assert (guarded.NOT_VERIFIED, "releases/r1", False) == (
        result.returncode,
        str((d / "current").readlink()),
        Path(remote.journal_path(str(d))).exists(),
    )


def test_finish_appends_the_line_and_never_removes_the_live_release(tmp_path: Path) -> None:
    d = layout(tmp_path, "r2", "r1", "r2", "r3")
    line = journal.entry(action="deploy", run="x", user="u", sha=SHA, release="r3", previous="r2", outcome="failed")
    result = sh(guarded.finish(str(d), line.to_line(), ["r2", "r3"]))
    assert (0, ["r1", "r2"], [line]) == (
        result.returncode,
        sorted(p.name for p in (d / "releases").iterdir()),
        journal.parse(Path(remote.journal_path(str(d))).read_text()),
    )


def test_the_preamble_gives_current_and_the_listing_and_is_taken_out_of_what_people_see(tmp_path: Path) -> None:
    d = layout(tmp_path, "r1", "r1")
    result = sh(guarded.prepare(str(d), ["echo built"]))
    preamble, shown = guarded.split_preamble(result.stdout)
    assert preamble is not None
    current, listing = guarded.parse_preamble(preamble)
    assert ("built\n", remote.Current("r1", SHA), frozenset({"r1"})) == (
        shown,
        current,
        listing.releases if listing else None,
    )


def test_a_preamble_cut_at_its_start_still_gives_current_but_no_listing() -> None:
    cut = f"{{}}\n{{}}\n{remote.SECTION}\nr1\n{SHA}\n{guarded.PREAMBLE_END}"
    preamble, shown = guarded.split_preamble(cut)
    assert preamble is not None
    assert ((remote.Current("r1", SHA), None), "") == (guarded.parse_preamble(preamble), shown)


def test_retention_decided_from_the_first_exec_keeps_current_and_the_rollback_target() -> None:
    old = [
        journal.Entry("t", "deploy", f"x{i}", "u", SHA, f"r{i}", f"r{i - 1}" if i else None, "success")
        for i in range(1, 4)
    ]
    releases = frozenset({"r1", "r2", "r3"})
    listing = ReleaseListing("r3", releases, frozenset(), tuple(old), dict.fromkeys(releases, SHA))
    new = journal.Entry("t", "deploy", "x4", "u", SHA, "r4", "r3", "success")
    assert ["r1", "r2"] == doomed_after(listing, "r4", new, keep=1)


def test_a_guard_renews_once_its_local_deadline_passed_and_stays_lost_once_refused() -> None:
    answers = [True, False, True]
    guard = LeaseGuard(lambda: answers.pop(0), ttl=0.2)
    first = guard.valid()  # within the deadline: no renewal asked
    time.sleep(0.2)
    renewed = guard.valid()
    time.sleep(0.2)
    refused = guard.valid()
    assert (True, True, False, False, [True]) == (first, renewed, refused, guard.valid(), answers)


class _LocalShell:
    """A host connection whose commands run in a local ``sh`` (a real shell, standing for the host's login shell)."""

    def __init__(self, host: Host) -> None:
        self.host = host

    async def run(
        self, command: str, timeout: float, stdin: bytes | None = None, on_pgid: Callable[[int], None] | None = None
    ) -> StepResult:
        done = subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, timeout=timeout)
        return StepResult(done.returncode, (done.stdout + done.stderr).decode(), 0.0)

    read = run

    async def close(self) -> None:
        return None


async def test_only_the_first_exec_is_read_as_bookkeeping_and_a_build_cannot_fake_a_listing(tmp_path: Path) -> None:
    d = layout(tmp_path, "r1", "r1")
    host = Host("web1", 22, "deploy", str(d))
    steps = RunSteps(_LocalShell(host), "r0test", lambda _event: None)  # type: ignore[arg-type]
    hr = HostRun(host, conn=_LocalShell(host))
    fake = guarded.prepare("/nowhere", ["true"]).replace("/nowhere", "/tmp/forged")
    forged = await steps.run(hr, "build", f"printf '%s\\n' {shlex.quote(fake)} | sh", 10.0)
    assert (None, None) == (hr.listing, hr.previous), "what a build prints is never bookkeeping"
    assert guarded.PREAMBLE_END in forged.output
    await steps.run(hr, "upload", guarded.prepare(str(d), ["echo built"]), 10.0, bookkeeping=True)
    assert (frozenset({"r1"}), "r1") == (hr.listing.releases if hr.listing else None, hr.previous)
