"""The deploy config file (``shipbot.yml``) as pydantic models.

The keys are a contract that scripts outside shipbot rely on (see the README's config reference, generated from
these models). Every model forbids unknown keys, so a typo is an error naming the key, not a silent default.
``load_config`` turns any problem into one :class:`~deploy.errors.ConfigError` whose lines each name the file, the
key path (``environments.staging.hosts[1].port``) and what was expected.

``access`` and ``aliases`` belong to the chat side (commands/): the engine keeps them as plain data and
commands/ validates them with its own models, reporting errors with the same file and key path form.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deploy import batches as batch_rules
from deploy.durations import parse_duration
from deploy.errors import ConfigError
from deploy.refs import ref_problem

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
BatchEntry = Annotated[int | str, BeforeValidator(batch_rules.parse_entry)]
Pause = Annotated[bool | float, BeforeValidator(batch_rules.parse_pause)]

# A validator may point below the field it checks: a message starting "<[1]> " is reported at ``field[1]``.
_SUBPATH = re.compile(r"<((?:\[\d+\]|\.[a-z_]+)+)> ")

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_ADDRESS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}")


def _check_name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{what} {value!r} must be lowercase letters, digits, '.', '_' or '-'")
    return value


def _check_relative(path: str) -> str:
    parts = Path(path).parts
    if not path or path.startswith("/") or ".." in parts:
        raise ValueError(f"{path!r} must be a path relative to the release, without '..'")
    return path


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheck(_Model):
    """A command that exits 0 once the new release serves; tried ``retries`` times, ``interval`` apart."""

    run: str
    timeout: Duration = 30.0
    retries: int = Field(10, ge=1)
    interval: Duration = 1.0


class Migrate(_Model):
    """Runs on exactly one host that has one of ``roles``, after build and before any switch."""

    roles: list[str] = Field(default_factory=lambda: ["migrate"])
    run: str


class Pipeline(_Model):
    transfer: Literal["upload", "git"] = "upload"
    build: list[str] = Field(default_factory=list)
    migrate: Migrate | None = None
    restart: str | None = None
    healthcheck: HealthCheck | None = None

    @field_validator("build", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Timeouts(_Model):
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


class Ssh(_Model):
    user: str = "deploy"
    port: int = Field(22, ge=1, le=65535)
    identity: str | None = "~/.ssh/id_ed25519"
    known_hosts: str = "~/.ssh/known_hosts"
    connect_concurrency: int = Field(30, ge=1, le=1000)
    jump_host: str | None = None
    keepalive_interval: Duration = 15.0
    login_shell: Literal["posix", "other"] = Field(
        "posix", description="posix: commands run in the login shell itself; other (fish, csh): through sh -c"
    )

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _USER.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid login name")
        return value


Port = Annotated[int, Field(ge=1, le=65535)]


class ColourPorts(_Model):
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


class HostBlueGreen(_Model):
    """Per-host overrides of the environment's ``blue_green`` block (hosts that share one machine or differ)."""

    ports: ColourPorts | None = None
    verify_url: str | None = None

    @field_validator("verify_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class HostConfig(_Model):
    address: str
    roles: list[str] = Field(default_factory=list)
    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = None
    deploy_to: str | None = None
    blue_green: HostBlueGreen | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _ADDRESS.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name or IP address")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not _USER.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid login name")
        return value

    @field_validator("deploy_to")
    @classmethod
    def _deploy_to(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("deploy_to must be an absolute path")
        return value


class Nginx(_Model):
    """How traffic moves between colours: nginx proxies to the upstream in ``upstream_file``.

    The file is written by shipbot (``upstream <upstream> { server <address>:<port>; }``) and must be included
    by the operator's nginx config. ``test`` and ``reload`` run on the host with ``SHIPBOT_DEPLOY_TO`` exported.
    """

    upstream_file: str = Field(description="absolute, or relative to the host's deploy_to")
    upstream: str | None = Field(None, description="the upstream block's name (default: the app name)")
    test: str = "nginx -t"
    reload: str = "nginx -s reload"

    @field_validator("upstream_file")
    @classmethod
    def _file(cls, value: str) -> str:
        if not value or ".." in Path(value).parts or value.endswith("/"):
            raise ValueError(f"{value!r} must be a file path without '..'")
        return value

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
            raise ValueError(f"{value!r} is not an nginx upstream name (letters, digits, '_', '.', '-')")
        return value


class Verify(_Model):
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


class BlueGreen(_Model):
    """Two colours per host, ``<deploy_to>/blue`` and ``<deploy_to>/green``, each serving on its own port."""

    ports: ColourPorts
    address: str = Field("127.0.0.1", description="where the colours listen, as nginx reaches them")
    stop: str = Field(description="stops the app of a colour (run in the colour's folder)")
    keep_old: Duration = 600.0
    nginx: Nginx
    verify: Verify

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _ADDRESS.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name or IP address")
        return value


class Environment(_Model):
    ref: str = "main"
    hosts: list[HostConfig] = Field(min_length=1)
    strategy: Literal["all", "rolling", "blue_green"] = "all"
    batches: list[BatchEntry] | None = Field(
        None, description="a ramp of host counts or percentages; the first batch is the canary"
    )
    max_failures: int = Field(0, ge=0, description="hosts allowed to fail over the whole run")
    pause: Pause = Field(False, description="between batches: false, true (wait for a person) or a duration")
    blue_green: BlueGreen | None = None

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

    @model_validator(mode="after")
    def _unique_hosts(self) -> Environment:
        seen: set[tuple[str, int | None]] = set()
        for host in self.hosts:
            key = (host.address, host.port)
            if key in seen:
                raise ValueError(f"host {host.address} (port {host.port or 'default'}) is listed twice")
            seen.add(key)
        return self


class Shared(_Model):
    """Files and dirs under ``<deploy_to>/shared`` linked into every release."""

    files: list[str] = Field(default_factory=list)
    dirs: list[str] = Field(default_factory=list)

    @field_validator("files", "dirs")
    @classmethod
    def _relative(cls, value: list[str]) -> list[str]:
        return [_check_relative(v) for v in value]


class Task(_Model):
    roles: list[str] = Field(default_factory=list)
    run: str
    timeout: Duration | None = None


class Config(_Model):
    """One app's deploy config."""

    app: str
    repo: str
    deploy_to: str
    keep_releases: int = Field(5, ge=1)
    keep_failed_releases: bool = False
    ssh: Ssh = Field(default_factory=Ssh)
    environments: dict[str, Environment] = Field(min_length=1)
    shared: Shared = Field(default_factory=Shared)
    pipeline: Pipeline = Field(default_factory=Pipeline)
    tasks: dict[str, Task] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: list[str] = Field(
        default_factory=list,
        description="names of controller environment variables passed to commands and redacted from output",
    )
    aliases: dict[str, str] = Field(default_factory=dict)
    access: dict[str, Any] = Field(default_factory=dict)

    @field_validator("app")
    @classmethod
    def _app(cls, value: str) -> str:
        return _check_name(value, "app name")

    @field_validator("deploy_to")
    @classmethod
    def _deploy_to(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("deploy_to must be an absolute path")
        return value

    @field_validator("environments")
    @classmethod
    def _env_names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name in value:
            _check_name(name, "environment name")
        return value

    @model_validator(mode="after")
    def _blue_green_needs_restart(self) -> Config:
        for name, env in self.environments.items():
            if env.strategy == "blue_green" and not self.pipeline.restart:
                raise ValueError(
                    f"environments.{name} is blue_green: pipeline.restart must start the app of a colour "
                    "(it gets SHIPBOT_COLOUR and SHIPBOT_PORT)"
                )
        return self

    @field_validator("tasks")
    @classmethod
    def _task_names(cls, value: dict[str, Task]) -> dict[str, Task]:
        for name in value:
            _check_name(name, "task name")
        return value

    @field_validator("env")
    @classmethod
    def _env_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
                raise ValueError(f"{key!r} is not an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases_point_somewhere(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        environments = info.data.get("environments") or {}
        for alias, target in value.items():
            if target not in environments:
                raise ValueError(f"alias {alias!r} points to {target!r}, which is not an environment")
        return value

    @field_validator("environments")
    @classmethod
    def _hosts_unique_with_default_port(
        cls, value: dict[str, Environment], info: ValidationInfo
    ) -> dict[str, Environment]:
        ssh = info.data.get("ssh")
        default_port = ssh.port if isinstance(ssh, Ssh) else 22
        for name, env in value.items():
            seen: set[tuple[str, int]] = set()
            for host in env.hosts:
                key = (host.address, host.port or default_port)
                if key in seen:
                    raise ValueError(f"environment {name!r} lists host {host.address} port {key[1]} twice")
                seen.add(key)
        return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is written twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("[", ".")):
            out += part
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem: ``key.path: what was expected (got X)``."""
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
        msg = err["msg"].removeprefix("Value error, ")
        sub = _SUBPATH.match(msg)
        if sub:
            loc, msg = (*loc, sub.group(1)), msg[sub.end() :]
        if err["type"] == "extra_forbidden":
            msg = "unknown key; the README's config reference lists the keys allowed here"
        got = err.get("input")
        shown = "" if err["type"] == "missing" or isinstance(got, dict | list) else f" (got {got!r})"
        problems.append(f"{_key_path(loc)}: {msg}{shown}")
    return problems


def parse_config(data: Any, source: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of keys like app, repo, environments"])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc)) from exc


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate one config file; every failure is a :class:`ConfigError` naming the file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(file, ["file not found; pass --config FILE or set SHIPBOT_CONFIG"]) from exc
    except OSError as exc:
        raise ConfigError(file, [f"cannot read the file: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(file, [f"not UTF-8 text (byte {exc.start})"]) from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(file, [f"{where}not valid YAML: {problem}"]) from exc
    return parse_config(data, file)
