"""Prometheus metrics and the ops HTTP server (``/healthz``, ``/metrics``) on SHIPBOT_OPS_PORT."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
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

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def start_ops_server(
    metrics: Metrics, host: str, port: int, healthy: Callable[[], bool]
) -> tuple[web.AppRunner, int]:
    """Serve /healthz (200 while the bot is connected and accepting commands, else 503) and /metrics."""

    async def healthz(_: web.Request) -> web.Response:
        ok = healthy()
        return web.json_response({"ok": ok}, status=200 if ok else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
