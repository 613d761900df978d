"""The deploy config file (``shipbot.yml``) as pydantic models.

The keys are a contract that scripts outside shipbot rely on (see the README's config reference, generated from
these models). Every model forbids unknown keys, so a typo is an error naming the key, not a silent default.
``load_config`` turns any problem into one :class:`~deploy.errors.ConfigError` whose lines each name the file, the
key path (``environments.staging.hosts[1].port``) and what was expected.

The sections (pipeline, ssh, environments, ...) are modelled in :mod:`deploy.config.sections` and importable
from here; this module assembles them into :class:`Config` and loads the file.

``access`` and ``aliases`` belong to the chat side (commands/): the engine keeps them as plain data and
commands/ validates them with its own models, reporting errors with the same file and key path form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deploy.config.preview_section import PreviewNginx, Previews
from deploy.config.sections import (
    AutoDeploy,
    BatchEntry,
    BlueGreen,
    ColourPorts,
    CommandSource,
    DiscoverySource,
    DnsSrvSource,
    Duration,
    Environment,
    HealthCheck,
    HostBlueGreen,
    HostConfig,
    Migrate,
    Nginx,
    Pause,
    Pipeline,
    Port,
    RefGlob,
    Section,
    Ssh,
    Timeouts,
    Verify,
    check_name,
)
from deploy.config.tasks import Shared, Task
from deploy.delivery.promotion import order_problem
from deploy.errors import ConfigError
from deploy.notify.forge_config import Deployments

__all__ = [
    "AutoDeploy",
    "BatchEntry",
    "BlueGreen",
    "ColourPorts",
    "CommandSource",
    "Config",
    "DiscoverySource",
    "DnsSrvSource",
    "Duration",
    "Environment",
    "HealthCheck",
    "HostBlueGreen",
    "HostConfig",
    "Migrate",
    "Nginx",
    "Pause",
    "Pipeline",
    "Port",
    "PreviewNginx",
    "Previews",
    "RefGlob",
    "Section",
    "Shared",
    "Ssh",
    "Task",
    "Timeouts",
    "Verify",
    "check_name",
    "format_validation_error",
    "load_config",
    "parse_config",
    "secret_problems",
]

# A validator may point below the field it checks: a message starting "<[1]> " is reported at ``field[1]``.
_SUBPATH = re.compile(r"<((?:\[\d+\]|\.[a-z0-9_.-]+)+)> ")


class FlagFile(Section):
    """Where each host keeps the environment's feature flags, in flagd's flag-definition format."""

    path: str = Field(
        "shared/flags.json", description="the flagd flag file on each host: absolute, or relative to deploy_to"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value or value.endswith("/") or ".." in value.split("/"):
            raise ValueError("flags.path names a file (absolute, or relative to deploy_to), without ..")
        return value


class Config(Section):
    """One app's deploy config."""

    app: str
    repo: str
    deploy_to: str
    keep_releases: int = Field(5, ge=1)
    keep_failed_releases: bool = False
    layout: Literal["shipbot", "capistrano", "auto"] = Field(
        "auto",
        description="capistrano: every deploy and rollback also appends Capistrano's revisions.log line and keeps "
        "release folders in deploy order by modification time; auto: so on a run whose hosts have a revisions.log",
    )
    ssh: Ssh = Field(default_factory=Ssh)
    environments: dict[str, Environment] = Field(min_length=1)
    shared: Shared = Field(default_factory=Shared)
    pipeline: Pipeline = Field(default_factory=Pipeline)
    tasks: dict[str, Task] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: list[str] = Field(
        default_factory=list,
        description="names of controller environment variables passed to commands on standard input (never on a "
        "command line) and redacted from output",
    )
    aliases: dict[str, str] = Field(default_factory=dict)
    access: dict[str, Any] = Field(default_factory=dict)
    previews: Previews | None = None
    flags: FlagFile = Field(default_factory=FlagFile)
    source: str | None = Field(
        None, description="the repository as owner/name, matched against pushes besides repo (e.g. acme/shop)"
    )
    deployments: Deployments | None = Field(
        None,
        description="the forge's deployment records: every run recorded there (github or gitlab, keys below); a "
        "GitHub deployment event for deployments.github.repo starts a deploy",
    )
    release_tags: RefGlob | None = Field(
        None, description='pushed tags matching this pattern (e.g. "v*") post release notes to the notify channels'
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+", value):
            raise ValueError(f"{value!r} is not owner/name (e.g. acme/shop)")
        return value

    @field_validator("app")
    @classmethod
    def _app(cls, value: str) -> str:
        return check_name(value, "app name")

    @field_validator("deploy_to")
    @classmethod
    def _deploy_to(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("deploy_to must be an absolute path")
        return value

    @field_validator("environments", "tasks")
    @classmethod
    def _names(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        what = "environment name" if info.field_name == "environments" else "task name"
        for name in value:
            check_name(name, what)
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

    @model_validator(mode="after")
    def _previews_need_restart(self) -> Config:
        if self.previews is not None and not self.pipeline.restart:
            raise ValueError("previews: pipeline.restart must start a preview's app (it gets SHIPBOT_PORT)")
        return self

    @field_validator("environments")
    @classmethod
    def _promotion_order(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        """``promote_from`` names another environment, and following it never comes back (see
        :func:`deploy.delivery.promotion.order_problem`)."""
        problem = order_problem({name: env.promote_from for name, env in value.items()})
        if problem is not None:
            name, message = problem
            raise ValueError(f"<.{name}.promote_from> {message}")
        return value

    @field_validator("env")
    @classmethod
    def _env_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
                raise ValueError(f"{key!r} is not an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("secret_env")
    @classmethod
    def _secret_names(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(
                    f"<[{i}]> {name!r} is not a shell variable name (letters, digits, _; not a digit first)"
                )
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
            named = [host.name for host in env.hosts if host.name]
            if twice := sorted({n for n in named if named.count(n) > 1}):
                raise ValueError(f"environment {name!r} names two hosts {twice[0]!r}: a host's name must be unique")
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


def _untagged(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Without the tag a ``notify:`` entry's kind adds (``notify[1].webhook.webhook`` is ``notify[1].webhook``)."""
    return tuple(
        p for i, p in enumerate(loc) if not (i >= 2 and loc[i - 2] == "notify" and isinstance(loc[i - 1], int))
    )


def format_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem: ``key.path: what was expected (got X)``."""
    problems = []
    for err in exc.errors():
        loc = _untagged(tuple(p for p in err["loc"] if p not in ("function-after", "function-before")))
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


def secret_problems(config: Config, environ: Mapping[str, str]) -> list[str]:
    """One line per variable a sink or the forge names that is not set in ``environ``: ``key.path: VAR is not
    set`` (``shipbot check``)."""
    problems = []
    for env, settings in config.environments.items():
        for i, entry in enumerate(settings.notify):
            if isinstance(entry, str):
                continue
            for key, var in entry.secrets().items():
                if not environ.get(var):
                    problems.append(f"environments.{env}.notify[{i}].{key}: the variable {var} is not set")
    forge = config.deployments.forge() if config.deployments is not None else None
    if forge is not None and not environ.get(forge[1].token_env):
        problems.append(f"deployments.{forge[0]}.token_env: the variable {forge[1].token_env} is not set")
    return problems
