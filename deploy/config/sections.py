"""The sections of the deploy config file (pipeline, timeouts, ssh, hosts, blue/green, environments, shared
files, tasks) as pydantic models; :mod:`deploy.config.models` assembles them into one app's
:class:`~deploy.config.models.Config` and loads the file.

Every model forbids unknown keys. A validator may point below the field it checks: a message starting
``<[1]> `` is reported at ``field[1]`` (see :func:`deploy.config.models.format_validation_error`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from deploy.config.durations import parse_duration
from deploy.delivery.refs import ref_problem
from deploy.notify.sink_config import NotifyEntry, slack_channels
from deploy.run import batches as batch_rules

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
BatchEntry = Annotated[int | str, BeforeValidator(batch_rules.parse_entry)]
Pause = Annotated[bool | float, BeforeValidator(batch_rules.parse_pause)]

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_ADDRESS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}")


def check_name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{what} {value!r} must be lowercase letters, digits, '.', '_' or '-'")
    return value


def _check_user(value: str) -> str:
    if not _USER.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid login name")
    return value


def _check_address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not a host name or IP address")
    return value


LoginName = Annotated[str, AfterValidator(_check_user)]
Address = Annotated[str, AfterValidator(_check_address)]


def check_relative(path: str) -> str:
    parts = Path(path).parts
    if not path or path.startswith("/") or ".." in parts:
        raise ValueError(f"{path!r} must be a path relative to the release, without '..'")
    return path


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheck(Section):
    """A command that exits 0 once the new release serves; tried ``retries`` times, ``interval`` apart."""

    run: str
    timeout: Duration = 30.0
    retries: int = Field(10, ge=1)
    interval: Duration = 1.0


class Migrate(Section):
    """Runs on exactly one host that has one of ``roles``, after build and before any switch."""

    roles: list[str] = Field(default_factory=lambda: ["migrate"])
    run: str


class Pipeline(Section):
    transfer: Literal["upload", "git"] = "upload"
    build: list[str] = Field(default_factory=list)
    migrate: Migrate | None = None
    restart: str | None = None
    healthcheck: HealthCheck | None = None

    @field_validator("build", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Timeouts(Section):
    """How long each step may take before its remote processes are killed."""

    connect: Duration = 15.0
    transfer: Duration = 600.0
    build: Duration = 1800.0
    migrate: Duration = 1800.0
    switch: Duration = 30.0
    restart: Duration = 120.0
    task: Duration = 600.0
    command: Duration = 60.0
    pause: Duration = Field(3600.0, description="how long a run paused for a person waits before it aborts")


class Ssh(Section):
    user: LoginName = "deploy"
    port: int = Field(22, ge=1, le=65535)
    identity: str | None = Field(
        None, description="a private key file; unset: the agent and the default keys (~/.ssh/id_ed25519, ...)"
    )
    known_hosts: str = "~/.ssh/known_hosts"
    connect_concurrency: int = Field(30, ge=1, le=1000)
    jump_host: str | None = None
    keepalive_interval: Duration = 15.0
    login_shell: Literal["posix", "other"] = Field(
        "posix", description="posix: commands run in the login shell itself; other (fish, csh): through sh -c"
    )


Port = Annotated[int, Field(ge=1, le=65535)]


class ColourPorts(Section):
    """The port each colour's app listens on (``SHIPBOT_PORT`` in its start, stop and healthcheck commands)."""

    blue: Port
    green: Port

    @model_validator(mode="after")
    def _distinct(self) -> ColourPorts:
        if self.blue == self.green:
            raise ValueError(f"blue and green must listen on different ports (both are {self.blue})")
        return self


def _check_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s'\"]+", value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


