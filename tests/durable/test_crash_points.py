"""A deploy killed (SIGKILL) or cancelled (SIGINT) at each boundary, then ``shipbot recover``: every host ends on
one release, ``current`` resolves to a release folder holding its REVISION, and nothing the run started is left
running on the hosts.

The controller is the real command line (``shipbot deploy``) in its own process; the tests watch the hosts'
disks and signal it when the state is reached. One fleet serves every case: each case starts from the same
baseline (``main`` live everywhere) and must end back on it.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.durable.conftest import TTL, World, kill, leftovers, wait_for

pytestmark = pytest.mark.sshd

# (what is slow, on which host, what must be true everywhere else before the signal)
BOUNDARIES = {
    "after prepare on some hosts": ("BUILD", 2),
    "inside the switch step": ("MV", 2),
    "during restart": ("RESTART", 2),
    "during healthcheck": ("HEALTH", 2),
}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "cancelled"])
@pytest.mark.parametrize("boundary", list(BOUNDARIES))
def test_a_deploy_stopped_at_a_boundary_ends_on_one_release_after_recover(
    world: World, baseline: None, boundary: str, sig: signal.Signals
) -> None:
    what, host = BOUNDARIES[boundary]
    live = world.one_release_everywhere()
    started = world.slow(host, what)
    proc = world.start("deploy", "staging", "feature/new-login", "--yes")
    try:
        wait_for(started.exists, what=f"{what} to start on host {host}")
        if what == "MV":
            assert world.current(host) != live, "the rename happened; the step has not answered"
        proc.send_signal(sig)
    except BaseException:
        kill(proc, signal.SIGKILL)  # not left running into the next test
        raise
    finally:
        world.calm()
    code, err = kill(proc, sig)
    if sig is signal.SIGINT:
        assert 130 == code, err
        assert live == world.one_release_everywhere(), "a cancel puts every host back by itself"

    recovered = world.shipbot("recover", "staging")
    if recovered.returncode == 3:  # the dead controller's lease has not expired yet
        time.sleep(TTL)
        recovered = world.shipbot("recover", "staging")

    assert 0 == recovered.returncode, recovered.stdout + recovered.stderr
    assert live == world.one_release_everywhere()
    assert [live.removeprefix("releases/")] * 3 == [world.releases(i)[-1] for i in range(3)]
    assert [] == leftovers(), "no remote process of the run is left"
    store = world.store()
    try:
        assert "running" not in {r.state for r in store.list_runs("shop", "staging")}
    finally:
        store.close()
