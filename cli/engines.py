"""Where the operator commands and the bot get their engines: the real SSH connector, the shared store (part of the
composition root, :mod:`cli.root`, kept apart from the Slack side so that ``shipbot deploy`` and the other operator
commands never load the Slack SDK or the web server); where the store's outbox learns each app's sinks."""

from __future__ import annotations

from pathlib import Path

from deploy.config.models import Config
from deploy.flags.app_flags import AppFlags, FlagWritingEngine
from deploy.hosts.ssh import SshConnector
from deploy.previews.preview_lease import PreviewLeases
from deploy.previews.preview_runner import PreviewRunner
from deploy.run.engine import Engine
from deploy.store.ports import Store


def build_engine(config: Config, store: Store, data_dir: Path, config_file: Path | None = None) -> Engine:
    """The engine for one app: the real SSH connector, the shared store, state under ``data_dir``; inventory
    commands run in the folder of ``config_file``."""
    folder = config_file.resolve().parent if config_file is not None else None
    store.outbox.route_config(config)  # its runs, recorded in the store, are told to its sinks (deploy.notify.outbox)
    return FlagWritingEngine(config, store, data_dir, SshConnector, folder=folder)  # runs end writing the flag file


def app_flags(engine: Engine) -> AppFlags:
    """The feature flags of one app: its config, hosts and connector, the shared store."""
    if isinstance(engine, FlagWritingEngine):
        return engine.flags
    return AppFlags(engine.config, engine.store, engine.fleets, engine.connector_for_run)


def build_previews(engine: Engine, store: Store) -> PreviewRunner:
    """The previews of one app (its ``previews`` section; idle without one): the engine's mirror, the real SSH
    connector, the shared store (and its lease owner: replicas take turns on a preview)."""
    leases = PreviewLeases(store.db, store.owner, store.lease_ttl)
    return PreviewRunner(engine.config, store.previews, engine.mirror, SshConnector, leases=leases)
