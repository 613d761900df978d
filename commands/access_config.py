"""The ``access:`` section of a config file as pydantic models, validated by the chat side (pure).

Keys are a contract::

    access:
      admins: [U0ADMIN]                                   # user IDs or @groups; may do everything, recorded
      groups: {deployers: [U0ALICE, U0BOB]}              # "@deployers" below; any other @name is a Slack group
      environments:
        production:
          deploy: ["@deployers"]                          # who may deploy (an empty list: admins only)
          rollback: [...]    # default: the deploy list
          cancel: [...]      # default: the deploy list (anyone may cancel their own run)
          lock: [...]        # default: the deploy list
          unlock: [...]      # who may remove someone else's lock with --force (default: admins only)
          task: [...]        # default: the deploy list
          approve: [...]     # default: the deploy list (never the requester)
          flag: [...]        # who may change feature flags (default: the deploy list)
          force: [...]       # who may `deploy!` through a freeze or ahead of the queue (default: admins only)
          approval: required # or none (default)
          approval_timeout: 15m
          channels: [C0DEPLOYS]  # deploy, rollback and tasks only from these channels (default: any)
          queue: true        # a deploy to a busy environment waits its turn (default: refused)
      freeze:
        - {environments: [production], cron: "0 12-23 * * FRI", timezone: Europe/Berlin, reason: "..."}
        - {environments: [production], from: 2026-12-20, to: 2027-01-04, reason: holiday freeze}
      preview: [...]         # who may make previews in chat (default: whoever may deploy to any environment)
      teardown: [...]        # who may remove previews in chat (default: the same)
      github_users: {octocat: U0ALICE}  # a GitHub login -> the person it acts as (GitHub deployment events)

Identity is the immutable Slack user ID (``U…`` or ``W…``): a display name in a list is a config error, because
display names can be changed by anyone. An environment missing from ``environments`` is open to admins only.
A config without any ``access`` section is open: everyone may do everything everywhere, which suits a demo or
a small team; the first rule written closes everything it does not name.

Each app's config carries its own ``access``; several apps mean several independent policies (an admin of one
app is not an admin of another). Problems are reported as :class:`deploy.errors.ConfigError` lines in the same
``access.key.path: message`` form as the rest of the config.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from commands.suggest import did_you_mean
from deploy.config.models import Config, Duration, format_validation_error
from deploy.errors import ConfigError

USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,20}")
GROUP_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:\[bot\])?")
DEFAULT_APPROVAL_TIMEOUT = 15 * 60.0
ACTIONS = ("deploy", "rollback", "cancel", "lock", "unlock", "task", "approve", "force", "flag")


def _principal(value: str) -> str:
    if value == "*" or USER_ID.fullmatch(value):
        return value
    if value.startswith("@") and GROUP_NAME.fullmatch(value[1:]):
        return value
    raise ValueError(f"{value!r} is not a Slack user ID (U… or W…), an @group or '*'; display names change, IDs do not")


def _user_id(value: str) -> str:
    if not USER_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a Slack user ID (U… or W…); display names change, IDs do not")
    return value


def _channel(value: str) -> str:
    if not CHANNEL_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a Slack channel ID (C…, G… or D…)")
    return value


def _approval(value: Any) -> Any:
    if value is True:
        return "required"
    if value is False:
        return "none"
    return value


Principal = Annotated[str, AfterValidator(_principal)]
UserId = Annotated[str, AfterValidator(_user_id)]
ChannelId = Annotated[str, AfterValidator(_channel)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvironmentAccess(_Model):
    deploy: list[Principal] = Field(default_factory=list)
    rollback: list[Principal] | None = None
    cancel: list[Principal] | None = None
    lock: list[Principal] | None = None
    unlock: list[Principal] = Field(default_factory=list)
    task: list[Principal] | None = None
    approve: list[Principal] | None = None
    flag: list[Principal] | None = None
    force: list[Principal] = Field(default_factory=list)
    approval: Annotated[Literal["required", "none"], BeforeValidator(_approval)] = "none"
    approval_timeout: Duration = DEFAULT_APPROVAL_TIMEOUT
    channels: list[ChannelId] = Field(default_factory=list)
    queue: bool = False

    def principals(self, action: str) -> tuple[str, ...]:
        """Who may do ``action`` here, with the documented defaults applied."""
        value: list[str] | None = getattr(self, action)
        if value is None:
            value = self.deploy
        return tuple(value)


class FreezeWindow(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    environments: list[str] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=200)
    cron: str | None = None
    from_: date | None = Field(None, alias="from")
    to: date | None = None
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _check(self) -> FreezeWindow:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}; use a name like Europe/Berlin or UTC") from exc
        dated = self.from_ is not None or self.to is not None
        if self.cron is not None and dated:
            raise ValueError("a freeze has either cron or from/to, not both")
        if self.cron is None and not dated:
            raise ValueError("a freeze needs cron, or from and to dates")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"{self.cron!r} is not a cron expression (minute hour day month weekday)")
        if dated and (self.from_ is None or self.to is None):
            raise ValueError("a dated freeze needs both from and to")
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            raise ValueError("to is before from")
        return self


class AccessConfig(_Model):
    admins: list[Principal] = Field(default_factory=list)
    groups: dict[str, list[UserId]] = Field(default_factory=dict)
    environments: dict[str, EnvironmentAccess] = Field(default_factory=dict)
    freeze: list[FreezeWindow] = Field(default_factory=list)
    preview: list[Principal] | None = None
    teardown: list[Principal] | None = None
    github_users: dict[str, UserId] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _group_names(self) -> AccessConfig:
        for name in self.groups:
            if not GROUP_NAME.fullmatch(name):
                raise ValueError(f"group name {name!r} must be lowercase letters, digits, '.', '_' or '-'")
        return self

    @field_validator("github_users")
    @classmethod
    def _github_logins(cls, value: dict[str, str]) -> dict[str, str]:
        for login in value:
            if not GITHUB_LOGIN.fullmatch(login):
                raise ValueError(f"{login!r} is not a GitHub login (letters, digits and single '-')")
        lowered = [login.lower() for login in value]
        if len(set(lowered)) != len(lowered):
            raise ValueError("a GitHub login is listed twice (logins compare without case)")
        return value

    def slack_user_for_github(self, login: str) -> str | None:
        """The person a GitHub login acts as (logins compare without case, as on GitHub), or ``None``."""
        wanted = login.lower()
        return next((uid for name, uid in self.github_users.items() if name.lower() == wanted), None)


@dataclass(frozen=True)
class AppPolicy:
    """One app's access rules; ``access is None`` when the config has no ``access`` section (open)."""

    app: str
    environments: tuple[str, ...]
    access: AccessConfig | None = None
    previews: bool = False  # the app has a previews section (help shows the preview commands)

    @property
    def open(self) -> bool:
        return self.access is None


