"""Finding an environment's hosts at the start of a run: the I/O behind ``discover:`` (DNS SRV lookups with
dnspython's async resolver, inventory commands run as subprocesses without a shell); the pure rules that turn
their answers into hosts are :mod:`deploy.fleet.inventory`.

Every failure is one :class:`~deploy.errors.DiscoveryError` naming the source (a name that does not resolve, a
resolver that does not answer in time, an SRV target without an address, an inventory command that fails, times
out or prints something else than the JSON list), and so is a discovery that finds no host at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from deploy.config.models import CommandSource, Config, DnsSrvSource
from deploy.errors import DiscoveryError
from deploy.fleet.inventory import (
    Found,
    SrvAnswer,
    merge,
    parse_inventory,
    resolved,
    source_name,
    srv_hosts,
    static_hosts,
)

if TYPE_CHECKING:  # dnspython is loaded by the first DNS lookup: a run without dns_srv sources never pays for it
    import dns.asyncresolver

log = structlog.get_logger("shipbot.discovery")
_SHOWN_STDERR = 300  # characters of a failing inventory command's stderr quoted in its error
_PARALLEL_LOOKUPS = 20  # address lookups of SRV targets in flight at once


async def discover(config: Config, environment: str, folder: Path | None = None) -> Config:
    """``config`` with the environment's hosts: its static ones and every source's, merged (roles united). An
    environment without ``discover:`` is returned as it is. Inventory commands run in ``folder`` (the config
    file's; default: the working directory)."""
    env = config.environments[environment]
    if not env.discover:
        return config
    groups = [static_hosts(config, environment)]
    for source in env.discover:
        if isinstance(source, DnsSrvSource):
            groups.append(await _dns_srv(source))
        else:
            groups.append(await _command(source, folder or Path.cwd()))
    hosts = merge(groups, config.ssh.port)
    if not hosts:
        names = ", ".join(source_name(s) for s in env.discover)
        raise DiscoveryError(f"found no hosts for {config.app} {environment} (discover: {names}); nothing to run on")
    log.info("hosts_discovered", app=config.app, environment=environment, hosts=len(hosts))
    return resolved(config, environment, hosts)


def _resolver(source: DnsSrvSource) -> dns.asyncresolver.Resolver:
    import dns.asyncresolver  # noqa: PLC0415
    import dns.nameserver  # noqa: PLC0415

    resolver = dns.asyncresolver.Resolver(configure=not source.nameservers)
    if source.nameservers:
        servers: list[dns.nameserver.Nameserver | str] = []
        for spec in source.nameservers:
            host, port = spec, 53
            if spec.startswith("["):
                host, _, rest = spec[1:].partition("]")
                port = int(rest[1:]) if rest.startswith(":") else 53
            elif spec.count(":") == 1:
                host, _, p = spec.partition(":")
                port = int(p)
            servers.append(dns.nameserver.Do53Nameserver(host, port))
        resolver.nameservers = servers
    resolver.lifetime = source.timeout
    resolver.timeout = min(2.0, source.timeout)
    return resolver


async def _dns_srv(source: DnsSrvSource) -> list[Found]:
    name = source_name(source)
    import dns.exception  # noqa: PLC0415
    import dns.resolver  # noqa: PLC0415

    where = f" (nameservers {', '.join(source.nameservers)})" if source.nameservers else ""
    resolver = _resolver(source)
    try:
        answer = await resolver.resolve(source.dns_srv, "SRV", search=False)
    except dns.resolver.NXDOMAIN as exc:
        raise DiscoveryError(f"{name}: the name does not exist in DNS{where}; check discover's dns_srv") from exc
    except dns.resolver.NoAnswer as exc:
        raise DiscoveryError(f"{name}: the name has no SRV records{where}") from exc
    except dns.exception.Timeout as exc:
        raise DiscoveryError(
            f"{name}: no nameserver answered within {source.timeout:g}s{where}; check the nameservers or raise "
            "the source's timeout"
        ) from exc
    except dns.exception.DNSException as exc:
        raise DiscoveryError(f"{name}: the lookup failed{where}: {exc}") from exc
    answers = [SrvAnswer(r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True)) for r in answer]
    targets = sorted({a.target for a in answers if a.target != ""})
    lookups = asyncio.Semaphore(_PARALLEL_LOOKUPS)

    async def one(target: str) -> list[str]:
        async with lookups:
            return await _addresses(resolver, name, target, where)

    found = await asyncio.gather(*(one(t) for t in targets))
    return srv_hosts(name, source.roles, answers, dict(zip(targets, found, strict=True)))


async def _addresses(resolver: dns.asyncresolver.Resolver, name: str, target: str, where: str) -> list[str]:
    """The target's IPv4 addresses, or its IPv6 ones when it has none."""
    import dns.exception  # noqa: PLC0415
    import dns.resolver  # noqa: PLC0415

    for kind in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(target + ".", kind, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.Timeout as exc:
            raise DiscoveryError(f"{name}: looking up the address of {target} timed out{where}") from exc
        except dns.exception.DNSException as exc:
            raise DiscoveryError(f"{name}: looking up the address of {target} failed{where}: {exc}") from exc
        return [r.to_text() for r in answer]
    return []


async def _command(source: CommandSource, folder: Path) -> list[Found]:
    name = source_name(source)
    try:
        argv = shlex.split(source.command)
    except ValueError as exc:
        raise DiscoveryError(f"{name}: the command cannot be split into words: {exc}") from exc
    program = argv[0]
    if "/" in program and not os.path.isabs(program):
        program = str(folder / program)
    try:
        proc = await asyncio.create_subprocess_exec(
            program, *argv[1:], cwd=folder, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise DiscoveryError(f"{name}: cannot run it from {folder}: {exc.strerror or exc}") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(), source.timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise DiscoveryError(
            f"{name}: it did not finish within {source.timeout:g}s (timeout), so it was killed"
        ) from exc
    if proc.returncode != 0:
        said = err.decode("utf-8", "replace").strip()[-_SHOWN_STDERR:]
        raise DiscoveryError(f"{name}: it exited with status {proc.returncode}" + (f": {said}" if said else ""))
    return parse_inventory(out.decode("utf-8", "replace"), name)
