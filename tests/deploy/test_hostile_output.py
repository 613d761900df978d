"""Property tests: every parser of a host's output, and the journal, against whatever a host, a committer or a
hand edit can put there (any unicode, newlines, NUL, shipbot's own markers old and new, megabyte fields). Each
parser raises nothing and never reads text placed inside a section as a frame of its own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deploy.hosts import bluegreen, framing, guarded, journal, listing, probe, remote

FRAME = framing.Frame("9e" * 16)  # this run's: nothing outside holds its nonce
OTHER = framing.Frame("f" * 32)  # another run's, seen by whoever read a host's process list once
SHA = "0123456789abcdef0123456789abcdef01234567"
MARKERS = [
    "--- shipbot-preamble-end", "--- shipbot-preamble", "---", "shipbot-listing", "shipbot-journal",
    "shipbot-listing-end", OTHER.preamble_end, OTHER.preamble_start, OTHER.section, *listing.markers(OTHER),
    "\x00", "\n", "\r\n", "\u2028", "\x85", '"', "\\", "{", "}", "\t",
]  # fmt: skip
_any = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
hostile = st.one_of(
    _any,
    st.sampled_from(MARKERS),
    st.lists(st.one_of(st.sampled_from(MARKERS), _any), max_size=6).map("".join),
)
a_line = st.one_of(hostile.map(lambda t: t.replace("\n", " ")), st.sampled_from(MARKERS[:11]))
MEGABYTE = 1024 * 1024


def grown(text: str, big: bool) -> str:
    """``text``, or (``big``) ``text`` repeated past a megabyte: a megabyte field (built here, so Hypothesis never
    has to print one)."""
    return (text or "x") * (MEGABYTE // max(len(text), 1) + 1) if big else text


big = st.booleans()


def _no_frame(text: str) -> bool:
    """The one thing nobody outside can write: this run's nonce."""
    return FRAME.nonce not in text


def _entry(user: str, release: str = "r1") -> journal.Entry:
    return journal.Entry("2026-11-23T09:00:00Z", "deploy", "x1", user, SHA, release, None, "success")


@settings(max_examples=60, deadline=None)
@given(hostile, big)
def test_a_journal_line_reads_back_as_written_whoever_is_named_in_it(name: str, megabyte: bool) -> None:
    user = grown(name, megabyte)
    line = _entry(user).to_line()
    assert [_entry(user)] == journal.parse(line)
    assert "\n" not in line and "\x00" not in line and "-" not in line.partition('"user":')[2]


@given(st.lists(hostile, max_size=8).map("\n".join))
def test_any_journal_text_parses_to_entries_of_text_and_nothing_else(text: str) -> None:
    for e in journal.parse(text):
        assert all(isinstance(v, str) for k, v in e.__dict__.items() if k != "previous")
        assert e.previous is None or isinstance(e.previous, str)


@settings(max_examples=60, deadline=None)
@given(st.lists(a_line, max_size=6), st.lists(hostile, min_size=1, max_size=3), big)
def test_the_listing_keeps_its_shape_whatever_the_journal_holds(
    noise: list[str], names: list[str], megabyte: bool
) -> None:
    users = [grown(names[0], megabyte), *names[1:]]
    lines = [*noise, *(_entry(u).to_line() for u in users), *noise]
    raw = [json.dumps(_entry(u).__dict__) for u in users]  # written by an older shipbot: not escaped
    assume(all(_no_frame(x) for x in lines + raw))
    start, mark, end = listing.markers(FRAME)
    output = "\n".join(["Welcome", start, "current\tr1", f"release\tr1\t{SHA}", mark, *lines, *raw, end, ""])
    found = listing.parse(output, FRAME)
    assert found is not None
    assert ("r1", frozenset({"r1"}), {"r1": SHA}) == (found.current, found.releases, dict(found.revisions))
    assert [_entry(u) for u in users] * 2 == list(found.entries)


