"""The ops HTTP server on SHIPBOT_OPS_PORT: ``/healthz`` for orchestrators and ``/metrics`` for Prometheus.

``/healthz`` answers ``{"ok": ..., "slack": ..., "database": {"ok": ..., "latency_ms": ...}}``: 200 while the bot can
serve Slack and the database answers a ``SELECT 1`` within :data:`PING_TIMEOUT` seconds, else 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from cli.metrics import Metrics

log = structlog.get_logger("shipbot.ops")
PING_TIMEOUT = 5.0


async def database_check(ping: Callable[[], float] | None, metrics: Metrics) -> dict[str, object]:
    """Run ``ping`` (a blocking ``SELECT 1``) off the event loop; what ``/healthz`` says of the database."""
    if ping is None:
        return {"ok": True}
    try:
        latency = await asyncio.wait_for(asyncio.to_thread(ping), PING_TIMEOUT)
    except Exception as exc:  # whatever the driver raises, the answer is "the database is down"
        log.warning("database_unreachable", error=type(exc).__name__)
        metrics.database_checked(None)
        return {"ok": False, "error": type(exc).__name__}
    metrics.database_checked(latency)
    return {"ok": True, "latency_ms": round(latency * 1000, 3)}


async def start_ops_server(
    metrics: Metrics,
    host: str,
    port: int,
    healthy: Callable[[], bool],
    database: Callable[[], float] | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve /healthz (200 while the bot is connected and accepting commands and the database answers, else 503)
    and /metrics. ``database``: a blocking ping returning its latency in seconds (raises when the database is down)."""

    async def healthz(_: web.Request) -> web.Response:
        slack = healthy()
        db = await database_check(database, metrics)
        ok = slack and bool(db["ok"])
        return web.json_response({"ok": ok, "slack": slack, "database": db}, status=200 if ok else 503)

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
