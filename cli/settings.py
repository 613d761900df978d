"""Settings from the environment (twelve-factor), validated with pydantic-settings: the one place ``SHIPBOT_*``
variables are read.

- :class:`OperatorSettings` is what every ``shipbot`` command reads: the config file(s), the state folder, the log
  format and level (each command picks its own default when unset), where ``shipbot demo`` keeps its data and
  serves its page, how long a run's lease lives without a heartbeat (``SHIPBOT_LEASE_TTL``), the database
  (``SHIPBOT_DATABASE_URL``: PostgreSQL shared by replicas; unset, the SQLite file in the data dir) and how long one
  of its statements may take before it fails as "the store is not answering" (``SHIPBOT_DB_STATEMENT_TIMEOUT``).
- :class:`Settings` adds what ``shipbot run`` needs to talk to Slack and to serve: tokens, mode, ports, shutdown,
  and the push webhooks (``SHIPBOT_WEBHOOK_PORT``, off when unset; then each forge's own secret,
  ``SHIPBOT_WEBHOOK_SECRET_GITHUB``, ``_GITLAB``, ``_GITEA``, at least one of them; the old shared
  ``SHIPBOT_WEBHOOK_SECRET`` still keys GitHub's and Gitea's HMAC, never GitLab's plaintext token).

Every setting is listed with a comment in ``.env.example``. Tokens and the database URL are ``SecretStr``: they
never appear in logs, reprs or error messages. A missing or invalid setting becomes one clear line naming the variable
(:func:`settings_problems`), all of them at once. Empty is missing: ``SLACK_SIGNING_SECRET=`` or
``SHIPBOT_DATA_DIR=`` count as unset, so the default or the "is not set" line applies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidatorFunctionWrapHandler, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

STATEMENT_TIMEOUT = (
    5.0  # deploy.store.database.STATEMENT_TIMEOUT (its module loads SQLAlchemy: read settings without it)
)

#: What each required setting is and where to get it, for the line that says it is missing.
NEEDED = {
    "SLACK_BOT_TOKEN": "the bot token (xoxb-...) from your Slack app's OAuth & Permissions page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) with connections:write; Socket Mode (the default) needs it",
    "SLACK_SIGNING_SECRET": "the signing secret from your Slack app's Basic Information page; "
    "HTTP mode (SHIPBOT_MODE=http) needs it",
    "SHIPBOT_WEBHOOK_SECRET_GITHUB": "the secret your GitHub webhooks are configured with (or set "
    "SHIPBOT_WEBHOOK_SECRET_GITLAB or SHIPBOT_WEBHOOK_SECRET_GITEA for those forges); SHIPBOT_WEBHOOK_PORT needs "
    "the secret of at least one forge",
}
FORGE_SECRETS = {
    "github": "SHIPBOT_WEBHOOK_SECRET_GITHUB",
    "gitlab": "SHIPBOT_WEBHOOK_SECRET_GITLAB",
    "gitea": "SHIPBOT_WEBHOOK_SECRET_GITEA",
}
SHARED_SECRET = "SHIPBOT_WEBHOOK_SECRET"  # noqa: S105 (the variable's name, not a secret)
_SECRET_FIELDS = {
    "SHIPBOT_WEBHOOK_SECRET_GITHUB": "webhook_secret_github",
    "SHIPBOT_WEBHOOK_SECRET_GITLAB": "webhook_secret_gitlab",
    "SHIPBOT_WEBHOOK_SECRET_GITEA": "webhook_secret_gitea",
    "SHIPBOT_WEBHOOK_SECRET": "webhook_secret",
}
_MODE_NEEDS = {
    "socket": ("SLACK_APP_TOKEN", "slack_app_token"),
    "http": ("SLACK_SIGNING_SECRET", "slack_signing_secret"),
}


def _blank(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return isinstance(value, str) and not value.strip()


def _without_blanks(data: Any) -> Any:
    """Empty is missing: ``SLACK_SIGNING_SECRET=`` is as unset as no line at all, so defaults and checks apply."""
    return {k: v for k, v in data.items() if not _blank(v)} if isinstance(data, dict) else data


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/shipbot``, or ``~/.local/share/shipbot``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shipbot"


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True, env_ignore_empty=True)

    config: str = Field("shipbot.yml", alias="SHIPBOT_CONFIG")
    data_dir: Path = Field(default_factory=default_data_dir, alias="SHIPBOT_DATA_DIR")
    log_format: str | None = Field(None, alias="SHIPBOT_LOG_FORMAT")
    log_level: str | None = Field(None, alias="SHIPBOT_LOG_LEVEL")
    demo_dir: Path = Field(Path(".shipbot-data/demo"), alias="SHIPBOT_DEMO_DIR")
    demo_port: int | None = Field(None, alias="SHIPBOT_DEMO_PORT", ge=0, le=65535)
    lease_ttl: float = Field(30.0, alias="SHIPBOT_LEASE_TTL", ge=1)
    statement_timeout: float = Field(STATEMENT_TIMEOUT, alias="SHIPBOT_DB_STATEMENT_TIMEOUT", gt=0, le=60)
    database_url: SecretStr | None = Field(None, alias="SHIPBOT_DATABASE_URL")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_missing(cls, data: Any) -> Any:
        return _without_blanks(data)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: SecretStr | None) -> SecretStr | None:
        """postgresql:// (and +psycopg, +asyncpg) or sqlite:///; never echoed back with its password."""
        if url is None:
            return None
        from deploy.store.ports import UnsupportedDatabase, normalise_url  # noqa: PLC0415 (SQLAlchemy's URL parser)

        try:
            return SecretStr(normalise_url(url.get_secret_value()))
        except UnsupportedDatabase as exc:
            raise ValueError(str(exc).removeprefix("SHIPBOT_DATABASE_URL ")) from None
        except Exception:
            raise ValueError("not a database URL: write postgresql://user:password@host:5432/shipbot") from None

    @property
    def database(self) -> str | None:
        """SHIPBOT_DATABASE_URL (normalised to the installed driver), or None for the SQLite file in the data dir."""
        return self.database_url.get_secret_value() if self.database_url else None

    @property
    def database_shown(self) -> str:
        """Where the store is, as it may be logged: the URL with its password masked, or the SQLite file."""
        from deploy.store.ports import masked  # noqa: PLC0415

        return masked(self.database) if self.database else str(self.data_dir / "shipbot.sqlite3")

    @field_validator("data_dir", "demo_dir")
    @classmethod
    def _expand_user(cls, path: Path) -> Path:
        return path.expanduser()

    @property
    def config_files(self) -> list[str]:
        """Every app's config file (SHIPBOT_CONFIG is a comma-separated list)."""
        return [p.strip() for p in self.config.split(",") if p.strip()]

    @property
    def first_config(self) -> str:
        """The config file a command for one app reads: the first of SHIPBOT_CONFIG."""
        return self.config.split(",")[0]


