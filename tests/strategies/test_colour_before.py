"""Which colour a repair puts traffic back on (pure): the colour live before the run, read from the swap's intent and
the colour links, whatever the labels say by the time the controller died."""

from __future__ import annotations

import pytest

from deploy.hosts.bluegreen import ColourProbe, ColourState
from deploy.run.colour_repair import colour_before
from deploy.store.intents import RESTORED, SWITCHED, SWITCHING, HostIntent


def found(live: str | None, blue: str | None, green: str | None) -> ColourProbe:
    return ColourProbe(live, {"blue": ColourState(blue, "a" * 40, True), "green": ColourState(green, "b" * 40, True)})


def intent(state: str, from_release: str | None = "R1", to_release: str = "R2") -> HostIntent:
    return HostIntent("h1", from_release, "a" * 40 if from_release else None, to_release, "b" * 40, state)


@pytest.mark.parametrize(
    ("probe", "written", "expected"),
    [
        pytest.param(found("blue", "R1", "R2"), None, "blue", id="no-intent-the-label-says"),
        pytest.param(found("blue", "R1", "R2"), intent(""), "blue", id="never-asked-to-swap"),
        pytest.param(found("blue", "R1", "R2"), intent(SWITCHING), "blue", id="killed-mid-swap"),
        pytest.param(found("green", "R1", "R2"), intent(SWITCHED), "blue", id="labels-already-swapped"),
        pytest.param(found("blue", "R2", "R1"), intent(SWITCHING), "green", id="green-was-live"),
        pytest.param(found("green", "R0", "R1"), intent(SWITCHING, to_release="R0"), "green", id="rollback-to-idle"),
        pytest.param(found(None, None, "R2"), intent(SWITCHING, from_release=None), None, id="first-deploy"),
        pytest.param(found("blue", "R1", "R2"), intent(RESTORED), "blue", id="already-put-back"),
    ],
)
def test_the_colour_live_before_the_run(probe: ColourProbe, written: HostIntent | None, expected: str | None) -> None:
    assert expected == colour_before(probe, written)
