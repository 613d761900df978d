"""When /healthz says the bot can serve Slack: a table over mode, secret, connection and time."""

from __future__ import annotations

from typing import Literal

import pytest

from cli.health import SlackHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# (seconds later, accepting, connected, healthy)
Step = tuple[float, bool, bool, bool]


@pytest.mark.parametrize(
    ("mode", "secret", "steps"),
    [
        pytest.param("socket", False, [(0, True, True, True)], id="socket-connected"),
        pytest.param(
            "socket",
            False,
            [(0, True, False, True), (59, True, False, True), (2, True, False, False)],
            id="socket-not-yet-connected-after-start-past-the-grace",
        ),
        pytest.param(
            "socket",
            False,
            [
                (0, True, True, True),
                (100, True, False, True),
                (60, True, False, True),
                (1, True, False, False),
                (5, True, True, True),
            ],
            id="socket-down-past-the-grace-then-back",
        ),
        pytest.param(
            "socket",
            False,
            [
                (0, True, True, True),
                (30, True, False, True),
                (20, True, True, True),
                (50, True, False, True),
                (50, True, False, True),
            ],
            id="each-drop-gets-its-own-grace",
        ),
        pytest.param("socket", False, [(0, False, True, False)], id="shutting-down"),
        pytest.param("http", True, [(0, True, True, True)], id="http-with-a-signing-secret"),
        pytest.param("http", False, [(0, True, True, False)], id="http-without-a-signing-secret"),
        pytest.param("http", True, [(0, True, False, False)], id="http-not-listening"),
    ],
)
def test_healthy_when_the_bot_can_serve_slack(mode: Literal["socket", "http"], secret: bool, steps: list[Step]) -> None:
    clock = Clock()
    health = SlackHealth(mode, signing_secret=secret, grace=60, clock=clock)
    seen = []
    for later, accepting, connected, _ in steps:
        clock.now += later
        seen.append(health.check(accepting=accepting, connected=connected))
    assert [healthy for *_, healthy in steps] == seen
