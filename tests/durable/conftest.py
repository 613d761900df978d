"""One real sshd fleet and one real git repo for the whole session, once per store engine (a SQLite file in the data
dir, and a PostgreSQL database every process of the test is pointed at through SHIPBOT_DATABASE_URL), a config whose
steps can be made slow on one host, and the ``shipbot`` command line run as a separate process that the tests kill.

Every test runs on both engines: crash points, takeovers, restarts, round trips and replicas alike (replicas on
SQLite share the one file in the data dir, as bots on one machine can). A module whose subject is one engine says
so in ``ENGINES`` (``test_store_outage.py`` stops and restarts PostgreSQL itself, on a cluster of its own).

Every host's PATH starts with a folder holding an ``mv`` that runs the real ``mv`` and then, when the folder it
moved into holds ``SLOW_MV``, marks ``MV_DONE`` and sleeps: the switch step's rename has happened on the host but
the step has not answered. The build, the restart and the healthcheck sleep the same way on a host whose
``deploy_to`` holds ``SLOW_BUILD``, ``SLOW_RESTART`` or ``SLOW_HEALTH`` (marking ``IN_BUILD`` and so on). Every
such sleep is ``sleep <SLEEP>``, so ``pgrep`` finds what a run left behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.store.tables import Store
from tests.support.databases import fresh_postgres
from tests.support.gitrepo import GitRepo, make_app_repo
from tests.support.sshd_fleet import SshdFleet, sshd_unavailable_reason

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
SLEEP = f"sleep {random.randint(100_000, 999_999)}"
TTL = 2.0  # seconds: a short lease, so a dead run is dead quickly

_SLOW = "if [ -e ../../SLOW_{0} ]; then touch ../../IN_{0}; {1}; fi"
PIPELINE: dict[str, Any] = {
    "build": [f"./build.sh && {_SLOW.format('BUILD', SLEEP)}"],
    "restart": f'echo "$SHIPBOT_RELEASE $SHIPBOT_SHA" >> ../../restarts.log; {_SLOW.format("RESTART", SLEEP)}',
    "healthcheck": {
        "run": f"./health.sh && {_SLOW.format('HEALTH', SLEEP)}",
        "retries": 1,
        "interval": "0.1s",
        "timeout": "60s",
    },
}

_MV = f"""#!/bin/sh
/bin/mv "$@"; rc=$?
for a in "$@"; do
  d=$(dirname "$a")
  if [ -e "$d/SLOW_MV" ]; then touch "$d/MV_DONE"; {SLEEP}; fi
done
exit $rc
"""


@dataclass
class World:
    fleet: SshdFleet
    repo: GitRepo
    cwd: Path  # holds shipbot.yml and the data dir
    database_url: str | None = None  # None: the SQLite file in the data dir
    deployed: bool = False  # the baseline is live

    def disk(self, i: int) -> Path:
        return self.fleet.hosts[i].local_deploy_to

    def current(self, i: int) -> str | None:
        link = self.disk(i) / "current"
        return os.readlink(link) if link.is_symlink() else None

    def releases(self, i: int) -> list[str]:
        folder = self.disk(i) / "releases"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def shipbot(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SHIPBOT, *args], cwd=self.cwd, env=self.env(), capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [SHIPBOT, *args], cwd=self.cwd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def env(self) -> dict[str, str]:
        env = {**os.environ, "SHIPBOT_DATA_DIR": str(self.cwd / "data"), "SHIPBOT_LEASE_TTL": str(TTL)}
        env.pop("SHIPBOT_DATABASE_URL", None)
        return {**env, "SHIPBOT_DATABASE_URL": self.database_url} if self.database_url else env

    def store(self, lease_ttl: float = 30.0) -> Store:
        """The store the ``shipbot`` processes of this world use, opened here as one more process would."""
        return Store.in_data_dir(self.cwd / "data", lease_ttl, self.database_url)

    def slow(self, i: int, what: str) -> Path:
        """Make ``what`` (MV, BUILD, RESTART, HEALTH) slow on host ``i``; the file that says it started."""
        (self.disk(i) / f"SLOW_{what}").touch()
        return self.disk(i) / ("MV_DONE" if what == "MV" else f"IN_{what}")

    def calm(self) -> None:
        for i in range(self.fleet.count):
            for p in self.disk(i).glob("SLOW_*"):
                p.unlink()
            for p in [*self.disk(i).glob("IN_*"), *self.disk(i).glob("MV_DONE")]:
                p.unlink()

    def one_release_everywhere(self) -> str:
        """Every host's ``current`` resolves to the same release folder holding its REVISION; that release."""
        found = set()
        for i in range(self.fleet.count):
            target = self.current(i)
            assert target is not None, f"host {i} has no current"
            folder = self.disk(i) / target
            assert (folder / "REVISION").is_file(), f"host {i}: current -> {target}, which has no REVISION"
            found.add(target)
        assert len(found) == 1, f"hosts disagree: {found}"
        return found.pop()


