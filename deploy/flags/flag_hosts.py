"""The flagd file on the hosts: written to every host of an environment at once, one exec per host, and read back.

Where: ``flags.path`` of the app's config (default ``shared/flags.json``), relative to the host's ``deploy_to`` or
absolute. The write is atomic: the content arrives on standard input into a temporary file beside the target,
which is renamed over it (one ``rename(2)``), so an app polling the file reads the old or the new content, never
half of one. The host answers with the sha256 of the file it had before and of the file it has now; the second
must equal the content's, or the host is reported as not written.

A file whose sha256 before the write is not what shipbot last wrote there (and not already the new content) was
edited by hand: :attr:`HostWrite.drift` says so. A change replaces it (the store is the source of truth), never
merging it; the catch-up after a deploy, rollback or converge leaves it alone and reports it, so only the next
change overwrites a hand edit.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from deploy.config.models import Config
from deploy.errors import ShipbotError
from deploy.hosts import remote
from deploy.hosts.connector import Connector
from deploy.run.fanout import every
from deploy.run.plan import Host, select_hosts

_SHA = re.compile(r"(old|new)=([0-9a-f]{64})?")


@dataclass(frozen=True)
class HostWrite:
    host: str  # the host's label
    key: str  # the host's name, its key in the store
    ok: bool
    sha256: str = ""
    drift: bool = False  # the file it had was edited by hand
    error: str = ""


@dataclass(frozen=True)
class HostFile:
    host: str
    key: str
    reachable: bool
    sha256: str | None = None  # None: no file
    error: str = ""


def flag_path(config: Config, host: Host) -> str:
    path = config.flags.path
    return path if path.startswith("/") else posixpath.join(host.deploy_to, path)


def write_command(path: str, keep: tuple[str, str] | None = None) -> str:
    """Standard input to ``path``, atomically; prints ``old=SHA`` and ``new=SHA``. With ``keep`` (the sha256 shipbot
    last wrote there, the new content's), a file that is neither (edited by hand) is left alone: prints ``drift``."""
    p = remote.q(path)
    hold = ""
    if keep is not None:
        last, new = (remote.q(k) for k in keep)
        hold = f'if [ -n "$old" ] && [ "$old" != {last} ] && [ "$old" != {new} ]; then '
        hold += 'echo "old=$old"; echo drift; exit 0; fi; '
    return (
        f'mkdir -p -- "$(dirname -- {p})" && '
        f"old=$(sha256sum -- {p} 2>/dev/null | cut -d' ' -f1); {hold}"
        f'tmp=$(mktemp -- {remote.q(path + ".XXXXXX")}) && cat > "$tmp" && chmod 644 "$tmp" && '
        f'mv -f -- "$tmp" {p} && echo "old=$old" && echo "new=$(sha256sum -- {p} | cut -d\' \' -f1)"'
    )


def read_command(path: str) -> str:
    """Prints ``new=SHA`` of the file, ``new=`` without one."""
    p = remote.q(path)
    return f"echo \"new=$(sha256sum -- {p} 2>/dev/null | cut -d' ' -f1)\""


def parse_sha(output: str) -> str | None:
    """The sha256 :func:`read_command` printed; ``None`` without a file."""
    return _shas(output).get("new") or None


def _shas(output: str) -> dict[str, str]:
    return {m.group(1): m.group(2) or "" for m in _SHA.finditer(output)}


async def write_all(
    config: Config,
    environment: str,
    connector: Connector,
    content: bytes,
    sha256: str,
    known: Mapping[str, str],
    *,
    keep_drift: bool = False,
) -> list[HostWrite]:
    """Write ``content`` (whose digest is ``sha256``) on every host of ``environment``; ``known``: host name -> the
    sha256 shipbot last wrote there (to tell a hand edit). ``keep_drift`` (a catch-up after a run, not a change):
    a hand-edited file is reported and left as it is, for the next change to replace."""
    hosts = select_hosts(config, environment, None)

    async def one(host: Host) -> HostWrite:
        try:
            conn = await connector.connect(host, config.timeouts.connect)
        except ShipbotError as exc:
            return HostWrite(host.label, host.name, False, error=str(exc))
        try:
            keep = (known[host.name], sha256) if keep_drift and host.name in known else None
            command = write_command(flag_path(config, host), keep)
            result = await conn.read(command, config.timeouts.command, stdin=content)
        finally:
            await conn.close()
        shas = _shas(result.output)
        if result.ok and "drift" in result.output.split():
            error = "its file was edited by hand; the next change replaces it"
            return HostWrite(host.label, host.name, False, drift=True, error=error)
        if not result.ok or shas.get("new") != sha256:
            error = result.describe() if not result.ok else "the file on the host is not what was sent"
            return HostWrite(host.label, host.name, False, error=error)
        old = shas.get("old", "")
        drift = bool(old) and old != sha256 and host.name in known and known[host.name] != old
        return HostWrite(host.label, host.name, True, sha256, drift)

    try:
        return await every(one(h) for h in hosts)
    finally:
        await connector.close()


async def read_all(config: Config, environment: str, connector: Connector) -> list[HostFile]:
    """The sha256 of the flag file on every host of ``environment``."""
    hosts = select_hosts(config, environment, None)

    async def one(host: Host) -> HostFile:
        try:
            conn = await connector.connect(host, config.timeouts.connect)
        except ShipbotError as exc:
            return HostFile(host.label, host.name, False, error=str(exc))
        try:
            result = await conn.read(read_command(flag_path(config, host)), config.timeouts.command)
        finally:
            await conn.close()
        if not result.ok:
            return HostFile(host.label, host.name, False, error=result.describe())
        return HostFile(host.label, host.name, True, _shas(result.output).get("new") or None)

    try:
        return await every(one(h) for h in hosts)
    finally:
        await connector.close()
