"""Settings from the environment (twelve-factor), validated with pydantic: the one place ``SHIPBOT_*`` variables are
read (:class:`Settings` in :mod:`cli.bot_settings`, with pydantic-settings).

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
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

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


def _blank(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return isinstance(value, str) and not value.strip()


def without_blanks(data: Any) -> Any:
    """Empty is missing: ``SLACK_SIGNING_SECRET=`` is as unset as no line at all, so defaults and checks apply."""
    return {k: v for k, v in data.items() if not _blank(v)} if isinstance(data, dict) else data


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/shipbot``, or ``~/.local/share/shipbot``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shipbot"


def environment(fields: dict[str, Any]) -> dict[str, str]:
    """The variables of the environment named by ``fields``' aliases (case-insensitively, as pydantic-settings
    reads them), empty ones left out."""
    wanted = {str(f.alias).upper(): str(f.alias) for f in fields.values() if f.alias}
    return {wanted[k.upper()]: v for k, v in os.environ.items() if k.upper() in wanted and not _blank(v)}


class OperatorSettings(BaseModel):
    """Read from the environment when made (``OperatorSettings()``; keywords win over the environment). A plain
    model, not pydantic-settings': every ``shipbot`` command starts by reading it, and pydantic-settings (with
    what it imports: asyncio among them) costs a command more than a tenth of its start. :class:`Settings` is
    read by pydantic-settings, with the same result for these fields."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    reads_environment: ClassVar[bool] = True  # False where pydantic-settings has read it (Settings)

    def __init__(self, **values: Any) -> None:
        read = environment(type(self).model_fields) if self.reads_environment else {}
        super().__init__(**{**read, **values})

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
        return without_blanks(data)

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
