"""What an environment runs, read from its hosts: where ``current`` points and its REVISION (the same probe the
runner reads, :mod:`deploy.probe`), the live colour and each colour's state on blue/green hosts, the run holding the
environment and its lock. One connection per host, closed before returning, whatever the hosts answer."""

from __future__ import annotations

from dataclasses import replace

from deploy import convergence, probe
from deploy.config import Config
from deploy.errors import ShipbotError
from deploy.fanout import every
from deploy.plan import host_colours, select_hosts
from deploy.ports import Connector
from deploy.records import ColourStatus, EnvironmentStatus, HostStatus
from deploy.store import Store


async def read_status(config: Config, store: Store, connector: Connector, environment: str) -> EnvironmentStatus:
    """Reads from each host which release ``current`` points to and its REVISION; on a blue/green host also
    the live colour, and each colour's release, SHA and whether its app answers."""
    hosts = select_hosts(config, environment, None)
    live = convergence.live_release(store.last_success(config.app, environment))
    blue_green = config.environments[environment].strategy == "blue_green"

    async def one(host_index: int) -> HostStatus:
        host = hosts[host_index]
        try:
            conn = await connector.connect(host, config.timeouts.connect)
        except ShipbotError as exc:
            return HostStatus(host.name, False, error=str(exc))
        colours = host_colours(config, environment, host) if blue_green else None
        try:
            result = await conn.read(probe.command(host.deploy_to, colours), config.timeouts.command)
        finally:
            await conn.close()
        found = probe.parse(result.output, colours is not None)
        if not result.ok or found.current is None:
            return HostStatus(host.name, True, error=result.describe())
        release, sha = found.current.release, found.current.sha
        if colours is None or found.colours is None:
            return HostStatus(host.name, True, release, sha)
        return HostStatus(
            host.name, True, release, sha, colour=found.colours.live,
            colours={
                c: ColourStatus(s.release, s.sha, colours.ports[c], s.running)
                for c, s in found.colours.colours.items()
            },
        )  # fmt: skip

    try:
        results = await every(one(i) for i in range(len(hosts)))
    finally:
        await connector.close()
    results = [
        replace(
            r, source=h.source, behind=convergence.is_behind(convergence.HostView(r.address, r.reachable, r.sha), live)
        )
        for r, h in zip(results, hosts, strict=True)
    ]
    return EnvironmentStatus(
        app=config.app,
        environment=environment,
        live=live,
        hosts=tuple(results),
        active_run=store.active_run(config.app, environment),
        lock=store.get_lock(config.app, environment),
    )
