"""No request fails on any blue/green path: every path is run on two real sshd hosts, each behind its own real
nginx, under a steady load through nginx (100 requests a second in all, loopback, bounded in count and time); a
single non-2xx answer or connection error fails the test."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest

from bench.zero_downtime import demo
from bench.zero_downtime.load import Load, Under
from deploy.events import Event, HostStepStarted, Outcome
from deploy.run.engine import Engine
from tests.strategies.conftest import BlueGreenFactory
from tests.support.gitrepo import GitRepo

pytestmark = [pytest.mark.sshd, pytest.mark.nginx]

RATE = 100.0  # requests a second over both hosts: sized for two busy cores
BOUND = 40.0  # seconds: no load runs longer, whatever happens
WEIGHT = 300_000  # map entries: nginx parses its config for about 0.3 s on each test and reload, as a large
# production config does: the old workers still proxy to the old colour well after `nginx -s reload` returned
WORKERS = {"nginx": {"pid_file": "nginx/nginx.pid"}}  # the demo nginx writes its pid there


def versions(repo: GitRepo) -> dict[str, str]:
    return {repo.sha("main"): "v1", repo.sha("v2"): "v2", repo.sha("broken-health"): "v3"}


def under_load(nginxes: list[demo.Nginx], repo: GitRepo) -> Under:
    return Under([f"{n.url}/version" for n in nginxes], RATE, BOUND, versions(repo))


def no_request_failed(load: Load) -> None:
    assert load.sent >= 50, load.summary()
    assert 0 == load.failed, load.summary()


def answering(nginxes: list[demo.Nginx], repo: GitRepo) -> list[str]:
    names = versions(repo)
    out = []
    for n in nginxes:
        with urllib.request.urlopen(f"{n.url}/version", timeout=5) as response:
            out.append(names[response.read().decode().strip()])
    return out


async def running(engine: Engine, colour: str) -> list[bool]:
    return [h.colours[colour].running for h in (await engine.status("staging")).hosts]


async def first_deploy(engine: Engine) -> None:
    result = await engine.deploy("staging", "main", user="U0ALICE")
    assert Outcome.SUCCESS == result.outcome, result.message


async def test_a_good_deploy_then_one_that_fails_its_healthcheck(
    blue_green_engine: BlueGreenFactory, demo_repo: GitRepo
) -> None:
    engine, _, nginxes = await blue_green_engine(hosts=2, bg=WORKERS)
    await first_deploy(engine)

    async with under_load(nginxes, demo_repo) as load:
        result = await engine.deploy("staging", "v2", user="U0ALICE")

    assert Outcome.SUCCESS == result.outcome, result.message
    no_request_failed(load)
    assert ["v1", "v2"] == list(load.first), "v1 answered, then v2"
    assert ["v2", "v2"] == answering(nginxes, demo_repo)

    async with under_load(nginxes, demo_repo) as load:
        result = await engine.deploy("staging", "broken-health", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    no_request_failed(load)
    assert ["v2"] == list(load.versions)
    assert [False, False] == await running(engine, "blue"), "the colour that failed its healthcheck was stopped"


async def test_nginx_t_failing_on_a_later_host_swaps_the_first_back(
    blue_green_engine: BlueGreenFactory, demo_repo: GitRepo
) -> None:
    engine, _, nginxes = await blue_green_engine(hosts=2, config_weight=WEIGHT, bg=WORKERS, batches=[1, "100%"])
    await first_deploy(engine)
    (nginxes[1].prefix / "conf.d" / "broken.conf").write_text("this_is_not_nginx;\n")

    async with under_load(nginxes, demo_repo) as load:
        result = await engine.deploy("staging", "v2", user="U0ALICE")

    assert Outcome.FAILED == result.outcome
    assert "nginx config test failed, traffic stays on blue" in result.message
    no_request_failed(load)
    assert ["v1", "v1"] == answering(nginxes, demo_repo)
    assert [False, False] == await running(engine, "green"), "green stopped once nginx no longer reached it"


async def test_a_cancel_during_the_switch(blue_green_engine: BlueGreenFactory, demo_repo: GitRepo) -> None:
    engine, _, nginxes = await blue_green_engine(hosts=2, config_weight=WEIGHT, bg=WORKERS)
    await first_deploy(engine)
    loop = asyncio.get_running_loop()
    cancels: list[asyncio.TimerHandle] = []

    def cancel_in_the_swap(event: Event) -> None:
        if isinstance(event, HostStepStarted) and event.step == "nginx swap" and not cancels:
            cancels.append(loop.call_later(0.4, deploy.cancel))  # during its nginx -t or reload

    async with under_load(nginxes, demo_repo) as load:
        deploy = asyncio.create_task(engine.deploy("staging", "v2", user="U0ALICE", sink=cancel_in_the_swap))
        with pytest.raises(asyncio.CancelledError):
            await deploy

    assert cancels, "the run reached the swap"
    no_request_failed(load)
    assert ["v1", "v1"] == answering(nginxes, demo_repo)
    for n in nginxes:  # else nginx's next reload would send traffic to the stopped green
        assert "blue is live" in (n.prefix / "upstream.conf").read_text()
    assert [False, False] == await running(engine, "green")


async def test_keep_old_0_and_a_rollback_without_a_pid_file(
    blue_green_engine: BlueGreenFactory, demo_repo: GitRepo
) -> None:
    """Without ``nginx.pid_file``, drained is asked through nginx: answers in a row from the colour that stays."""
    engine, _, nginxes = await blue_green_engine(hosts=2, config_weight=WEIGHT, bg={"keep_old": 0})
    await first_deploy(engine)

    async with under_load(nginxes, demo_repo) as load:
        result = await engine.deploy("staging", "v2", user="U0ALICE")

    assert Outcome.SUCCESS == result.outcome, result.message
    no_request_failed(load)
    assert [False, False] == await running(engine, "blue"), "keep_old: 0 stops the old colour after the run"

    async with under_load(nginxes, demo_repo) as load:
        back = await engine.rollback("staging", user="U0BOB")

    assert Outcome.SUCCESS == back.outcome, back.message
    no_request_failed(load)
    assert ["v1", "v1"] == answering(nginxes, demo_repo)
    assert [False, False] == await running(engine, "green"), "the colour rolled back from is stopped"
