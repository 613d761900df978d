"""The ops HTTP server on SHIPBOT_OPS_PORT: ``/healthz`` for orchestrators and ``/metrics`` for Prometheus."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from cli.metrics import Metrics


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
