"""``shipbot db upgrade|current`` and the operator commands on SHIPBOT_DATABASE_URL: the same store the bot uses,
on PostgreSQL when the variable is set, on the data dir's SQLite file when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from deploy.records import RunRecord
from deploy.store.database import Database
from deploy.store.migrations import head
from deploy.store.tables import Store
from tests.support.databases import fresh_postgres

CONFIG = """\
app: shop
repo: /srv/git/shop.git
deploy_to: /srv/shop
environments:
  staging:
    hosts: [{address: 10.0.0.1}]
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SHIPBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("SHIPBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shipbot.yml").write_text(CONFIG)


def test_db_upgrade_migrates_a_new_postgresql_database_once_and_masks_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with fresh_postgres(migrated=False) as url:
        monkeypatch.setenv("SHIPBOT_DATABASE_URL", url.replace("postgres@", "postgres:not-needed-pw@"))
        codes = [main(["db", "current"]), main(["db", "upgrade"]), main(["db", "upgrade"]), main(["db", "current"])]
    where = url.replace("postgresql://postgres@", "postgresql+psycopg://postgres:***@")
    assert ([0, 0, 0, 0], [
        f"{where}: at revision none (never migrated)",
        f"{where}: upgraded from revision none to {head()}",
        f"{where}: already at revision {head()} (the newest)",
        f"{where}: at revision {head()}",
    ]) == (codes, capsys.readouterr().out.splitlines())  # fmt: skip


def test_db_upgrade_without_a_url_migrates_the_sqlite_file_in_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 0 == main(["db", "upgrade"])
    path = tmp_path / "data" / "shipbot.sqlite3"
    assert f"{path}: upgraded from revision none to {head()}\n" == capsys.readouterr().out
    assert head() == Database(f"sqlite:///{path}", upgrade=False).revision()


def test_history_reads_the_runs_of_the_database_the_url_names(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with fresh_postgres() as url:
        store = Store(Database(url))
        try:
            store.start_run(
                RunRecord("r9", "deploy", "shop", "staging", "U0ALICE", "main", "a" * 40, "x", "running", 1.0), "x"
            )
            store.finish_run("r9", "success", "1 host")
        finally:
            store.close()
        monkeypatch.setenv("SHIPBOT_DATABASE_URL", url)
        assert 0 == main(["history", "staging"])
    assert "r9" in capsys.readouterr().out


def test_a_database_that_does_not_answer_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", "postgresql://shipbot:hunter2-pw@127.0.0.1:1/shipbot")
    assert 1 == main(["db", "upgrade"])
    err = capsys.readouterr().err
    assert err.startswith("shipbot: the database (postgresql+psycopg://shipbot:***@127.0.0.1:1/shipbot) failed:")
    assert "hunter2" not in err and 1 == len(err.splitlines())
