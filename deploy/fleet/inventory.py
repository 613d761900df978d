"""Hosts found by ``discover:`` sources, turned into the environment's host list (pure).

- :func:`srv_hosts`: SRV answers plus the addresses of their targets -> one host per answer (the target's address,
  the SRV port as the SSH port, the source's roles, the target name kept for host key lookups);
- :func:`parse_inventory`: what an inventory command printed (``[{"address": ..., "roles": [...], "port": 22}]``,
  entries shaped like ``hosts:`` entries) -> hosts, or one :class:`~deploy.errors.DiscoveryError` naming the source
  and the entry;
- :func:`merge`: the static hosts and every source's hosts -> one host per (address, port), roles united, sources
  listed; :func:`resolved` puts that list into a copy of the config the run uses.

The I/O that feeds these (the DNS resolver, the subprocess) is :mod:`deploy.fleet.discovery`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from deploy.config.models import CommandSource, Config, DiscoverySource, HostConfig, format_validation_error
from deploy.errors import DiscoveryError

STATIC = "static"


@dataclass(frozen=True)
class SrvAnswer:
    """One SRV record: where the service is (``target``, ``port``)."""

    priority: int
    weight: int
    port: int
    target: str  # without the trailing dot


@dataclass(frozen=True)
class Found:
    """A host a source found: its ``hosts:`` entry, which sources found it, and the DNS name it was found under."""

    host: HostConfig
    sources: tuple[str, ...]
    alias: str | None = None

    def key(self, default_port: int) -> tuple[str, int]:
        return self.host.address, self.host.port or default_port


def source_name(source: DiscoverySource) -> str:
    """How reports name a source: ``dns_srv:_web._tcp.example.internal`` or ``command:./inventory.sh``."""
    if isinstance(source, CommandSource):
        return f"command:{source.command}"
    return f"dns_srv:{source.dns_srv.rstrip('.')}"


def srv_hosts(
    source: str, roles: Sequence[str], answers: Sequence[SrvAnswer], addresses: Mapping[str, Sequence[str]]
) -> list[Found]:
    """One host per SRV answer, at the first address of its target (``addresses``: target -> A/AAAA answers).
    A target with no address is a :class:`DiscoveryError` naming it."""
    found = []
    for answer in sorted(answers, key=lambda a: (a.priority, -a.weight, a.target, a.port)):
        target = answer.target.rstrip(".")
        if target == "":
            continue  # "." : the service is decidedly not available (RFC 2782)
        known = addresses.get(target) or []
        if not known:
            raise DiscoveryError(
                f"{source}: the SRV answer points at {target}, which has no address (no A or AAAA record); "
                "add one or remove the SRV record"
            )
        host = HostConfig(address=sorted(known)[0], port=answer.port, roles=list(roles))
        found.append(Found(host, (source,), target))
    return found


def parse_inventory(text: str, source: str) -> list[Found]:
    """The hosts an inventory command printed, validated like ``hosts:`` entries."""
    expected = 'print a JSON list like [{"address": "10.0.0.5", "roles": ["web"], "port": 22}]'
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        shown = text.strip()[:80] or "nothing"
        raise DiscoveryError(f"{source}: its output is not JSON ({exc.msg}; it printed {shown!r}); {expected}") from exc
    if not isinstance(data, list):
        raise DiscoveryError(f"{source}: its output is JSON but not a list; {expected}")
    found = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise DiscoveryError(f"{source}: entry [{i}] is not an object; {expected}")
        try:
            host = HostConfig.model_validate(entry)
        except ValidationError as exc:
            problem = format_validation_error(exc)[0]
            raise DiscoveryError(f"{source}: entry [{i}]: {problem}; {expected}") from exc
        found.append(Found(host, (source,)))
    return found


def merge(groups: Sequence[Sequence[Found]], default_port: int) -> list[Found]:
    """One host per (address, port), in first-seen order: roles united (in first-seen order), sources listed.
    A static host keeps its own settings (user, deploy_to, blue_green); a host found only by sources takes those
    of the first source that found it."""
    merged: dict[tuple[str, int], Found] = {}
    for group in groups:
        for f in group:
            key = f.key(default_port)
            seen = merged.get(key)
            if seen is None:
                merged[key] = f
                continue
            roles = list(dict.fromkeys([*seen.host.roles, *f.host.roles]))
            sources = tuple(dict.fromkeys([*seen.sources, *f.sources]))
            merged[key] = Found(seen.host.model_copy(update={"roles": roles}), sources, seen.alias or f.alias)
    return list(merged.values())


def static_hosts(config: Config, environment: str) -> list[Found]:
    return [Found(h, (STATIC,)) for h in config.environments[environment].hosts]


def resolved(config: Config, environment: str, hosts: Sequence[Found]) -> Config:
    """A copy of ``config`` whose environment lists ``hosts`` (each remembering how it was found)."""
    env = config.environments[environment]
    copy = env.model_copy(update={"hosts": [f.host for f in hosts]})
    copy._found = {(f.host.address, f.host.port): (", ".join(f.sources), f.alias) for f in hosts}
    return config.model_copy(update={"environments": {**config.environments, environment: copy}})
