"""The one exception the emulator's handlers raise for a refused request."""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A request Slack would refuse: ``error`` is Slack's error string, ``status`` the HTTP status."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}
