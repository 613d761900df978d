""".ci/postgres.sh: CI's PostgreSQL for the store's tests. It leaves a server that answers alone, and on a port where
none answers it creates, configures (trust for local TCP) and starts a cluster that the tests can then reach."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.packaging.dockerfile import ROOT
from tests.support.ports import free_port

SCRIPT = ROOT / ".ci" / "postgres.sh"


def script(*, port: int, cluster: str = "shipbot", dry: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PG_PORT": str(port), "PG_CLUSTER": cluster, "PG_DRY_RUN": "1" if dry else "0"}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)


def test_the_ci_scripts_parse() -> None:
    for path in (ROOT / ".ci" / "run", SCRIPT):
        checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert 0 == checked.returncode, checked.stderr
    assert "bash .ci/postgres.sh" in (ROOT / ".ci" / "run").read_text()


def test_a_server_that_answers_is_left_alone() -> None:
    from tests.support.databases import skip_without_postgres

    skip_without_postgres()
    done = script(port=5432, dry=True)
    assert (0, "postgres: 127.0.0.1:5432 answers\n") == (done.returncode, done.stdout), done.stderr


def test_where_nothing_answers_it_plans_a_cluster_with_trust_for_local_tcp() -> None:
    if shutil.which("pg_lsclusters") is None:
        pytest.skip("Debian's postgresql-common is not installed")
    done = script(port=free_port(), cluster="planned", dry=True)
    assert 0 == done.returncode, done.stderr
    assert "pg_createcluster --port" in done.stdout
    assert "host all all 127.0.0.1/32 trust" in done.stdout
    assert "pg_ctlcluster" in done.stdout and "planned start" in done.stdout


def test_where_nothing_answers_it_starts_a_cluster_the_tests_reach_without_a_password() -> None:
    if os.geteuid() != 0 or shutil.which("pg_createcluster") is None:
        pytest.skip("needs root and Debian's postgresql")
    port, cluster = free_port(), f"t{uuid.uuid4().hex[:8]}"
    version = sorted(p.name for p in Path("/usr/lib/postgresql").iterdir())[-1]
    try:
        done = script(port=port, cluster=cluster)
        assert 0 == done.returncode, done.stdout + done.stderr
        engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
        try:
            with engine.connect() as conn:
                assert 1 == conn.execute(sa.text("SELECT 1")).scalar()
        finally:
            engine.dispose()
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, cluster], capture_output=True)
