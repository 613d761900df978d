"""``shipbot history`` on the default SQLite store reads the file through ``sqlite3`` (:func:`deploy.store.statements.
read_only`), without loading SQLAlchemy, and says exactly what the store itself says: finished, running, dead
(interrupted) and stalled runs, the hosts each covered, Capistrano's entries. A store whose schema is not the
newest is opened (and migrated) as before; the reader never writes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.capistrano.cap_entries import CapEntry
from deploy.capistrano.cap_history import CapistranoHistory
from deploy.errors import StoreError
from deploy.fleet.fleet_log import FleetHost
from deploy.records import RunRecord
from deploy.store.migrations import head
from deploy.store.statements import read_only
from deploy.store.tables import Store

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
CONFIG = """app: shop
repo: /nonexistent/shop.git
deploy_to: /srv/shop
environments:
  staging:
    hosts: [{address: 127.0.0.1, port: 2222}, {address: 127.0.0.2, port: 2222}]
"""


def _run(run_id: str, state: str, at: float) -> RunRecord:
    return RunRecord(run_id, "deploy", "shop", "staging", "U0ALICE", "main", "a" * 40, f"2026120700{at % 10000:04.0f}",
                     state, at, hosts=2)  # fmt: skip


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """A store holding two finished deploys (one with its hosts), one running under a live lease, one whose
    controller died (its lease ran out), and a Capistrano deploy read from a host."""
    (tmp_path / "shipbot.yml").write_text(CONFIG)
    store = Store.in_data_dir(tmp_path / "data")
    now = time.time()
    try:
        for i, run_id in enumerate(("rdone01", "rdone02")):
            lease = store.start_run(_run(run_id, "running", now - 100 + i), "deploy main")
            store.finish_run(run_id, "success", "shop is live", lease)
        store.fleets.record("rdone02", [FleetHost("127.0.0.1:2222", "127.0.0.1", 2222, ("web",), "config")])
        dead = Store(store.db, lease_ttl=0.2)
        dead.start_run(_run("rdead03", "running", now - 50), "deploy main")
        time.sleep(0.4)
        store.db.execute("DELETE FROM active_runs")  # its slot freed (as a repair would), its row still running
        store.start_run(_run("rlive04", "running", now - 10), "deploy main")
        cap = CapEntry("shop", "staging", "20261201120000", "deploy", "deployer", "b" * 40, "main", now - 200,
                       "127.0.0.1:2222", 1)  # fmt: skip
        CapistranoHistory(store.db).record([cap])
    finally:
        store.close()
    return tmp_path


def _history(where: Path, **env: str) -> tuple[list[dict[str, object]], str]:
    done = subprocess.run(
        [SHIPBOT, "history", "staging", "--json"],
        cwd=where,
        env={**os.environ, "SHIPBOT_DATA_DIR": str(where / "data"), "PYTHONPROFILEIMPORTTIME": "1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout), done.stderr


def test_history_reads_the_sqlite_store_without_sqlalchemy_and_says_what_the_store_says(seeded: Path) -> None:
    read, imports = _history(seeded)
    opened, opened_imports = _history(seeded, SHIPBOT_DATABASE_URL=f"sqlite:///{seeded / 'data' / 'shipbot.sqlite3'}")

    assert (False, True) == (" sqlalchemy\n" in imports, " sqlalchemy\n" in opened_imports)
    assert opened == read
    states = {e["run_id"]: e["state"] for e in read}
    assert {
        "rlive04": "running",
        "rdead03": "interrupted",
        "rdone02": "success",
        "rdone01": "success",
        None: "success",
    } == states
    covered = {e["run_id"]: e["covered"] for e in read if e["source"] == "shipbot"}
    assert [[], [{"host": "127.0.0.1:2222", "address": "127.0.0.1", "port": 2222, "roles": ["web"],
                  "source": "config"}]] == [covered["rdone01"], covered["rdone02"]]  # fmt: skip


def test_a_store_behind_the_newest_schema_is_opened_and_migrated_not_read_around(seeded: Path) -> None:
    path = seeded / "data" / "shipbot.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0010'")
        conn.execute("DROP TABLE freeze_marks")  # what revision 0011 adds

    read, imports = _history(seeded)

    assert (True, 5) == (" sqlalchemy\n" in imports, len(read))
    with sqlite3.connect(path) as conn:
        assert (head(),) == conn.execute("SELECT version_num FROM alembic_version").fetchone()


def _empty(path: Path) -> None:
    sqlite3.connect(path).close()


def _store(path: Path) -> None:
    Store(path).close()


@pytest.mark.parametrize(
    ("make", "opened"),
    [
        pytest.param(None, False, id="no file"),
        pytest.param(_empty, False, id="an empty file: not a store"),
        pytest.param(_store, True, id="a store at the newest schema"),
    ],
)
def test_read_only_opens_only_a_store_at_the_newest_schema(
    tmp_path: Path, make: Callable[[Path], None] | None, opened: bool
) -> None:
    path = tmp_path / "shipbot.sqlite3"
    if make is not None:
        make(path)
    reader = read_only(path, head())
    if reader is not None:
        reader.close()
    assert (opened, make is not None) == (reader is not None, path.exists()), "no store is ever made"


def test_the_reader_refuses_to_write(tmp_path: Path) -> None:
    path = tmp_path / "shipbot.sqlite3"
    Store(path).close()
    reader = read_only(path, head())
    assert reader is not None
    try:
        with pytest.raises(StoreError, match="readonly|read only|reading only"):
            reader.execute("DELETE FROM runs")
    finally:
        reader.close()
