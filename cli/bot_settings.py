"""The settings of ``shipbot run`` (and the demo's bot): :class:`cli.settings.OperatorSettings` and what talking
to Slack and serving need, read by pydantic-settings (see :mod:`cli.settings` for every variable and the rules they
follow). In a module of their own, so that the operator commands never load pydantic-settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cli.settings import FORGE_SECRETS, SHARED_SECRET, OperatorSettings, without_blanks

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


class Settings(BaseSettings, OperatorSettings):
    """What ``shipbot run`` (and the demo's bot) needs beyond :class:`OperatorSettings`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True, env_ignore_empty=True)
    reads_environment: ClassVar[bool] = False  # pydantic-settings has

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
        data = without_blanks(data)
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
