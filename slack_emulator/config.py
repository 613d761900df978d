"""Emulator settings.

One frozen-ish dataclass gathers every knob the emulator exposes: the tokens the app must
present, the Socket Mode acknowledgement window and retry count, the optional HTTP request
URL (which switches delivery from Socket Mode to signed HTTP POSTs) and a few behaviour
switches. Everything has a default so that ``EmulatorConfig()`` is a usable local Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_emulator.limits import RateRule, slack_default_rules


@dataclass
class EmulatorConfig:
    """Settings for one emulator instance."""

    # Fixed, well-known local credentials: the emulator is never a real Slack.
    bot_token: str = "xoxb-0000000001-emulator-bot-token"  # noqa: S105
    app_token: str = "xapp-1-A0SHIPBOT-0000000001-emulator-app-token"  # noqa: S105
    signing_secret: str = "emulator-signing-secret-0000000001"  # noqa: S105
    verification_token: str = "emulator-verification-token"  # noqa: S105
    #: Seconds the app has to acknowledge an envelope (Slack: 3 s).
    ack_timeout: float = 3.0
    #: How many times an unacknowledged event is re-delivered (Slack: 3).
    max_retries: int = 3
    #: When set, deliver over HTTP to this URL instead of Socket Mode.
    request_url: str | None = None
    #: Seconds between a ``disconnect`` frame and the server closing that socket itself.
    disconnect_grace: float = 10.0
    #: Send ``message`` events for the bot's own posts, as Slack does.
    echo_bot_messages: bool = False
    #: How often one response_url may be used (Slack: 5 times within 30 minutes).
    response_url_max_uses: int = 5
    response_url_ttl: float = 30 * 60.0
    rate_rules: list[RateRule] = field(default_factory=slack_default_rules)


@dataclass
class Urls:
    """Where the emulator listens; filled in once the socket is bound."""

    base: str = "http://127.0.0.1:0"

    @property
    def api(self) -> str:
        """``base_url`` for slack_sdk's web clients."""
        return self.base + "/api/"

    @property
    def ws(self) -> str:
        return "ws" + self.base.removeprefix("http")
