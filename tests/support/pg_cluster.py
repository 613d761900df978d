"""A PostgreSQL cluster of a test's own, for tests that stop, restart or cut off the database: ``initdb`` into a
fresh folder, ``pg_ctl`` on a free loopback port with its socket in that folder. The machine's shared server on
5432 is never touched. Run as root, the server runs as the ``postgres`` user (``runuser``), as it refuses root.

::

    with own_cluster() as cluster:
        url = cluster.create("shipbot")      # a database on it, migrated by the caller if it wants
        cluster.restart()                    # pg_ctl restart -m fast: every connection is cut
        cluster.terminate("shipbot")         # pg_terminate_backend on every session of that database
        cluster.stop(); cluster.start()      # down for as long as the test wants

    with cluster.database("shipbot", migrated=True) as (name, url):   # a database of one test's own
        ...

The ``pg_cluster`` fixture (tests/conftest.py) is one such cluster per test module.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy.store.database import Database
from tests.support.ports import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    return found[-1] or None


def unavailable_reason() -> str | None:
    if _bin("initdb") is None or _bin("pg_ctl") is None:
        return "initdb/pg_ctl are not installed"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or _uid("postgres") is None):
        return "running as root without a postgres user to run the server as"
    return None


def _uid(user: str) -> int | None:
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()

    def _run(self, *argv: str, timeout: float = 60) -> None:
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr or done.stdout}")

    def init(self) -> Cluster:
        initdb = _bin("initdb")
        assert initdb is not None
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        return self.start()

    def start(self) -> Cluster:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        pg_ctl = _bin("pg_ctl")
        assert pg_ctl is not None
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        return self

    def stop(self) -> None:
        pg_ctl = _bin("pg_ctl")
        assert pg_ctl is not None
        self._run(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is cut, the server is back when this returns."""
        self.stop()
        self.start()

    def admin(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                result = conn.exec_driver_sql(sql)
                return [tuple(r) for r in result.fetchall()] if result.returns_rows else []
        finally:
            engine.dispose()

    def create(self, name: str) -> str:
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name).replace("postgresql+psycopg://", "postgresql://")

    def terminate(self, database: str) -> int:
        """``pg_terminate_backend`` on every other session of ``database``; how many were cut."""
        rows = self.admin(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )
        return int(str(rows[0][0]))

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def answers(self) -> bool:
        try:
            self.admin("SELECT 1")
        except Exception:
            return False
        return True

    def up(self) -> None:
        """Started again if a test left it stopped."""
        if not self.answers():
            self.start()

    @contextlib.contextmanager
    def database(self, prefix: str = "shipbot", *, migrated: bool = False) -> Iterator[tuple[str, str]]:
        """A new database on the cluster (migrated to head first with ``migrated``): its name and URL. Dropped
        afterwards, the cluster started again first if the test left it stopped."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        url = self.create(name)
        if migrated:
            Database(url).close()
        try:
            yield name, url
        finally:
            self.up()
            self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def own_cluster() -> Iterator[Cluster]:
    """A started cluster of the test's own; stopped and removed afterwards."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="shipbot-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        uid = _uid("postgres")
        assert uid is not None
        os.chown(root, uid, -1)
    cluster = Cluster(root)
    try:
        yield cluster.init()
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
