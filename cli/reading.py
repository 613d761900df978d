"""The operator commands that only read: ``shipbot history`` and ``shipbot check`` (its ``--connect`` aside), and
what every operator command shares (where the config, the data dir and the store are; the exit codes).

This module imports neither the SSH library nor the Slack SDK nor the engine: a command that reads the store or
the config answers in the time it takes to load those two (``python -X importtime -m cli.main history ENV``).
What needs more imports it where it is used.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cli.settings import OperatorSettings
from deploy.ids import utc_minute
from deploy.store.statements import SQLITE_FILE
from deploy.summary import count

if TYPE_CHECKING:
    from deploy.config.models import Config
    from deploy.fleet.fleet_log import FleetLog
    from deploy.records import RunRecord
    from deploy.store.ports import Store
    from deploy.store.statements import Executor, ReadOnlySqlite

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def config_path(args: argparse.Namespace, settings: OperatorSettings) -> str:
    return str(args.config or settings.first_config)


def config_folder(args: argparse.Namespace, settings: OperatorSettings) -> Path:
    """Where inventory commands run: the config file's folder."""
    return Path(config_path(args, settings)).resolve().parent


def data_dir(args: argparse.Namespace, settings: OperatorSettings) -> Path:
    return Path(args.data_dir).expanduser() if args.data_dir else settings.data_dir


def no_store(args: argparse.Namespace, settings: OperatorSettings) -> Path | None:
    """The SQLite file a read-only command would read when it does not exist (and no SHIPBOT_DATABASE_URL is
    set): ``history`` and ``status`` never create a store, they say where they looked."""
    path = data_dir(args, settings) / SQLITE_FILE
    return None if settings.database or path.exists() else path


def nothing_recorded(environment: str | None, path: Path) -> str:
    where = f" for {environment}" if environment else ""
    return f"no runs recorded{where} (no store at {path} yet)"


opened: list[Store] = []  # the stores the running command opened, closed by close_stores when it returns
readers: list[ReadOnlySqlite] = []  # and the store files it read


def open_store(settings: OperatorSettings, where: Path) -> Store:
    """The store on SHIPBOT_DATABASE_URL, else on the SQLite file in ``where``; its schema migrated to the newest
    revision (expand-first migrations: the previous release keeps working on the upgraded database)."""
    import structlog  # noqa: PLC0415

    from deploy.store.ports import Store  # noqa: PLC0415 (SQLAlchemy: only for the commands that use the store)

    store = Store.in_data_dir(where, settings.lease_ttl, settings.database, settings.statement_timeout)
    store.db.refuse_on_loop = True  # on an event loop, every statement goes through the store's door
    structlog.get_logger("shipbot.bot").info(
        "store_opened", database=settings.database_shown if settings.database else str(store.path)
    )
    return store


def command_store(settings: OperatorSettings, where: Path) -> Store:
    """:func:`open_store` for an operator command: closed by :func:`close_stores` when the command returns."""
    store = open_store(settings, where)
    opened.append(store)
    return store


def close_stores() -> None:
    """Return the database connections the command's stores hold (PostgreSQL: its pool)."""
    while opened:
        opened.pop().close()
    while readers:
        readers.pop().close()


