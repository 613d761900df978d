"""The durable bookkeeping costs no round trip, and neither do the steps: a deploy with one build command, a restart
and a healthcheck that passes at once runs 3 commands per host, retention included (it was 12, then 6): the first
exec with the build, the switch with the restart and the healthcheck, the journal with retention."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from deploy.config.models import Ssh, parse_config
from deploy.events import Outcome
from deploy.hosts.connector import HostConnection, StepResult
from deploy.hosts.ssh import SshConnector
from deploy.redact import Redactor
from deploy.run.engine import Engine
from deploy.run.plan import Host
from deploy.store.tables import Store
from tests.durable.conftest import PIPELINE, World

pytestmark = pytest.mark.sshd


class Counted:
    """A real host connection that counts the commands run on it."""

    def __init__(self, inner: HostConnection, counts: Counter[str]) -> None:
        self.host = inner.host
        self._inner = inner
        self._counts = counts

    async def run(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> StepResult:
        self._counts[self.host.name] += 1
        return await self._inner.run(command, timeout, stdin, on_pgid, on_line)

    async def read(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
    ) -> StepResult:
        self._counts[self.host.name] += 1
        return await self._inner.read(command, timeout, stdin, on_pgid)

    async def close(self) -> None:
        await self._inner.close()


async def test_a_deploy_costs_three_commands_per_host_retention_included(world: World, tmp_path: Path) -> None:
    counts: Counter[str] = Counter()

    class Counting(SshConnector):
        def __init__(self, ssh: Ssh, redactor: Redactor | None = None) -> None:
            super().__init__(ssh, redactor)

        async def connect(self, host: Host, timeout: float) -> HostConnection:
            return Counted(await super().connect(host, timeout), counts)

    data = world.fleet.config_yaml(repo=world.repo.path, pipeline=PIPELINE, keep_releases=1)
    for entry in data["environments"]["staging"]["hosts"]:
        entry["deploy_to"] = str(tmp_path / "hosts" / str(entry["port"]))
    config = parse_config(data, "test.yml")
    store = Store.in_data_dir(tmp_path / "data")
    engine = Engine(config, store, tmp_path / "data", Counting)
    try:
        for ref in ("main", "feature/new-login"):
            assert Outcome.SUCCESS == (await engine.deploy("staging", ref, user="U0ALICE")).outcome
        counts.clear()
        third = await engine.deploy("staging", "main", user="U0ALICE")
    finally:
        store.close()

    assert Outcome.SUCCESS == third.outcome
    assert {h.host: 3 for h in third.hosts} == dict(counts)
    kept = [sorted(p.name for p in (tmp_path / "hosts" / str(e["port"]) / "releases").iterdir()) for e in
            data["environments"]["staging"]["hosts"]]  # fmt: skip
    assert [2] * 3 == [len(k) for k in kept], "retention removed the oldest release in the same exec as the journal"
