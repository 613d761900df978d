"""Blue/green through real sshd hosts and a real nginx per host, with the demo web app."""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.request

import pytest

from deploy.events import Event, HostStepStarted, Outcome
from tests.strategies.conftest import BlueGreenFactory

pytestmark = [pytest.mark.sshd, pytest.mark.nginx]


def through_nginx(url: str) -> str:
    with urllib.request.urlopen(f"{url}/version", timeout=5) as response:
        return response.read().decode().strip()


def steps(events: list[Event]) -> list[str]:
    return [e.step for e in events if isinstance(e, HostStepStarted)]


async def test_deploy_goes_to_the_idle_colour_and_rollback_swaps_back(blue_green_engine: BlueGreenFactory) -> None:
    engine, fleet, (nginx,) = await blue_green_engine(hosts=1)
    host = fleet.hosts[0].local_deploy_to

    first = await engine.deploy("staging", "main", user="U0ALICE")
    v1 = first.hosts[0].sha
    assert Outcome.SUCCESS == first.outcome, first.message
    assert v1 == through_nginx(nginx.url)
    assert "blue\n" == (host / ".shipbot" / "live").read_text()

    events: list[Event] = []
    second = await engine.deploy("staging", "v2", user="U0ALICE", sink=events.append)
    v2 = second.hosts[0].sha
    assert Outcome.SUCCESS == second.outcome, second.message
    assert v2 == through_nginx(nginx.url)
    assert ["verify", "port green", "link green", "start green", "healthcheck on green", "nginx swap"] == [
        s for s in steps(events) if s not in ("setup", "upload", "link", "build")
    ][:6]
    status = await engine.status("staging")
    h = status.hosts[0]
    assert ("green", v2, v1, True, True) == (
        h.colour,
        h.colours["green"].sha,
        h.colours["blue"].sha,
        h.colours["green"].running,
        h.colours["blue"].running,
    ), "the old colour keeps running"
    assert {"colour": "green"}.items() <= status.as_json()["hosts"][0].items()  # type: ignore[index]

    events.clear()
    back = await engine.rollback("staging", user="U0BOB", sink=events.append)

    assert Outcome.SUCCESS == back.outcome, back.message
    assert "swapped back" in back.message
    assert v1 == through_nginx(nginx.url)
    assert "blue\n" == (host / ".shipbot" / "live").read_text()
    assert not any(s.startswith("start") for s in steps(events)), "a swap back, no restart"
    assert {v1} == {h.sha for h in (await engine.status("staging")).hosts}


async def test_a_failing_nginx_test_leaves_the_live_colour_untouched(blue_green_engine: BlueGreenFactory) -> None:
    engine, fleet, (nginx,) = await blue_green_engine(hosts=1)
    v1 = (await engine.deploy("staging", "main", user="U0ALICE")).hosts[0].sha
    upstream = nginx.prefix / "upstream.conf"
    before = upstream.read_text()
    (nginx.prefix / "conf.d" / "broken.conf").write_text("this_is_not_nginx;\n")

    result = await engine.deploy("staging", "v2", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert "nginx swap failed" in result.message
    assert "nginx config test failed, traffic stays on blue" in result.message
    assert 'unknown directive "this_is_not_nginx"' in result.message
    assert before == upstream.read_text()
    assert v1 == through_nginx(nginx.url)
    assert "blue\n" == (fleet.hosts[0].local_deploy_to / ".shipbot" / "live").read_text()
    status = (await engine.status("staging")).hosts[0]
    assert (v1, False) == (status.sha, status.colours["green"].running), "the new colour's app was stopped again"


async def test_a_healthcheck_that_never_passes_never_moves_traffic(blue_green_engine: BlueGreenFactory) -> None:
    engine, _, (nginx,) = await blue_green_engine(hosts=1)
    v1 = (await engine.deploy("staging", "main", user="U0ALICE")).hosts[0].sha
    events: list[Event] = []

    result = await engine.deploy("staging", "broken-health", user="U0ALICE", sink=events.append)

    assert Outcome.FAILED == result.outcome
    assert "healthcheck on green failed" in result.message and "traffic never moved to green" in result.message
    assert "nginx swap" not in steps(events)
    assert v1 == through_nginx(nginx.url)


async def test_a_colour_port_already_in_use_is_named(blue_green_engine: BlueGreenFactory) -> None:
    engine, _, (nginx,) = await blue_green_engine(hosts=1)
    v1 = (await engine.deploy("staging", "main", user="U0ALICE")).hosts[0].sha
    green = engine.config.environments["staging"].hosts[0].blue_green.ports.green  # type: ignore[union-attr]
    squatter = socket.create_server(("127.0.0.1", green))  # another process serving there: it answers and hangs up
    stop = threading.Event()

    def serve() -> None:
        squatter.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = squatter.accept()
                conn.close()

    answering = threading.Thread(target=serve, daemon=True)
    answering.start()
    try:
        result = await engine.deploy("staging", "v2", user="U0ALICE")
    finally:
        stop.set()
        answering.join()
        squatter.close()

    assert Outcome.FAILED == result.outcome
    assert f"port {green} (green) is still in use" in result.message
    assert v1 == through_nginx(nginx.url)


async def test_two_hosts_swap_in_one_batch(blue_green_engine: BlueGreenFactory) -> None:
    engine, _, nginxes = await blue_green_engine(hosts=2)
    await engine.deploy("staging", "main", user="U0ALICE")

    result = await engine.deploy("staging", "v2", user="U0ALICE")

    assert Outcome.SUCCESS == result.outcome, result.message
    assert [result.hosts[0].sha] * 2 == [through_nginx(n.url) for n in nginxes]