def parse_access(data: Any, app: str, environments: tuple[str, ...], source: str = "<config>") -> AppPolicy:
    """Validate a raw ``access`` mapping for ``app``; raises :class:`ConfigError` naming each key path."""
    if data is None or data == {}:
        return AppPolicy(app, environments)
    if not isinstance(data, dict):
        raise ConfigError(source, ["access: expected a mapping with admins, groups, environments, freeze"])
    try:
        access = AccessConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [f"access.{line}" for line in format_validation_error(exc)]) from exc
    problems = []
    for name in access.environments:
        if name not in environments:
            problems.append(f"access.environments.{name}: {_not_an_environment(name, app, environments)}")
    for i, window in enumerate(access.freeze):
        for j, name in enumerate(window.environments):
            if name != "*" and name not in environments:
                problems.append(f"access.freeze[{i}].environments[{j}]: {_not_an_environment(name, app, environments)}")
    if problems:
        raise ConfigError(source, problems)
    return AppPolicy(app, environments, access)


def _not_an_environment(name: str, app: str, environments: tuple[str, ...]) -> str:
    near = did_you_mean(name, environments)
    tip = f"; did you mean {near!r}?" if near else f"; environments are {', '.join(environments)}"
    return f"{name!r} is not an environment of {app}{tip}"


def policy_for(config: Config, source: str | None = None) -> AppPolicy:
    """The access policy of one app's config."""
    policy = parse_access(config.access, config.app, tuple(config.environments), source or f"{config.app} config")
    return replace(policy, previews=config.previews is not None)