def leftovers() -> list[str]:
    out = subprocess.run(["pgrep", "-f", SLEEP], capture_output=True, text=True)
    return out.stdout.split()


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str]:
    """Signal the process (again: a second SIGKILL or SIGINT changes nothing) and wait for it to end."""
    if sig is signal.SIGKILL:
        proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    return proc.returncode, err


ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``database`` is parametrized over the module's ``ENGINES`` (both unless the module names one)."""
    if "database" in metafunc.fixturenames:
        engines = getattr(metafunc.module, "ENGINES", ENGINES)
        metafunc.parametrize("database", engines, indirect=True, scope="package")


class Worlds:
    """The session's worlds, one per engine, each made when first asked for and kept to the session's end: a test
    file's tests run on one engine then on the other, and pytest-xdist hands a worker test files of this package
    between others, so a world made again at every switch would cost a fleet and a deploy each time."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._made: dict[str, World] = {}
        self.closing = contextlib.ExitStack()

    def get(self, engine: str) -> World:
        if engine not in self._made:
            url = None if engine == "sqlite" else self.closing.enter_context(fresh_postgres())
            self._made[engine] = self.closing.enter_context(_world(self._factory, url))
        return self._made[engine]


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    made = Worlds(tmp_path_factory)
    with made.closing:
        yield made


@pytest.fixture(scope="package")
def database(request: pytest.FixtureRequest) -> str:
    """The engine of the tests' store: ``sqlite`` or ``postgresql``."""
    return str(request.param)


@pytest.fixture(scope="package")
def world(worlds: Worlds, database: str) -> World:
    reason = sshd_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    return worlds.get(database)


@contextlib.contextmanager
def _world(factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[World]:
    root = factory.mktemp("durable")
    wrappers = root / "bin"
    wrappers.mkdir()
    (wrappers / "mv").write_text(_MV)
    (wrappers / "mv").chmod(0o755)
    path = f"{wrappers}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    fleet = SshdFleet(root / "fleet", 3, extra_config=[f"SetEnv PATH={path}"]).start()
    try:
        repo = make_app_repo(root / "repo")
        cwd = root / "work"
        cwd.mkdir()
        config = fleet.config_yaml(repo=repo.path, pipeline=PIPELINE, shared={"dirs": ["log"]})
        config["timeouts"] = {"switch": "60s"}
        (cwd / "shipbot.yml").write_text(yaml.safe_dump(config))
        yield World(fleet, repo, cwd, database_url)
    finally:
        fleet.stop()
        for pid in leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def baseline(world: World) -> None:
    """``main`` deployed once on the world's fleet; every test leaves the fleet on one release of it."""
    if world.deployed:
        return
    done = world.shipbot("deploy", "staging", "main")
    assert 0 == done.returncode, done.stderr
    world.deployed = True
