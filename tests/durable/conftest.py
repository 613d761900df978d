"""One real sshd fleet and one real git repo for the whole package, once per store engine (a SQLite file in the data
dir, and a PostgreSQL database every process of the test is pointed at through SHIPBOT_DATABASE_URL), a config whose
steps can be made slow on one host, and the ``shipbot`` command line run as a separate process that the tests kill.

On PostgreSQL run the files where several processes meet in the store (:data:`ON_POSTGRES`: replicas, leases, the
waiting requests); the crash points, restarts and round trips exercise the hosts and the engine, the same on either
store, and run on SQLite only; the two-replica tests run on PostgreSQL only, the store replicas share in production.
That keeps the suite's time in bounds.

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

from deploy.store import Store
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


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    with fresh_postgres() as url:
        yield url


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory, database: str | None) -> Iterator[World]:
    reason = sshd_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("durable")
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
        yield World(fleet, repo, cwd, database)
    finally:
        fleet.stop()
        for pid in leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def baseline(world: World) -> None:
    """``main`` deployed once on the shared fleet; every test leaves the fleet on one release of it."""
    done = world.shipbot("deploy", "staging", "main")
    assert 0 == done.returncode, done.stderr


ON_POSTGRES = {"test_replicas.py", "test_leases.py", "test_waiting.py"}
ONLY_POSTGRES = {"test_replicas.py"}  # several bots on one store: what PostgreSQL is for (one machine's file is not)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL runs of files outside :data:`ON_POSTGRES`, and the SQLite runs of :data:`ONLY_POSTGRES`, are
    left out (see the module's docstring)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        engine = params.params.get("database") if params is not None else None
        here = Path(str(item.fspath)).parent == Path(__file__).parent
        name = Path(str(item.fspath)).name
        left_out = (engine == "postgresql" and name not in ON_POSTGRES) or (
            engine == "sqlite" and name in ONLY_POSTGRES
        )
        (dropped if here and left_out else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
