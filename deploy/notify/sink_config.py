"""Where a deploy's events go besides Slack: the entries of an environment's ``notify:`` list and an app's
``deployments:`` block, as pydantic models (:mod:`deploy.config.sections` and :mod:`deploy.config.models` take them in).

``notify:`` keeps its old meaning for a plain string (a Slack channel id); a mapping is one sink::

    notify:
      - C0123456                                             # a Slack channel (as before)
      - webhook: https://hooks.example.com/shipbot           # Standard Webhooks, signed with the secret in
        secret_env: SHIPBOT_HOOK_SECRET                      #   $SHIPBOT_HOOK_SECRET (whsec_ + base64)
      - teams: {url_env: TEAMS_DEPLOYS_URL}                  # a Teams Workflows webhook, an Adaptive Card per event
      - irc: {server: irc.example.com, port: 6697, tls: true, channel: "#deploys", password_env: IRC_PASS}

Secrets are never in the file: only the names of the controller's environment variables that hold them
(``secret_env``, ``url_env``, ``token_env``, ``password_env``). :func:`deploy.config.models.secret_problems` says which
of those are not set (``shipbot check``); the sender reads them when it delivers, and nothing logs or shows their
values. Each sink's :meth:`target` is what the outbox stores with a notification: the sink's settings without a secret.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s'\"<>]*)?")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
_CHANNEL = re.compile(r"[#&][^\s,\x00-\x1f\x7f]{1,49}")
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}")


class _Sink(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name (letters, digits, _; not a digit first)")
    return value


def _url(value: str) -> str:
    if not _URL.fullmatch(value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
Url = Annotated[str, AfterValidator(_url)]


class WebhookSink(_Sink):
    """A Standard Webhooks endpoint: each event POSTed as JSON, signed (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``) with the ``whsec_`` secret in the variable ``secret_env``."""

    webhook: Url = Field(description="the receiver's http:// or https:// URL")
    secret_env: EnvName = Field(description="the variable holding the signing secret (whsec_ followed by base64)")

    kind: ClassVar[str] = "webhook"

    def target(self) -> dict[str, Any]:
        return {"url": self.webhook, "secret_env": self.secret_env}

    def secrets(self) -> dict[str, str]:
        return {"secret_env": self.secret_env}


class TeamsSettings(_Sink):
    url_env: EnvName = Field(description="the variable holding the Workflows webhook's URL (the URL is the secret)")


class TeamsSink(_Sink):
    """A Microsoft Teams channel through a Workflows webhook ("When a Teams webhook request is received")."""

    teams: TeamsSettings
    kind: ClassVar[str] = "teams"

    def target(self) -> dict[str, Any]:
        return {"url_env": self.teams.url_env}

    def secrets(self) -> dict[str, str]:
        return {"teams.url_env": self.teams.url_env}


class IrcSettings(_Sink):
    server: str
    port: int = Field(6697, ge=1, le=65535)
    tls: bool = True
    channel: str = Field(description='e.g. "#deploys" (quote it: YAML reads # as a comment)')
    nick: str = "shipbot"
    password_env: EnvName | None = Field(None, description="the variable holding the server password (PASS), if any")

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        if not _HOST.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name or IP address")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL.fullmatch(value):
            raise ValueError(f"{value!r} is not an IRC channel (# or & then no spaces or commas)")
        return value

    @field_validator("nick")
    @classmethod
    def _nick(cls, value: str) -> str:
        if not _NICK.fullmatch(value):
            raise ValueError(f"{value!r} is not an IRC nick (letters, digits, -[]\\`_^{{|}}, not a digit first)")
        return value


class IrcSink(_Sink):
    """An IRC channel: shipbot connects, joins, says one line per event and quits."""

    irc: IrcSettings
    kind: ClassVar[str] = "irc"

    def target(self) -> dict[str, Any]:
        return self.irc.model_dump()

    def secrets(self) -> dict[str, str]:
        return {"irc.password_env": self.irc.password_env} if self.irc.password_env else {}


def _sink_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "slack"
    if isinstance(value, dict):
        found = [k for k in ("webhook", "teams", "irc") if k in value]
        return found[0] if len(found) == 1 else None
    return getattr(value, "kind", None)


Sink = WebhookSink | TeamsSink | IrcSink

NotifyEntry = Annotated[
    Annotated[str, Tag("slack")]
    | Annotated[WebhookSink, Tag("webhook")]
    | Annotated[TeamsSink, Tag("teams")]
    | Annotated[IrcSink, Tag("irc")],
    Discriminator(
        _sink_kind,
        custom_error_type="notify_entry",
        custom_error_message="each entry is a Slack channel id, or one of {webhook: URL, secret_env: VAR}, "
        "{teams: {url_env: VAR}}, {irc: {server: HOST, channel: '#name', ...}}",
    ),
]


def slack_channels(entries: list[str | Sink]) -> tuple[str, ...]:
    """The Slack channels of a ``notify:`` list, in order (the first is "the notify channel")."""
    return tuple(e for e in entries if isinstance(e, str))


def sinks(entries: list[str | Sink]) -> tuple[Sink, ...]:
    return tuple(e for e in entries if not isinstance(e, str))
