"""docker-compose.yml: two shipbot replicas built from the Dockerfile on one PostgreSQL store, each with its own
data volume, started only once the database is healthy (read with PyYAML: no Docker engine here)."""

from __future__ import annotations

from typing import Any

import yaml

from cli.settings import OperatorSettings
from tests.packaging.dockerfile import ROOT


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def replicas() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items() if name.startswith("shipbot")}


def test_two_replicas_and_a_postgres_service() -> None:
    assert (["shipbot-1", "shipbot-2"], "postgres:15") == (
        sorted(replicas()),
        compose()["services"]["postgres"]["image"],
    )


def test_every_replica_runs_the_bot_from_the_dockerfile_on_the_postgres_service() -> None:
    for name, service in replicas().items():
        url = service["environment"]["SHIPBOT_DATABASE_URL"]
        settings = OperatorSettings(SHIPBOT_DATABASE_URL=url)
        assert (".", ["shipbot", "run"], ".env") == (service["build"], service["command"], service["env_file"]), name
        assert settings.database is not None and "@postgres:5432/" in settings.database, name
        assert {"postgres": {"condition": "service_healthy"}} == service["depends_on"], name


def test_the_database_credentials_agree_between_the_replicas_and_postgres() -> None:
    pg = compose()["services"]["postgres"]["environment"]
    expected = f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    assert {expected} == {s["environment"]["SHIPBOT_DATABASE_URL"] for s in replicas().values()}


def test_each_replica_has_its_own_data_volume_and_postgres_a_named_one_with_a_healthcheck() -> None:
    data = [next(v for v in s["volumes"] if v.endswith(":/home/shipbot/data")) for s in replicas().values()]
    named = set(compose()["volumes"])
    postgres = compose()["services"]["postgres"]
    assert 2 == len(set(data)) and {v.split(":")[0] for v in data} <= named
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"] and "postgres-data" in named
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_each_replica_publishes_its_ops_port_on_a_different_host_port() -> None:
    published = [p for s in replicas().values() for p in s["ports"]]
    assert 2 == len({p.rsplit(":", 1)[0] for p in published}) and all(p.endswith(":9102") for p in published)