class HostBlueGreen(Section):
    """Per-host overrides of the environment's ``blue_green`` block (hosts that share one machine or differ)."""

    ports: ColourPorts | None = None
    verify_url: str | None = None

    @field_validator("verify_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class HostConfig(Section):
    address: Address
    name: Address | None = Field(None, description="how chat and the CLI show the host (unique in its environment)")
    roles: list[str] = Field(default_factory=list)
    port: int | None = Field(None, ge=1, le=65535)
    user: LoginName | None = None
    deploy_to: str | None = None
    blue_green: HostBlueGreen | None = None

    @field_validator("deploy_to")
    @classmethod
    def _deploy_to(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("deploy_to must be an absolute path")
        return value


class Nginx(Section):
    """How traffic moves between colours: nginx proxies to the upstream in ``upstream_file``.

    The file is written by shipbot (``upstream <upstream> { server <address>:<port>; }``) and must be included
    by the operator's nginx config. ``test`` and ``reload`` run on the host with ``SHIPBOT_DEPLOY_TO`` exported.
    """

    upstream_file: str = Field(description="absolute, or relative to the host's deploy_to")
    upstream: str | None = Field(None, description="the upstream block's name (default: the app name)")
    test: str = "nginx -t"
    reload: str = "nginx -s reload"
    pid_file: str | None = Field(
        None,
        description="nginx's master pid file (absolute, or relative to deploy_to): before a colour stops, its old "
        "workers must have exited; without it, answers through nginx must come from the colour that stays",
    )
    drain_timeout: Duration = Field(
        30.0, gt=0, le=600, description="how long a colour leaving traffic waits for nginx to send it nothing more"
    )

    @field_validator("upstream_file", "pid_file")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is not None and (not value or ".." in Path(value).parts or value.endswith("/")):
            raise ValueError(f"{value!r} must be a file path without '..'")
        return value

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
            raise ValueError(f"{value!r} is not an nginx upstream name (letters, digits, '_', '.', '-')")
        return value


class Verify(Section):
    """After nginx reloads, ask through nginx which version answers: the body of ``url`` (``expect: body``) or
    its ``header`` (``expect: header``) must contain the full SHA; tried ``retries`` times, ``interval`` apart."""

    url: str
    expect: Literal["body", "header"] = "body"
    header: str = "X-Revision"
    retries: int = Field(10, ge=1)
    interval: Duration = 0.5
    timeout: Duration = 5.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        return value


class BlueGreen(Section):
    """Two colours per host, ``<deploy_to>/blue`` and ``<deploy_to>/green``, each serving on its own port."""

    ports: ColourPorts
    address: Address = Field("127.0.0.1", description="where the colours listen, as nginx reaches them")
    stop: str = Field(description="stops the app of a colour (run in the colour's folder)")
    keep_old: Duration = 600.0
    nginx: Nginx
    verify: Verify


_DNS_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?")
_NAMESERVER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+|[A-Za-z0-9.-]+)(?::\d{1,5})?")


class DnsSrvSource(Section):
    """Every SRV answer of ``dns_srv`` is a host: its target resolved to an address, its port the SSH port."""

    dns_srv: str = Field(description="an SRV name, e.g. _web._tcp.example.internal")
    roles: list[str] = Field(default_factory=list)
    nameservers: list[str] = Field(
        default_factory=list, description='"host" or "host:port" (default: the system resolver)'
    )
    timeout: Duration = Field(5.0, gt=0, description="for each DNS query (the SRV, then each target's address)")

    @field_validator("dns_srv")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _DNS_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a DNS name")
        return value

    @field_validator("nameservers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        for i, server in enumerate(value):
            if not _NAMESERVER.fullmatch(server):
                raise ValueError(f'<[{i}]> {server!r} is not a nameserver ("10.0.0.2" or "10.0.0.2:53")')
        return value


class CommandSource(Section):
    """A command run on the controller (relative to the config file's folder, no shell) that prints JSON:
    ``[{"address": ..., "roles": [...], "port": 22}]``, entries shaped like ``hosts:`` entries."""

    command: str = Field(description="run from the config file's folder, split like a shell would, no shell")
    timeout: Duration = Field(10.0, gt=0)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give the command to run")
        return value


def _source_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "dns_srv" if "dns_srv" in value else "command" if "command" in value else None
    return "dns_srv" if isinstance(value, DnsSrvSource) else "command" if isinstance(value, CommandSource) else None


DiscoverySource = Annotated[
    Annotated[DnsSrvSource, Tag("dns_srv")] | Annotated[CommandSource, Tag("command")],
    Discriminator(
        _source_kind,
        custom_error_type="discover_source",
        custom_error_message="each source is {dns_srv: NAME, ...} or {command: CMD, ...}",
    ),
]


_GLOB = re.compile(r"[A-Za-z0-9._/*?-]{1,200}")


def check_glob(value: str) -> str:
    """A tag or branch pattern (``v*``, ``preview/*``): what a ref name may hold, plus ``*`` and ``?``."""
    if not _GLOB.fullmatch(value) or ref_problem(value.replace("*", "x").replace("?", "x")):
        raise ValueError(f"{value!r} is not a ref pattern (letters, digits, '.', '_', '/', '-', and * or ?)")
    return value


RefGlob = Annotated[str, AfterValidator(check_glob)]


class AutoDeploy(Section):
    """Deploy what is pushed (a webhook, or polling the repository) without anyone typing a command."""

    branch: str | None = Field(None, description="deploy every push to this branch, at exactly the pushed commit")
    tags: RefGlob | None = Field(None, description='deploy every pushed tag matching this pattern, e.g. "v*"')
    poll: Duration | None = Field(
        None,
        description="for repositories that cannot send webhooks: fetch this often and deploy when the branch moved",
    )

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        problem = ref_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> AutoDeploy:
        if (self.branch is None) == (self.tags is None):
            raise ValueError('auto_deploy takes exactly one of branch (a branch name) or tags (a pattern like "v*")')
        if self.poll is not None and (self.branch is None or self.poll < 1):
            raise ValueError("poll needs branch and is at least 1s")
        return self


class Environment(Section):
    ref: str = "main"
    hosts: list[HostConfig] = Field(default_factory=list, description="required unless discover is set")
    discover: list[DiscoverySource] = Field(
        default_factory=list,
        description="sources that find hosts at the start of every run: each a {dns_srv: …} or a {command: …} "
        "mapping (keys below)",
    )
    converge: Literal["manual", "auto"] = Field(
        "manual", description="auto: put the live release on hosts discovery finds, by itself"
    )
    converge_interval: Duration = Field(300.0, gt=0, description="how often converge: auto looks for new hosts")
    notify: list[NotifyEntry] = Field(
        default_factory=list,
        description="Slack channel ids (the first one gets approval requests, pushes, polling, tags, converge: "
        "auto) and sinks told of every event: {webhook: …}, {teams: …}, {irc: …} (keys below)",
    )
    production: bool = Field(False, description="a production environment (forges show it so)")
    url: Annotated[str, AfterValidator(_check_url)] | None = Field(None, description="where it is served")
    strategy: Literal["all", "rolling", "blue_green"] = "all"
    batches: list[BatchEntry] | None = Field(
        None, description="a ramp of host counts or percentages; the first batch is the canary"
    )
    max_failures: int = Field(0, ge=0, description="hosts allowed to fail over the whole run")
    pause: Pause = Field(False, description="between batches: false, true (wait for a person) or a duration")
    blue_green: BlueGreen | None = None
    promote_from: str | None = Field(
        None,
        description="another environment of the app: only a commit deployed there successfully may be deployed "
        "here (`deploy!` by an admin, or `shipbot deploy --force`, goes past it, recorded)",
    )
    auto_deploy: AutoDeploy | None = None

    @field_validator("batches")
    @classmethod
    def _ramp(cls, value: list[BatchEntry] | None) -> list[BatchEntry] | None:
        if value is not None:
            problems = batch_rules.static_problems(value)
            if problems:
                raise ValueError(f"<[{problems[0].index}]> {problems[0].message}")
        return value

    @model_validator(mode="after")
    def _strategy_keys(self) -> Environment:
        if self.strategy == "all":
            given = [k for k in ("batches", "pause", "blue_green") if getattr(self, k) not in (None, False)]
            if self.max_failures:
                given.append("max_failures")
            if given:
                raise ValueError(
                    f"{', '.join(given)} only apply with strategy rolling or blue_green (this environment deploys "
                    "to all hosts at once; set strategy)"
                )
        if self.strategy == "blue_green" and self.blue_green is None:
            raise ValueError("strategy blue_green needs a blue_green block (ports, stop, nginx, verify)")
        if self.strategy != "blue_green":
            if self.blue_green is not None:
                raise ValueError("a blue_green block needs strategy: blue_green")
            if any(h.blue_green for h in self.hosts):
                raise ValueError("hosts[].blue_green only applies with strategy: blue_green")
        return self

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        problem = ref_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    # (address, port as written) -> (source, the name the host was found under): set on the copy of the config a
    # run resolves (deploy.fleet.members), empty on the file's config (every host there is static)
    _found: dict[tuple[str, int | None], tuple[str, str | None]] = PrivateAttr(default_factory=dict)

    def found_as(self, address: str, port: int | None) -> tuple[str, str | None]:
        """How a host of this environment was found: (``static`` or a source, the DNS name it was found under)."""
        return self._found.get((address, port), ("static", None))

    @model_validator(mode="after")
    def _hosts_or_discover(self) -> Environment:
        if not self.hosts and not self.discover:
            raise ValueError("give hosts: (at least one) or discover: (sources that find them)")
        if self.converge == "auto" and not slack_channels(self.notify):
            raise ValueError("converge: auto reports its runs in chat: list a Slack channel id under notify")
        return self

    @model_validator(mode="after")
    def _unique_hosts(self) -> Environment:
        seen: set[tuple[str, int | None]] = set()
        for host in self.hosts:
            key = (host.address, host.port)
            if key in seen:
                raise ValueError(f"host {host.address} (port {host.port or 'default'}) is listed twice")
            seen.add(key)
        return self
