"""What the Slack adapter counts, as a small Protocol; the process that runs the bot supplies the implementation.

The adapter never names a metrics library: it reports commands answered, runs finished and Slack calls that failed or
were retried through :class:`BotMetrics`, and the composition root hands it an object that records them (Prometheus
in ``cli/metrics.py``).
"""

from __future__ import annotations

from typing import Protocol


class BotMetrics(Protocol):
    def command_answered(self, command: str, result: str) -> None:
        """A chat command (or a button: ``command`` is ``"button"``) was answered with a reply of type ``result``."""

    def run_finished(self, kind: str, environment: str, outcome: str, duration: float, hosts: int) -> None:
        """A run's report saw the run end."""

    def slack_call_failed(self, method: str, error: str) -> None:
        """A Slack Web API call failed (after its retries)."""

    def slack_call_retried(self, reason: str) -> None:
        """A Slack Web API call is retried (``ratelimited`` or ``connection``)."""
