"""Steps that share one SSH session (deploy.hosts.chain) on a real sshd host keep what separate sessions gave: each step
is reported on its own line with its own output, exit status and timeout; a step that runs out of its time is
killed on the host with everything after it; a cancel kills the step in flight; a stop keeps the next step from
running; and a run's steps are recorded one by one."""

from __future__ import annotations

import asyncio
import random
import subprocess
from collections.abc import AsyncIterator

import pytest

from deploy.config.models import parse_config
from deploy.events import Event, HostStepFinished, HostStepStarted
from deploy.hosts import chained
from deploy.hosts.chain import Link
from deploy.hosts.connector import StepResult
from deploy.hosts.ssh import SshConnector
from deploy.run.hostrun import HostRun
from deploy.run.plan import Host
from deploy.run.steps import RunSteps
from tests.support.sshd_fleet import FleetFactory

pytestmark = pytest.mark.sshd


def pgrep(pattern: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()


class OneHost:
    def __init__(self, steps: RunSteps, hr: HostRun, events: list[Event], connector: SshConnector) -> None:
        self.steps, self.hr, self.events, self.connector = steps, hr, events, connector

    def lines(self) -> list[tuple[str, str, bool | None]]:
        out: list[tuple[str, str, bool | None]] = []
        for e in self.events:
            if isinstance(e, HostStepStarted):
                out.append(("started", e.step, None))
            elif isinstance(e, HostStepFinished):
                out.append(("finished", e.step, e.ok))
        return out


@pytest.fixture
async def one_host(sshd_fleet: FleetFactory) -> AsyncIterator[OneHost]:
    fleet = await sshd_fleet(1)
    h = fleet.hosts[0]
    connector = SshConnector(parse_config(fleet.config_yaml()).ssh)
    hr = HostRun(Host(h.address, h.port, fleet.user, h.deploy_to))
    hr.conn = await connector.connect(hr.host, 10)
    events: list[Event] = []
    records: list[tuple[str, StepResult]] = []

    async def record(_host: str, name: str, result: StepResult) -> None:
        records.append((name, result))

    steps = RunSteps(connector, "run-1", events.append, record)
    yield OneHost(steps, hr, events, connector)
    await hr.conn.close()
    await connector.close()


async def test_each_step_of_a_session_is_reported_with_its_own_output(one_host: OneHost) -> None:
    links = [
        Link("upload", "cat", 10),
        Link("build", "echo building; echo warning >&2", 10),
        Link("restart", "printf restarted", 10),
    ]
    results = await chained.run(one_host.steps, one_host.hr, links, b"the archive\n")

    assert [(0, "the archive"), (0, "building\nwarning"), (0, "restarted")] == [
        (r.exit_status, r.output) for r in results
    ]
    assert [
        ("started", "upload", None), ("finished", "upload", True),
        ("started", "build", None), ("finished", "build", True),
        ("started", "restart", None), ("finished", "restart", True),
    ] == one_host.lines()  # fmt: skip


async def test_a_failing_step_ends_the_session_and_names_itself(one_host: OneHost) -> None:
    links = [Link("setup", "true", 10), Link("build", "echo 'npm ERR!'; exit 3", 10), Link("restart", "echo no", 10)]
    results = await chained.run(one_host.steps, one_host.hr, links)

    assert [0, 3] == [r.exit_status for r in results]
    assert ("build", "exit status 3: npm ERR!") == (one_host.hr.failed_step, one_host.hr.error)
    assert ("started", "restart", None) not in one_host.lines()


async def test_a_step_past_its_own_timeout_is_killed_on_the_host_with_the_steps_after_it(one_host: OneHost) -> None:
    sleeper = f"sleep {random.randint(100_000, 999_999)}"
    marker = f"never-{random.randint(100_000, 999_999)}"
    links = [
        Link("upload", "echo fast", 30),
        Link("build", f"echo slow; {sleeper}", 1.5),
        Link("after", f"echo {marker}", 30),
    ]
    started = asyncio.get_running_loop().time()
    results = await chained.run(one_host.steps, one_host.hr, links)
    took = asyncio.get_running_loop().time() - started
    await asyncio.sleep(0.5)

    assert took < 10, "the build's own timeout (1.5 s) counts, not the session's"
    assert [True, False] == [r.ok for r in results]
    assert results[1].timed_out and "timed out after 1.5s" == results[1].error
    assert "slow" in results[1].output
    assert [] == pgrep(sleeper), "the timed-out step still runs on the host"
    assert ("build", "timed out after 1.5s") == (one_host.hr.failed_step, one_host.hr.error)
    assert ("started", "after", None) not in one_host.lines()


async def test_a_cancel_kills_the_step_in_flight(one_host: OneHost) -> None:
    sleeper = f"sleep {random.randint(100_000, 999_999)}"
    links = [Link("upload", "true", 30), Link("build", sleeper, 60)]
    task = asyncio.ensure_future(chained.run(one_host.steps, one_host.hr, links))
    for _ in range(100):
        await asyncio.sleep(0.1)
        if pgrep(sleeper):
            break
    assert pgrep(sleeper), "the build started on the host"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)
    assert [] == pgrep(sleeper), "the cancelled step still runs on the host"


async def test_a_stop_keeps_the_next_step_from_running(one_host: OneHost) -> None:
    marker = f"never-{random.randint(100_000, 999_999)}"
    links = [Link("upload", "true", 30), Link("build", f"sleep 4; touch /tmp/{marker}", 30)]
    results = await chained.run(one_host.steps, one_host.hr, links, stop=lambda: True)
    await asyncio.sleep(5)  # the build would have touched its file by now, had it not been killed

    assert [True] == [r.ok for r in results]
    assert [("started", "upload", None), ("finished", "upload", True)] == one_host.lines()
    assert subprocess.run(["test", "-e", f"/tmp/{marker}"]).returncode != 0, "the stopped step ran on"
