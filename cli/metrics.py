"""Prometheus metrics: the registry behind ``/metrics``, recording what :class:`bot.metrics.BotMetrics` reports."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

SINKS = ("webhook", "teams", "irc", "github", "gitlab")  # the outbox's sinks (deploy.notify.outbox)
STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """Implements :class:`bot.metrics.BotMetrics` with Prometheus counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "shipbot_runs_total", "Runs by kind, environment and outcome", ["kind", "environment", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.run_duration = Histogram(
            "shipbot_run_duration_seconds", "Run duration", ["kind", "environment"], registry=self.registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
        )  # fmt: skip
        self.run_hosts = Histogram(
            "shipbot_run_hosts", "Hosts per run", registry=self.registry, buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500)
        )
        self.slack_errors = Counter(
            "shipbot_slack_api_errors_total", "Slack Web API calls that failed", ["method", "error"],
            registry=self.registry,
        )  # fmt: skip
        self.slack_retries = Counter(
            "shipbot_slack_api_retries_total", "Slack Web API calls retried (429 or connection)", ["reason"],
            registry=self.registry,
        )  # fmt: skip
        self.commands = Counter(
            "shipbot_commands_total", "Chat commands by command word and result", ["command", "result"],
            registry=self.registry,
        )  # fmt: skip

        self.store_seconds = Histogram(
            "shipbot_store_seconds", "Store calls (one statement, or one transaction) by kind", ["kind"],
            registry=self.registry, buckets=STORE_BUCKETS,
        )  # fmt: skip
        self.database_ping = Gauge(
            "shipbot_database_ping_seconds", "Latency of the last SELECT 1 /healthz sent to the database",
            registry=self.registry,
        )  # fmt: skip
        self.database_up = Gauge(
            "shipbot_database_up", "1 when the database answered the last /healthz check, else 0",
            registry=self.registry,
        )  # fmt: skip
        self.takeovers = Counter(
            "shipbot_lease_takeovers_total",
            "Runs whose lease this process took over from a dead or stopped one, by what became of them",
            ["outcome"], registry=self.registry,
        )  # fmt: skip

        self.notifications = Counter(
            "shipbot_notifications_total", "Notification attempts by sink and outcome (delivered, retried, gave_up)",
            ["sink", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.notifications_waiting = Gauge(
            "shipbot_notifications_pending", "Notifications in the outbox not yet delivered nor given up, by sink",
            ["sink"], registry=self.registry,
        )  # fmt: skip

    def notification_sent(self, sink: str, outcome: str) -> None:
        self.notifications.labels(sink, outcome).inc()

    def notifications_pending(self, counts: dict[str, int]) -> None:
        for sink in SINKS:
            self.notifications_waiting.labels(sink).set(counts.get(sink, 0))

    def store_call(self, kind: str, seconds: float) -> None:
        self.store_seconds.labels(kind).observe(seconds)

    def database_checked(self, latency: float | None) -> None:
        self.database_up.set(0 if latency is None else 1)
        if latency is not None:
            self.database_ping.set(latency)

    def lease_taken_over(self, outcome: str) -> None:
        """``outcome``: ``waiting`` (kept waiting for a person), ``repaired`` or ``not_repaired``."""
        self.takeovers.labels(outcome).inc()

    def command_answered(self, command: str, result: str) -> None:
        self.commands.labels(command, result).inc()

    def run_finished(self, kind: str, environment: str, outcome: str, duration: float, hosts: int) -> None:
        self.runs.labels(kind, environment, outcome).inc()
        self.run_duration.labels(kind, environment).observe(duration)
        self.run_hosts.observe(hosts)

    def slack_call_failed(self, method: str, error: str) -> None:
        self.slack_errors.labels(method, error).inc()

    def slack_call_retried(self, reason: str) -> None:
        self.slack_retries.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
