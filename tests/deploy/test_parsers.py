"""The pure parsers of remote output, on recorded output: whole, torn, empty, and behind a login shell's noise."""

from __future__ import annotations

import pytest

from deploy.hosts import bluegreen, framing, journal, probe, remote

SHA = "a" * 40
FRAME = framing.Frame("0123456789abcdef" * 2)
S = FRAME.section
LINE = (
    '{"action":"deploy","outcome":"success","previous":null,"release":"r1","run":"x1","sha":"'
    + SHA
    + '","time":"2026-11-23T09:00:00Z","user":"U1"}'
)
ENTRY = journal.Entry("2026-11-23T09:00:00Z", "deploy", "x1", "U1", SHA, "r1", None, "success")
COLOURS = f"green\nr1\n{SHA}\n1\nr2\n{'b' * 40}\n0\n"
BLUE_GREEN = bluegreen.ColourProbe(
    "green", {"blue": bluegreen.ColourState("r1", SHA, True), "green": bluegreen.ColourState("r2", "b" * 40, False)}
)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (f"r1\n{SHA}\n", remote.Current("r1", SHA)),
        ("-\n-\n", remote.Current(None, None)),
        (f"Welcome to the host\nlast login: today\nr1\n{SHA}\n", remote.Current("r1", SHA)),
        ("r1\n", None),  # torn: the REVISION line never came
        ("", None),
    ],
)
def test_the_current_probe(output: str, expected: remote.Current | None) -> None:
    assert expected == remote.parse_probe(output)


@pytest.mark.parametrize(
    ("output", "count", "expected"),
    [
        (f"a\n{S}\nb\n{S}\nc\n", 3, ["a\n", "b\n", "c\n"]),
        (f"a\n{S}\nb\n", 3, ["a\n", "b\n", ""]),  # torn after the second section
        ("", 2, ["", ""]),
        (f"a\n{S}\nb\n{S}\nc\n", 2, ["a\n", f"b\n{S}\nc\n"]),
        (f"a\n---\nb{S}\nx {S}\nc", 2, [f"a\n---\nb{S}\nx {S}\nc", ""]),  # markers only as whole lines
    ],
)
def test_sections_split_back(output: str, count: int, expected: list[str]) -> None:
    assert expected == remote.split_sections(output, FRAME, count)


def test_sections_join_commands_with_a_marker_line() -> None:
    assert f"ls; echo {S}; cat f" == remote.sections(FRAME, "ls", "cat f")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (COLOURS, BLUE_GREEN),
        ("noise\n" + COLOURS, BLUE_GREEN),
        (
            "-\n-\n-\n0\n-\n-\n0\n",
            bluegreen.ColourProbe(
                None,
                {"blue": bluegreen.ColourState(None, None, False), "green": bluegreen.ColourState(None, None, False)},
            ),
        ),
        (COLOURS.rsplit("\n", 3)[0], None),  # torn
        ("", None),
    ],
)
def test_the_colour_probe(output: str, expected: bluegreen.ColourProbe | None) -> None:
    assert expected == bluegreen.parse_probe(output)


@pytest.mark.parametrize(
    ("output", "with_colours", "expected"),
    [
        (f"r1\n{SHA}\n", False, probe.HostProbe(remote.Current("r1", SHA))),
        (f"r1\n{SHA}\n{S}\n{COLOURS}", True, probe.HostProbe(remote.Current("r1", SHA), BLUE_GREEN)),
        (f"r1\n{SHA}\n{S}\ngreen\n", True, probe.HostProbe(remote.Current("r1", SHA), None, colours_garbled=True)),
        (f"r1\n{SHA}\n", True, probe.HostProbe(remote.Current("r1", SHA), None, colours_garbled=True)),
        ("", False, probe.HostProbe(None)),
    ],
)
def test_the_host_probe(output: str, with_colours: bool, expected: probe.HostProbe) -> None:
    assert expected == probe.parse(output, FRAME, with_colours)


def test_the_host_probe_command_adds_the_colours_of_a_blue_green_host() -> None:
    colours = bluegreen.HostColours(
        "/srv/app", {"blue": 9001, "green": 9002}, "127.0.0.1", "app", "/etc/nginx/app.conf", "nginx -t",
        "nginx -s reload", "stop", "http://x/", "body", "", 3, 1.0, 2.0, 60.0,
    )  # fmt: skip
    assert remote.probe("/srv/app") == probe.command("/srv/app", FRAME)
    assert remote.probe("/srv/app") + f"; echo {S}; " + bluegreen.probe(
        "/srv/app", "127.0.0.1", colours.ports
    ) == probe.command("/srv/app", FRAME, colours)