def history(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """The newest runs, with the Capistrano deploys and rollbacks read from the hosts' revisions.log by earlier
    runs and ``status`` (marked ``capistrano``), in time order; no host is reached, and no store is made."""
    from deploy.config.models import load_config  # noqa: PLC0415
    from deploy.run.plan import environment_hosts  # noqa: PLC0415

    missing = no_store(args, settings)
    if missing is not None:
        if args.environment:
            environment_hosts(load_config(config_path(args, settings)), args.environment)  # a known environment
        print("[]" if args.json else nothing_recorded(args.environment, missing))
        return EXIT_OK
    from deploy.capistrano.cap_entries import CapEntry, timeline  # noqa: PLC0415
    from deploy.capistrano.cap_history import CapistranoHistory  # noqa: PLC0415
    from deploy.fleet.fleet_log import FleetLog  # noqa: PLC0415
    from deploy.store.tables import list_runs  # noqa: PLC0415

    config = load_config(config_path(args, settings))
    if args.environment is not None:
        environment_hosts(config, args.environment)
    db = _reader(settings, data_dir(args, settings)) or command_store(settings, data_dir(args, settings)).db
    runs = list_runs(db, config.app, args.environment, args.limit)
    cap = CapistranoHistory(db).entries(config.app, args.environment, args.limit)
    shown = timeline(runs, cap, args.limit)
    fleets = FleetLog(db)
    if args.json:
        print(json.dumps([e.as_json() if isinstance(e, CapEntry) else _run_json(fleets, e) for e in shown]))
        return EXIT_OK
    for e in shown:
        if isinstance(e, CapEntry):
            print(f"{utc_minute(e.at)}  {'capistrano':<14} {e.action:<8} {'success':<11} {e.user:<12} {e.branch} "
                  f"{e.sha[:12]}  {e.describe()} (revisions.log)")  # fmt: skip
            continue
        when = utc_minute(e.started_at)
        print(f"{when}  {e.run_id}  {e.kind:<8} {e.state:<11} {e.user:<12} {e.ref} {e.sha[:12]}  {e.message}")
    if not shown:
        print(f"no runs recorded for {args.environment} yet")
    return EXIT_OK


def _reader(settings: OperatorSettings, where: Path) -> Executor | None:
    """The SQLite store in ``where`` read through ``sqlite3`` when its schema is the newest (a read answers without
    loading SQLAlchemy); None on PostgreSQL or when the schema must be migrated first (then the store opens)."""
    if settings.database:
        return None
    from deploy.store.migrations import head  # noqa: PLC0415
    from deploy.store.statements import read_only  # noqa: PLC0415

    reader = read_only(where / SQLITE_FILE, head(), settings.statement_timeout)
    if reader is not None:
        readers.append(reader)
    return reader


def _run_json(fleets: FleetLog, r: RunRecord) -> dict[str, object]:
    covered = [h.as_json() for h in fleets.of(r.run_id)]
    return {**r.__dict__, "duration": r.duration, "covered": covered, "source": "shipbot"}


def check(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """The config is valid, every environment can run its migration, the SSH key named exists (exit 2 naming
    each problem otherwise); with ``--connect`` every host is reached. An event loop is started only for what
    needs one (discovery, ``--connect``): a plain check answers without loading asyncio."""
    from deploy.config.models import load_config, secret_problems  # noqa: PLC0415
    from deploy.errors import ConfigError  # noqa: PLC0415
    from deploy.hosts.ssh_identity import identity_problems  # noqa: PLC0415
    from deploy.run.plan import migrate_problems  # noqa: PLC0415

    path = config_path(args, settings)
    config = load_config(path)
    problems = migrate_problems(config, [n for n, e in config.environments.items() if not e.discover])
    problems += identity_problems(config.ssh) + secret_problems(config, os.environ)
    if problems:
        raise ConfigError(path, problems)
    hosts = sum(len(e.hosts) for e in config.environments.values())
    envs = len(config.environments)
    print(f"{path}: ok ({config.app}, {count(envs, 'environment')}, {count(hosts, 'host')})")
    if not args.connect and not any(e.discover for e in config.environments.values()):
        return EXIT_OK
    import asyncio  # noqa: PLC0415

    return asyncio.run(_check_hosts(args, settings, config, path))


async def _check_hosts(args: argparse.Namespace, settings: OperatorSettings, config: Config, path: str) -> int:
    """``check``'s part on the network: the hosts discovery finds, and with ``--connect`` every host reached."""
    from deploy.run.plan import environment_hosts  # noqa: PLC0415

    for name, environment in config.environments.items():
        if environment.discover:
            from deploy.fleet.discovery import discover  # noqa: PLC0415

            found = await discover(config, name, config_folder(args, settings))
            for host in environment_hosts(found, name):
                print(f"  {name} {host.name}: {', '.join(host.roles) or 'no roles'} [{host.source}]")
    if not args.connect:
        return EXIT_OK
    from cli.engines import build_engine  # noqa: PLC0415 (the SSH connector and the engine)

    engine = build_engine(
        config, command_store(settings, data_dir(args, settings)), data_dir(args, settings), Path(path)
    )
    bad = 0
    for env in config.environments:
        status = await engine.status(env)
        for h in status.hosts:
            if h.reachable:
                print(f"  {env} {h.address}: reachable [{h.source}]")
            else:
                bad += 1
                print(f"  {env} {h.address}: UNREACHABLE - {h.error} [{h.source}]")
    return EXIT_OK if bad == 0 else EXIT_FAILED
