"""What an environment runs, read from its hosts: where ``current`` points and its REVISION (the same probe the
runner reads, :mod:`deploy.hosts.probe`), whether its feature flag file is the current one (``flags behind``, read only
where the environment has flags), the live colour and each colour's state on blue/green hosts, the run holding the
environment and its lock. One connection per host, closed before returning, whatever the hosts answer."""

from __future__ import annotations

from dataclasses import replace

from deploy.capistrano import cap_history
from deploy.config.models import Config
from deploy.errors import ShipbotError
from deploy.flags import flag_defs, flag_hosts
from deploy.flags.flag_store import FlagStore
from deploy.fleet import drift as convergence
from deploy.hosts import framing, listing, probe
from deploy.hosts.connector import Connector
from deploy.records import ColourStatus, EnvironmentStatus, HostStatus, ReleaseRow
from deploy.run.fanout import every
from deploy.run.plan import host_colours, select_hosts
from deploy.store.tables import Store


async def read_status(config: Config, store: Store, connector: Connector, environment: str) -> EnvironmentStatus:
    """Reads from each host which release ``current`` points to and its REVISION; on a blue/green host also
    the live colour, and each colour's release, SHA and whether its app answers."""
    hosts = select_hosts(config, environment, None)
    door = store.door
    live = convergence.live_release(await door(store.last_success, config.app, environment))
    blue_green = config.environments[environment].strategy == "blue_green"
    seen = cap_history.recorder(store, config.app, environment)  # Capistrano's lines read are kept for history
    flags = await store.door(FlagStore(store.db).flag_set, config.app, environment)
    expected = flag_defs.digest(flag_defs.render(config.app, environment, flags.version, flags.flags))
    flag_shas: dict[int, str | None] = {}  # host index -> its flag file's sha256, read when the environment has flags

    async def one(host_index: int) -> HostStatus:
        host = hosts[host_index]
        try:
            conn = await connector.connect(host, config.timeouts.connect)
        except ShipbotError as exc:
            return HostStatus(host.name, False, error=str(exc))
        colours = host_colours(config, environment, host) if blue_green else None
        try:
            frame = framing.new()
            result = await conn.read(probe.command(host.deploy_to, frame, colours), config.timeouts.command)
            listed = await conn.read(listing.command(host.deploy_to, frame), config.timeouts.command)
            if flags.flags:
                file = await conn.read(
                    flag_hosts.read_command(flag_hosts.flag_path(config, host)), config.timeouts.command
                )
                flag_shas[host_index] = flag_hosts.parse_sha(file.output) if file.ok else None
        finally:
            await conn.close()
        found = probe.parse(result.output, frame, colours is not None)
        if not result.ok or found.current is None:
            return HostStatus(host.name, True, error=result.describe())
        release, sha = found.current.release, found.current.sha
        read = listing.parse(listed.output, frame) if listed.ok else None
        if read is not None:
            await seen(host.name, read)
        rows = release_rows(read)
        if colours is None or found.colours is None:
            return HostStatus(host.name, True, release, sha, releases=rows)
        return HostStatus(
            host.name, True, release, sha, colour=found.colours.live, releases=rows,
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
            r,
            source=h.source,
            name=h.label,
            behind=convergence.is_behind(convergence.HostView(r.address, r.reachable, r.sha), live),
            flags_behind=i in flag_shas and flag_shas[i] != expected,
        )
        for i, (r, h) in enumerate(zip(results, hosts, strict=True))
    ]
    return EnvironmentStatus(
        app=config.app,
        environment=environment,
        live=live,
        hosts=tuple(results),
        active_run=await door(store.active_run, config.app, environment),
        lock=await door(store.get_lock, config.app, environment),
    )


def release_rows(found: listing.ReleaseListing | None) -> tuple[ReleaseRow, ...]:
    """Every release folder of a host, newest first, with whose history records it and where a rollback goes."""
    if found is None:
        return ()
    history = found.history()
    target = found.rollback_target(found.current)
    return tuple(
        ReleaseRow(
            name,
            found.revisions.get(name),
            *history.get(name, ("", "")),
            rollback_target=target is not None and target.release == name,
        )
        for name in sorted(found.releases, reverse=True)
    )