class Settings(OperatorSettings):
    """What ``shipbot run`` (and the demo's bot) needs beyond :class:`OperatorSettings`."""

    slack_bot_token: SecretStr = Field(alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    mode: Literal["socket", "http"] = Field("socket", alias="SHIPBOT_MODE")
    http_port: int = Field(3000, alias="SHIPBOT_HTTP_PORT", ge=1, le=65535)
    http_host: str = Field("0.0.0.0", alias="SHIPBOT_HTTP_HOST")  # noqa: S104 (the Events API must reach it)
    log_format: Literal["auto", "json", "console"] = Field("auto", alias="SHIPBOT_LOG_FORMAT")
    log_level: str = Field("INFO", alias="SHIPBOT_LOG_LEVEL")
    ops_port: int = Field(9102, alias="SHIPBOT_OPS_PORT", ge=0, le=65535)
    ops_host: str = Field("127.0.0.1", alias="SHIPBOT_OPS_HOST")
    on_shutdown: Literal["finish", "cancel"] = Field("finish", alias="SHIPBOT_ON_SHUTDOWN")
    shutdown_grace: float = Field(600.0, alias="SHIPBOT_SHUTDOWN_GRACE", ge=0)
    dedupe_ttl: float = Field(3600.0, alias="SHIPBOT_DEDUPE_TTL", ge=600)
    update_interval: float = Field(1.0, alias="SHIPBOT_UPDATE_INTERVAL", ge=0.1)
    socket_grace: float = Field(60.0, alias="SHIPBOT_SOCKET_GRACE", ge=0)
    sentry_dsn: SecretStr | None = Field(None, alias="SENTRY_DSN")
    webhook_port: int | None = Field(None, alias="SHIPBOT_WEBHOOK_PORT", ge=0, le=65535)
    webhook_host: str = Field("127.0.0.1", alias="SHIPBOT_WEBHOOK_HOST")
    webhook_secret: SecretStr | None = Field(None, alias="SHIPBOT_WEBHOOK_SECRET")  # GitHub and Gitea only
    webhook_secret_github: SecretStr | None = Field(None, alias="SHIPBOT_WEBHOOK_SECRET_GITHUB")
    webhook_secret_gitlab: SecretStr | None = Field(None, alias="SHIPBOT_WEBHOOK_SECRET_GITLAB")
    webhook_secret_gitea: SecretStr | None = Field(None, alias="SHIPBOT_WEBHOOK_SECRET_GITEA")

    @property
    def webhook_secrets(self) -> dict[str, str]:
        """Each forge's secret (forges without one are absent): its own variable, else for GitHub and Gitea (HMAC
        keys) the shared ``SHIPBOT_WEBHOOK_SECRET``; GitLab's plaintext token is only ever its own."""
        shared = self.webhook_secret.get_secret_value() if self.webhook_secret else None
        own = {"github": self.webhook_secret_github, "gitlab": self.webhook_secret_gitlab,
               "gitea": self.webhook_secret_gitea}  # fmt: skip
        out = {forge: secret.get_secret_value() for forge, secret in own.items() if secret is not None}
        if shared:
            out.setdefault("github", shared)
            out.setdefault("gitea", shared)
        return out

    @property
    def webhook_warning(self) -> str | None:
        """The start-up warning of a configuration still on the shared ``SHIPBOT_WEBHOOK_SECRET``."""
        if self.webhook_secret is None:
            return None
        return (
            f"{SHARED_SECRET} is used for GitHub and Gitea only (never as GitLab's token): give each forge its own, "
            f"{', '.join(FORGE_SECRETS.values())}, and unset {SHARED_SECRET}"
        )

    @model_validator(mode="wrap")
    @classmethod
    def _mode_needs(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Settings:
        """The token the chosen mode needs, reported beside every other problem (one line each)."""
        data = _without_blanks(data)
        needed: list[InitErrorDetails] = []
        if isinstance(data, dict):
            mode = data.get("SHIPBOT_MODE", data.get("mode", "socket"))
            alias, name = _MODE_NEEDS.get(str(mode), ("", ""))
            if alias and alias not in data and name not in data:
                error = PydanticCustomError("needed_by_mode", "{name} is needed in this mode", {"name": alias})
                needed.append(InitErrorDetails(type=error, loc=(alias,), input=None))
            webhooks = "SHIPBOT_WEBHOOK_PORT" in data or "webhook_port" in data
            if webhooks and not any(a in data or f in data for a, f in _SECRET_FIELDS.items()):
                name = FORGE_SECRETS["github"]
                error = PydanticCustomError("needed_by_mode", "{name} is needed", {"name": name})
                needed.append(InitErrorDetails(type=error, loc=(name,), input=None))
        try:
            settings: Settings = handler(data)
        except ValidationError as exc:
            errors = [InitErrorDetails(type=e["type"], loc=e["loc"], input=e["input"], ctx=e.get("ctx", {}))
                      for e in exc.errors()]  # fmt: skip
            raise ValidationError.from_exception_data(cls.__name__, [*errors, *needed]) from None
        if needed:
            raise ValidationError.from_exception_data(cls.__name__, needed)
        return settings


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per missing or invalid setting: what is wrong, where (the environment variable), what to do."""
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("missing", "needed_by_mode"):
            what = NEEDED.get(name, "a value")
            lines.append(f"{name} is not set (or empty) in the environment: set it to {what}; see .env.example")
        elif name:
            lines.append(f"{name} in the environment is invalid ({msg}): fix or unset it; see .env.example")
        else:
            lines.append(msg)
    return lines
