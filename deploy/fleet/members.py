"""The hosts of each environment as the engine's runs see them: the config's static hosts, plus what ``discover:``
finds once at the start of each run (:func:`deploy.fleet.discovery.discover`), recorded with the run
(:mod:`deploy.fleet.fleet_log`). Between runs (a repair after a restart, a plan for a dead run) an environment with
sources uses the hosts its newest run recorded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deploy.config.models import Config, HostConfig
from deploy.fleet.discovery import discover
from deploy.fleet.fleet_log import FleetHost
from deploy.fleet.inventory import Found, merge, resolved, static_hosts
from deploy.run.plan import environment_hosts
from deploy.store.tables import Store


class Fleets:
    def __init__(self, config: Config, store: Store, folder: Path | None = None) -> None:
        self._config = config
        self._folder = folder  # the config file's: inventory commands run there
        self._store = store
        self._resolved: dict[str, Config] = {}

    async def resolve(self, environment: str) -> Config:
        """Discover the environment's hosts now (unknown environment: the usual :class:`UsageError`)."""
        environment_hosts(self._config, environment)
        config = await discover(self._config, environment, self._folder)
        self._resolved[environment] = config
        return config

    def config_for(self, environment: str, run_id: str | None = None) -> Config:
        """The config with the hosts the run ``run_id`` recorded (a repair, a resumed run), else those the
        environment's last resolution in this process had, else those its newest recorded run had."""
        env = self._config.environments.get(environment)
        recorded = self._store.fleets.of(run_id) if run_id and env is not None and env.discover else []
        if not recorded and environment in self._resolved:
            return self._resolved[environment]
        if env is None or not env.discover:
            return self._config
        recorded = recorded or self._store.fleets.latest(self._config.app, environment)
        if not recorded:
            return self._config
        found = [
            Found(HostConfig(address=h.address, port=h.port, roles=list(h.roles)), tuple(h.source.split(", ")), h.alias)
            for h in recorded
        ]
        return resolved(
            self._config, environment, merge([static_hosts(self._config, environment), found], self._config.ssh.port)
        )

    def record(self, run_id: str, environment: str, names: Sequence[str]) -> None:
        """The hosts ``names`` of the run, as its environment resolved them."""
        chosen = set(names)
        hosts = [h for h in environment_hosts(self.config_for(environment), environment) if h.name in chosen]
        self._store.fleets.record(
            run_id, [FleetHost(h.name, h.address, h.port, h.roles, h.source, h.alias) for h in hosts]
        )
