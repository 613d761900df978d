"""deploy.hosts.guarded, deploy.hosts.bookkeeping and deploy.store.leases' guard: host commands that decide from where
``current`` really points (run by a real ``sh``), the preamble parser, retention from the first exec's listing, and the
owner's local view of its lease."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from deploy.hosts import bluegreen, framing, guarded, journal, remote
from deploy.hosts.bookkeeping import doomed_after
from deploy.hosts.connector import StepResult
from deploy.hosts.listing import ReleaseListing
from deploy.run.hostrun import HostRun
from deploy.run.plan import Host
from deploy.run.steps import RunSteps
from deploy.store.leases import LeaseGuard
from tests.support.ports import free_port

SHA = "0123456789abcdef0123456789abcdef01234567"
FRAME = framing.Frame("0123456789abcdef" * 2)


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
    result = sh(guarded.switch_back(str(d), "r2", "r1", "run1"))
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


@pytest.mark.parametrize(
    ("current", "found"),
    [pytest.param("r1", None, id="found-none-but-there-is-one"), pytest.param("r1", "r0", id="moved-since")],
)
def test_a_switch_from_where_current_no_longer_is_writes_no_intent_and_changes_nothing(
    tmp_path: Path, current: str, found: str | None
) -> None:
    d = layout(tmp_path, current, "r0", "r1", "r2")
    result = sh(guarded.switch(str(d), "run1", found, "r2", SHA))
    assert (guarded.MOVED, "releases/r1", False) == (
        result.returncode, str((d / "current").readlink()), Path(remote.journal_path(str(d))).exists()
    )  # fmt: skip
    assert "no longer where this run found it" in result.stderr


def test_a_first_switch_and_one_from_a_link_made_by_another_tool_go_ahead(tmp_path: Path) -> None:
    fresh = layout(tmp_path / "a", None, "r2")
    first = sh(guarded.switch(str(fresh), "run1", None, "r2", SHA))
    other = layout(tmp_path / "b", None, "r1", "r2")
    (other / "current").symlink_to(f"{other}/releases/r1/")  # absolute, with a trailing slash
    second = sh(guarded.switch(str(other), "run1", "r1", "r2", SHA))
    assert (0, 0, guarded.had_none("run1")) == (
        first.returncode, second.returncode, Path(remote.journal_path(str(fresh))).read_text()[: len(guarded.had_none("run1"))]
    )  # fmt: skip


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
    result = sh(guarded.prepare(str(d), ["echo built"], FRAME))
    preamble, shown = guarded.split_preamble(result.stdout, FRAME)
    assert preamble is not None
    current, listing = guarded.parse_preamble(preamble, FRAME)
    assert ("built\n", remote.Current("r1", SHA), frozenset({"r1"})) == (
        shown,
        current,
        listing.releases if listing else None,
    )


def test_a_preamble_whose_listing_is_torn_still_gives_current_but_no_listing() -> None:
    cut = f"{FRAME.preamble_start}\n{{}}\n{{}}\n{FRAME.section}\nr1\n{SHA}\n{FRAME.preamble_end}\n"
    preamble, shown = guarded.split_preamble(cut, FRAME)
    assert preamble is not None
    assert ((remote.Current("r1", SHA), None), "") == (guarded.parse_preamble(preamble, FRAME), shown)


def test_going_back_to_no_release_needs_the_hosts_own_journal_to_say_it_had_none(tmp_path: Path) -> None:
    d = layout(tmp_path, "r2", "r2")
    refused = sh(guarded.switch_back(str(d), "r2", None, "run1"))
    after_refusal = str((d / "current").readlink())
    Path(remote.journal_path(str(d))).parent.mkdir()
    Path(remote.journal_path(str(d))).write_text(guarded.intent_line("run0", None, "r2") + "\n")
    other_run = sh(guarded.switch_back(str(d), "r2", None, "run1"))
    Path(remote.journal_path(str(d))).write_text(guarded.intent_line("run1", None, "r2") + "\n")
    said = sh(guarded.switch_back(str(d), "r2", None, "run1"))
    assert (guarded.NOT_KNOWN, "releases/r2", guarded.NOT_KNOWN, 0, guarded.SWITCHED_BACK, False) == (
        refused.returncode, after_refusal, other_run.returncode, said.returncode, said.stdout.strip(),
        (d / "current").is_symlink(),
    )  # fmt: skip
    assert "does not say this host had no release before run run1" in refused.stderr


@pytest.mark.parametrize(
    "name",
    [
        "--- shipbot-preamble-end",
        "shipbot-listing-end",
        "---",
        "x\n--- shipbot-preamble-end\nr9\n-",
        f"{FRAME.preamble_end}",
        "shipbot-preamble-end-" + "0" * 32,
    ],
)
@pytest.mark.parametrize("written", ["escaped", "unescaped"])
def test_a_journal_holding_any_marker_still_gives_current_and_the_listing(
    tmp_path: Path, name: str, written: str
) -> None:
    d = layout(tmp_path, "r1", "r1")
    line = journal.entry(action="deploy", run="x", user=name, sha=SHA, release="r1", previous=None, outcome="success")
    text = line.to_line() if written == "escaped" else json.dumps(line.__dict__)
    Path(remote.journal_path(str(d))).parent.mkdir()
    Path(remote.journal_path(str(d))).write_text(f"{text}\n{name}\n")
    frame = framing.new()
    result = sh(guarded.prepare(str(d), ["echo built"], frame))
    preamble, shown = guarded.split_preamble(result.stdout, frame)
    assert preamble is not None
    current, listing = guarded.parse_preamble(preamble, frame)
    assert ("built\n", remote.Current("r1", SHA), (line,)) == (shown, current, listing.entries if listing else None)


async def test_a_host_whose_bookkeeping_does_not_parse_fails_saying_so_and_keeps_no_guess(tmp_path: Path) -> None:
    d = layout(tmp_path, "r1", "r1")
    host = Host("web1", 22, "deploy", str(d))
    steps = RunSteps(_LocalShell(host), "r0test", lambda _event: None)  # type: ignore[arg-type]
    hr = HostRun(host, conn=_LocalShell(host))
    frame = framing.new()
    torn = guarded.prepare(str(d), ["echo built"], frame).replace(f"echo {frame.preamble_end}; ", "")
    result = await steps.run(hr, "upload", torn, 10.0, bookkeeping=True)
    assert (False, None, True, "upload") == (result.ok, hr.previous, hr.failed, hr.failed_step)
    assert "bookkeeping output" in hr.error and "did not parse" in hr.error


async def test_a_blue_green_hosts_first_exec_reads_its_colours_and_fails_when_they_do_not_parse(
    tmp_path: Path,
) -> None:
    """The colour probe travels in the first exec's preamble (no exec of its own): the live colour and each colour's
    release; a colour section that does not parse fails the step, as a torn listing does: nothing is guessed."""
    d = layout(tmp_path, "r1", "r1")
    (d / "blue").symlink_to("releases/r1")
    (d / ".shipbot").mkdir()
    (d / ".shipbot" / "live").write_text("blue\n")
    host = Host("web1", 22, "deploy", str(d))
    steps = RunSteps(_LocalShell(host), "r0test", lambda _event: None)  # type: ignore[arg-type]
    colours = bluegreen.probe(str(d), "127.0.0.1", {"blue": free_port(), "green": free_port()})
    hr = HostRun(host, conn=_LocalShell(host))
    read = await steps.run(hr, "upload", guarded.prepare(str(d), ["echo built"], framing.new(), colours), 10.0,
                           bookkeeping=True)  # fmt: skip
    garbled = HostRun(host, conn=_LocalShell(host))
    torn = await steps.run(garbled, "upload", guarded.prepare(str(d), ["echo built"], framing.new(), "echo blue"), 10.0,
                           bookkeeping=True)  # fmt: skip
    assert (True, "built", "r1") == (read.ok, read.output.strip(), hr.previous)
    assert (
        bluegreen.ColourProbe(
            "blue", {"blue": bluegreen.ColourState("r1", SHA, False), "green": bluegreen.ColourState(None, None, False)}
        )
        == hr.colours
    )
    assert (False, None, "upload") == (torn.ok, garbled.colours, garbled.failed_step)
    assert "colour probe" in garbled.error and "did not parse" in garbled.error


def test_retention_decided_from_the_first_exec_keeps_current_and_the_rollback_target() -> None:
    old = [
        journal.Entry("t", "deploy", f"x{i}", "u", SHA, f"r{i}", f"r{i - 1}" if i else None, "success")
        for i in range(1, 4)
    ]
    releases = frozenset({"r1", "r2", "r3"})
    listing = ReleaseListing("r3", releases, frozenset(), tuple(old), dict.fromkeys(releases, SHA))
    new = journal.Entry("t", "deploy", "x4", "u", SHA, "r4", "r3", "success")
    assert ["r1", "r2"] == doomed_after(listing, "r4", new, keep=1)


async def test_a_guard_renews_once_its_local_deadline_passed_and_stays_lost_once_refused() -> None:
    answers = [True, False, True]

    async def renew() -> bool:
        return answers.pop(0)

    guard = LeaseGuard(renew, ttl=0.2)
    first = await guard.valid()  # within the deadline: no renewal asked
    time.sleep(0.2)
    renewed = await guard.valid()
    time.sleep(0.2)
    refused = await guard.valid()
    assert (True, True, False, False, [True]) == (first, renewed, refused, await guard.valid(), answers)


class _LocalShell:
    """A host connection whose commands run in a local ``sh`` (a real shell, standing for the host's login shell)."""

    def __init__(self, host: Host) -> None:
        self.host = host

    async def run(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
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
    fake = guarded.prepare("/nowhere", ["true"], FRAME).replace("/nowhere", "/tmp/forged")
    forged = await steps.run(hr, "build", f"printf '%s\\n' {shlex.quote(fake)} | sh", 10.0)
    assert (None, None) == (hr.listing, hr.previous), "what a build prints is never bookkeeping"
    assert FRAME.preamble_end in forged.output
    await steps.run(hr, "upload", guarded.prepare(str(d), ["echo built"], framing.new()), 10.0, bookkeeping=True)
    assert (frozenset({"r1"}), "r1") == (hr.listing.releases if hr.listing else None, hr.previous)
