"""The ``previews`` section of the config file: which branches get a preview, on which hosts, under which domain,
on which ports, for how long, and how nginx is told about each one.

::

    previews:
      branches: "demo/*"                # a glob (or a list of globs) of branch names a push turns into a preview
      hosts: [{address: 10.0.0.30}]     # as environments.<name>.hosts
      domain: preview.example.com       # a preview of demo/xyz answers at demo-xyz.preview.example.com
      ports: "9000-9099"                # each preview's app listens on one of these (SHIPBOT_PORT)
      ttl: 48h                          # removed this long after its last push
      nginx: {sites_dir: /etc/nginx/shipbot-previews, test: "nginx -t", reload: "nginx -s reload"}
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from deploy.config.sections import Duration, HostConfig, Section

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_LISTEN = re.compile(r"(?:(?P<address>[0-9.]+|\*|\[[0-9a-fA-F:]+\]|localhost):)?(?P<port>[0-9]{1,5})")
_RANGE = re.compile(r"\s*([0-9]{1,5})\s*-\s*([0-9]{1,5})\s*")
_CHANNEL = re.compile(r"[CGD][A-Z0-9]{2,20}")


def parse_ports(text: str) -> tuple[int, int]:
    """``"9000-9099"`` as (9000, 9099); raises ValueError naming what is wrong."""
    match = _RANGE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a port range like 9000-9099")
    first, last = int(match.group(1)), int(match.group(2))
    if not 1024 <= first <= last <= 65535:
        raise ValueError(f"{text!r}: the range must go up, within 1024-65535")
    return first, last


def listen_address(listen: str) -> tuple[str, int]:
    """Where a request on the preview host reaches nginx: ``"8080"`` and ``"*:8080"`` are 127.0.0.1:8080."""
    match = _LISTEN.fullmatch(listen)
    if not match:
        raise ValueError(f"{listen!r} is not a port or address:port nginx listens on")
    address = match.group("address") or "127.0.0.1"
    if address in ("*", "0.0.0.0", "localhost"):  # noqa: S104 (read back as loopback, not bound)
        address = "127.0.0.1"
    if address == "[::]":
        address = "[::1]"
    return address, int(match.group("port"))


class PreviewNginx(Section):
    """The nginx on each preview host: one server block per preview in ``sites_dir`` (which the operator's nginx
    config includes: ``include /etc/nginx/shipbot-previews/*.conf;`` in its ``http`` block). ``test`` and
    ``reload`` run on the host with ``SHIPBOT_DEPLOY_TO`` exported."""

    sites_dir: str = Field(description="absolute folder the server blocks are written to (`<app>.<preview>.conf`)")
    listen: str = Field("80", description="what each server block listens on (port or address:port); the health "
                        "check asks nginx there with the preview's Host header")  # fmt: skip
    test: str = "nginx -t"
    reload: str = "nginx -s reload"
    extra: list[str] = Field(
        default_factory=list,
        description="lines added inside every preview's server block, e.g. `client_max_body_size 50m;`",
    )

    @field_validator("sites_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or ".." in value.split("/") or any(c in value for c in "\n\0"):
            raise ValueError(f"{value!r} must be an absolute folder without '..'")
        return value.rstrip("/") or "/"

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        listen_address(value)
        return value

    @field_validator("extra")
    @classmethod
    def _lines(cls, value: list[str]) -> list[str]:
        for i, line in enumerate(value):
            if "\n" in line or "\0" in line:
                raise ValueError(f"<[{i}]> one directive per entry, on one line")
        return value


class Previews(Section):
    """One preview per branch: the branch's code in ``<deploy_to>/previews/<name>/`` on every preview host, its app on
    a port of ``ports``, reached through nginx at ``<name>.<domain>``."""

    branches: list[str] = Field(description="glob(s) of the branch names a push turns into a preview, e.g. `demo/*`")
    hosts: list[HostConfig] = Field(min_length=1)
    domain: str = Field(description="a preview answers at `<name>.<domain>`")
    ports: str = Field("9000-9099", description="the ports previews' apps listen on (SHIPBOT_PORT), one per preview")
    ttl: Duration = Field(48 * 3600.0, gt=0, description="a preview is removed this long after its last push")
    nginx: PreviewNginx
    stop: str | None = Field(
        None,
        description="stops a preview's app (run in its release, SHIPBOT_PORT exported); either way, shipbot then "
        "stops every process whose working directory is inside the preview's folder",
    )
    health_path: str | None = Field(
        None,
        description="the path asked through nginx (default: the path of the URL in pipeline.healthcheck.run, or /)",
    )
    channel: str | None = Field(None, description="the chat channel ID where previews made by a push are announced")

    @field_validator("branches", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("branches")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one branch glob, e.g. demo/*")
        for i, glob in enumerate(value):
            if not glob or not glob.isascii() or any(ord(c) < 0x20 or c == " " for c in glob):
                raise ValueError(f"<[{i}]> {glob!r} is not a branch glob like demo/*")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.fullmatch(value) or len(value) > 190:
            raise ValueError(f"{value!r} is not a lowercase DNS domain like preview.example.com")
        return value

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: str) -> str:
        parse_ports(value)
        return value

    @field_validator("health_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"/[A-Za-z0-9._~/?=&%+-]*", value):
            raise ValueError(f"{value!r} is not a URL path starting with /")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL.fullmatch(value):
            raise ValueError(f"{value!r} is not a chat channel ID (C…, G… or D…)")
        return value

    @model_validator(mode="after")
    def _hosts(self) -> Previews:
        seen: set[tuple[str, int | None]] = set()
        for i, host in enumerate(self.hosts):
            if host.blue_green is not None:
                raise ValueError(f"hosts[{i}].blue_green does not apply to previews")
            if (host.address, host.port) in seen:
                raise ValueError(f"host {host.address} (port {host.port or 'default'}) is listed twice")
            seen.add((host.address, host.port))
        return self

    @property
    def port_range(self) -> tuple[int, int]:
        return parse_ports(self.ports)