@given(
    st.one_of(
        hostile, st.sampled_from([FRAME.preamble_end, FRAME.preamble_start, FRAME.section, *listing.markers(FRAME)])
    ),
    st.integers(min_value=1, max_value=4),
)
def test_the_parsers_raise_nothing_on_any_output(text: str, count: int) -> None:
    listing.parse(text, FRAME)
    remote.parse_probe(text)
    bluegreen.parse_probe(text)
    probe.parse(text, FRAME, True)
    assert count == len(remote.split_sections(text, FRAME, count))
    preamble, _ = guarded.split_preamble(text, FRAME)
    if preamble is not None:
        guarded.parse_preamble(preamble, FRAME)


@given(st.lists(hostile.filter(_no_frame), min_size=1, max_size=4))
def test_sections_split_back_into_what_each_command_printed(printed: list[str]) -> None:
    texts = [p if p.endswith("\n") or not p else p + "\n" for p in printed]
    output = f"{FRAME.section}\n".join(texts)
    assert texts == remote.split_sections(output, FRAME, len(texts))


@given(
    st.lists(a_line, max_size=4),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), min_size=1, max_size=60),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), min_size=1, max_size=70),
)
def test_the_probe_reads_the_last_two_lines_behind_any_noise(noise: list[str], release: str, sha: str) -> None:
    assume(release != remote.NO_CURRENT and sha != remote.NO_CURRENT)
    output = "\n".join([*noise, release, sha, ""])
    assert remote.Current(release, sha) == remote.parse_probe(output)


@settings(max_examples=60, deadline=None)
@given(st.lists(a_line, max_size=4), st.lists(hostile, min_size=1, max_size=3), big, hostile)
def test_a_preamble_gives_current_whatever_its_journal_and_the_build_after_it_print(
    noise: list[str], names: list[str], megabyte: bool, build: str
) -> None:
    users = [grown(names[0], megabyte), *names[1:]]
    journal_lines = [*(json.dumps(_entry(u).__dict__) for u in users), *noise]
    assume(all(_no_frame(x) for x in [*journal_lines, build]))
    start, mark, end = listing.markers(FRAME)
    body = [start, "current\tr1", f"release\tr1\t{SHA}", mark, *journal_lines, end, FRAME.section, "r1", SHA]
    output = "\n".join([*noise, FRAME.preamble_start, *body, FRAME.preamble_end, build])
    preamble, shown = guarded.split_preamble(output, FRAME)
    assert preamble is not None and build == shown
    current, found = guarded.parse_preamble(preamble, FRAME)
    assert (remote.Current("r1", SHA), [_entry(u) for u in users]) == (current, list(found.entries) if found else None)


def _host(tmp_path: Path, journal_bytes: bytes) -> Path:
    d = tmp_path / "srv"
    (d / "releases" / "r1").mkdir(parents=True, exist_ok=True)
    (d / "releases" / "r1" / "REVISION").write_text(SHA + "\n")
    if not (d / "current").is_symlink():
        (d / "current").symlink_to("releases/r1")
    (d / ".shipbot").mkdir(exist_ok=True)
    (d / ".shipbot" / "journal.jsonl").write_bytes(journal_bytes)
    return d


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=300), st.sampled_from(MARKERS).map(str.encode)), max_size=6), hostile)
def test_a_real_shell_over_any_journal_bytes_gives_current_and_every_valid_line(
    tmp_path: Path, garbage: list[bytes], user: str
) -> None:
    """The first exec run by a real ``sh`` on a host whose journal holds arbitrary bytes (not UTF-8, NUL, torn
    lines, markers) beside a line naming any user: current and that line come back; nothing is guessed."""
    good = _entry(user).to_line().encode()
    d = _host(tmp_path, b"\n".join([*garbage, good, *garbage]) + b"\n")
    frame = framing.new()
    done = subprocess.run(
        ["sh", "-c", guarded.prepare(str(d), ["echo built"], frame)], capture_output=True, check=False
    )
    preamble, shown = guarded.split_preamble(done.stdout.decode("utf-8", "replace"), frame)
    assert preamble is not None and "built\n" == shown
    current, found = guarded.parse_preamble(preamble, frame)
    assert found is not None and remote.Current("r1", SHA) == current
    assert _entry(user) in found.entries
