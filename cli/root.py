"""The composition root: the one place the real pieces are built and wired together.

- :func:`build_engine` is the only place an :class:`~deploy.engine.Engine` is built (the operator commands and the bot
  both use it);
- :func:`serve` (``shipbot run``, and the bot inside ``shipbot demo``) loads every app's config, opens the store,
  builds one engine per app, repairs what runs of a dead process left (reported in each run's channel), the command
  language's service, the Slack app, and the ops server, then connects over Socket Mode (default) or serves the
  Events API over HTTP. On SIGTERM or SIGINT, when another replica serves from the same store
  (:mod:`deploy.presence`), it first closes its Socket Mode connection (or HTTP listener), so Slack hands new
  events to that replica, and answers what it already received; alone, it keeps the connection and refuses new
  commands. It hands the runs that wait for a person to the next shipbot (their leases are freed), lets running
  deploys finish within the grace period or cancels and reverts them (SHIPBOT_ON_SHUTDOWN), says so in the run's
  channel, and returns.
  Several replicas may share one store and one Slack app: each takes over the runs of a dead or stopped one on its
  timer (the lease expired or was handed over), and a Cancel, Continue or Abort for a run another process drives
  is passed to it through the store (:mod:`deploy.controls`).
  Approvals and the queue are rows in the store: at start-up the bot finds the approval messages still waiting
  (their buttons keep working) and picks up what a stopped process left; every :data:`POLL_EVERY` seconds it
  expires approvals, moves any line whose environment a run (from here or the CLI) has freed, removes previews
  past their time to live, deploys pushes parked behind a run or a freeze that has ended, and every
  ``converge_interval`` lets each environment with ``converge: auto`` catch up hosts discovery found behind.
  With ``SHIPBOT_WEBHOOK_PORT`` it serves the push webhooks (:mod:`webhooks.server`) into the service's push use
  case; branches with ``auto_deploy.poll`` are fetched by one poller task each. Pushes of preview branches go to
  ``Running.service.previews``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.app import SlackBot
from bot.deliveries import Deliveries
from bot.groups import SlackGroups
from bot.preview_blocks import PreviewPoster
from bot.run_reports import SlackRunReporter
from bot.slack_calls import make_client, safe
from cli import logs
from cli.health import SlackHealth
from cli.metrics import Metrics
from cli.ops_server import start_ops_server
from cli.settings import OperatorSettings, Settings
from commands.usecases import ChatService
from commands.usecases.polling import BranchPoller, Watch
from deploy.config import Config, load_config
from deploy.engine import Engine
from deploy.errors import ConfigError
from deploy.ids import new_run_id
from deploy.preview_runner import PreviewRunner
from deploy.repair import RepairReport
from deploy.ssh import SshConnector
from deploy.store import Store
from webhooks.server import start_webhook_server

log = structlog.get_logger("shipbot.bot")
POLL_EVERY = 2.0  # seconds between looks at the store for dead runs, freed environments and due approvals
ANSWER_GRACE = 10.0  # seconds a stopping bot waits for the commands it received to be answered
PRESENT_WITHIN = 3 * POLL_EVERY + 2  # another bot seen this recently serves too (it writes every POLL_EVERY)


@dataclass
class Running:
    """Handles to a started bot, for the demo and for tests."""

    bot: SlackBot
    service: ChatService
    store: Store
    metrics: Metrics
    ops_port: int
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    connected: Callable[[], bool] = lambda: False
    webhook_port: int | None = None


def open_store(settings: OperatorSettings, data_dir: Path) -> Store:
    """The store on SHIPBOT_DATABASE_URL, else on the SQLite file in ``data_dir``; its schema migrated to the newest
    revision (expand-first migrations: the previous release keeps working on the upgraded database)."""
    store = Store.in_data_dir(data_dir, settings.lease_ttl, settings.database)
    log.info("store_opened", database=settings.database_shown if settings.database else str(store.path))
    return store


def build_engine(config: Config, store: Store, data_dir: Path, config_file: Path | None = None) -> Engine:
    """The engine for one app: the real SSH connector, the shared store, state under ``data_dir``; inventory
    commands run in the folder of ``config_file``."""
    folder = config_file.resolve().parent if config_file is not None else None
    return Engine(config, store, data_dir, SshConnector, folder=folder)


def build_previews(engine: Engine, store: Store) -> PreviewRunner:
    """The previews of one app (its ``previews`` section; idle without one): the engine's mirror, the real SSH
    connector, the shared store."""
    return PreviewRunner(engine.config, store.previews, engine.mirror, SshConnector)


def connection_problems(config: Config) -> list[str]:
    """What in the config keeps the SSH connector from being built (a named key file that does not exist)."""
    try:
        SshConnector(config.ssh)
    except ConfigError as exc:
        return exc.problems
    return []


def _init_sentry(settings: Settings) -> None:
    if settings.sentry_dsn is not None and not logs.init_sentry(settings.sentry_dsn.get_secret_value()):
        log.warning("sentry_not_installed", hint="pip install 'shipbot[sentry]'")


async def serve(
    settings: Settings,
    ready: Callable[[Running], Awaitable[None]] | None = None,
) -> None:
    """Run the bot until SIGTERM/SIGINT (or ``Running.stop`` is set)."""
    _init_sentry(settings)
    configs = [(load_config(path), Path(path)) for path in settings.config_files]
    store = open_store(settings, settings.data_dir)
    store.controls.prune()
    store.presence.beat(store.owner)
    engines = {c.app: build_engine(c, store, settings.data_dir, path) for c, path in configs}
    metrics = Metrics()
    store.db.timings.observe = metrics.store_call
    repairs = await _repair(engines, metrics)
    client = make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url, metrics)
    auth = await client.auth_test()
    bot_user_id = str(auth.get("user_id", ""))
    reporter = SlackRunReporter(client, metrics, engines, settings.update_interval, store.ledger)
    service = ChatService(
        engines,
        dict.fromkeys(engines, store),
        SlackGroups(client, metrics),
        reporter,
        waiting=store.waiting,
        bot_user_id=bot_user_id,
        run_ids=new_run_id,
        previews={app: build_previews(engine, store) for app, engine in engines.items()},
        preview_notify=PreviewPoster(client, metrics),
        push_ledger=store.pushes,
        push_reporter=reporter,
        tags={app: engine.mirror for app, engine in engines.items()},
    )
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    deliveries = Deliveries(store.db)
    bot = SlackBot(
        client, service, deliveries, reporter, metrics,
        signing_secret=secret if settings.mode == "http" else None, dedupe_ttl=settings.dedupe_ttl,
    )  # fmt: skip
    for run_id, channel, ts in service.approval_messages():
        reporter.track_approval(run_id, channel, ts)

    socket: AsyncSocketModeHandler | None = None
    http_runner: web.AppRunner | None = None
    hooks_runner: web.AppRunner | None = None

    health = SlackHealth(settings.mode, signing_secret=bool(secret), grace=settings.socket_grace)

    def connected() -> bool:
        if socket is not None:
            client = socket.client
            session = getattr(client, "current_session", None)
            up = not client.closed and session is not None and not session.closed
        else:
            up = http_runner is not None
        return health.check(accepting=bot.accepting, connected=up)

    ops_runner, ops_port = await start_ops_server(
        metrics, settings.ops_host, settings.ops_port, connected, store.db.ping
    )
    running = Running(bot, service, store, metrics, ops_port, connected=connected)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, running.stop.set)
    try:
        if settings.mode == "socket":
            assert settings.slack_app_token is not None
            socket = AsyncSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value(), web_client=client)
            await socket.connect_async()  # type: ignore[no-untyped-call]
        else:
            http_runner = await _serve_http(bot, settings)
        log.info("bot_started", mode=settings.mode, bot_user_id=bot_user_id, apps=sorted(engines), ops_port=ops_port)
        name = replica_name(store.owner)
        await reporter.repaired(repairs, name)
        _expire_taken_over(service, engines, store, repairs)
        await service.pick_up()

        told: dict[str, str] = {r.run.run_id: r.message for r in repairs}

        async def take_over() -> None:
            """Runs whose lease expired, or that a stopping replica handed over, are taken over here (a repair that
            failed, tried again on every tick, is reported again only when its outcome changes); approval messages
            posted here and decided by another replica lose their buttons."""
            store.presence.beat(store.owner)
            found = await _repair(engines, metrics)
            new = [r for r in found if told.get(r.run.run_id) != r.message]
            told.update((r.run.run_id, r.message) for r in new)
            await reporter.repaired(new, name)
            _expire_taken_over(service, engines, store, found)
            for run_id, verdict, by in service.approvals_decided(list(reporter.approval_messages)):
                await reporter.decided_elsewhere(run_id, verdict, by)

        sweeper = asyncio.create_task(_sweep(service, running.stop, take_over), name="waiting-sweeper")
        sweeper = asyncio.create_task(_sweep(service, running.stop, take_over), name="waiting-sweeper")
        converger = asyncio.create_task(_converge(service, engines, running.stop), name="auto-converge")
        pollers: list[asyncio.Task[None]] = []
        if service.pushes is not None:
            if settings.webhook_port is not None and settings.webhook_secret is not None:
                hooks_runner, running.webhook_port = await start_webhook_server(
                    service.pushes, settings.webhook_secret.get_secret_value(), settings.webhook_host,
                    settings.webhook_port,
                )  # fmt: skip
                log.info("webhooks_listening", host=settings.webhook_host, port=running.webhook_port)
            poller = BranchPoller(engines, service.pushes)
            pollers = [
                asyncio.create_task(_poll(poller, w, running.stop), name=f"poll-{w.app}-{w.branch}")
                for w in poller.watches()
            ]
        if ready is not None:
            await ready(running)
        await running.stop.wait()
        await sweeper
        await converger
        await asyncio.gather(*pollers)
    finally:
        if hooks_runner is not None:
            await hooks_runner.cleanup()

        async def stop_listening() -> None:
            """First of all, so that Slack hands new events to another replica's connection."""
            nonlocal http_runner
            if socket is not None:
                with contextlib.suppress(Exception):
                    await socket.close_async()  # type: ignore[no-untyped-call]
            if http_runner is not None:
                await http_runner.cleanup()
                http_runner = None

        others = store.presence.others(store.owner, PRESENT_WITHIN)
        store.presence.leave(store.owner)
        await _shutdown(settings, running, reporter, stop_listening if others else None)
        await stop_listening()
        await ops_runner.cleanup()
        deliveries.close()
        store.close()
        log.info("bot_stopped")


def replica_name(owner: str) -> str:
    """How a run's message names this process: its host and pid (the lease owner id without its random part)."""
    return owner.rsplit(":", 1)[0]


async def _repair(engines: dict[str, Engine], metrics: Metrics) -> list[RepairReport]:
    """Take over and repair what runs of a dead process left (see :mod:`deploy.repair`): at start-up, before
    taking commands, and then on the sweeper's timer (another replica died, or a stopping one handed runs over)."""
    reports = []
    for engine in engines.values():
        for r in await engine.recover():
            log.warning("run_repaired", run_id=r.run.run_id, environment=r.run.environment, ok=r.ok, message=r.message)
            metrics.lease_taken_over("waiting" if r.waiting else "repaired" if r.ok else "not_repaired")
            reports.append(r)
    return reports


def _expire_taken_over(
    service: ChatService, engines: dict[str, Engine], store: Store, repairs: list[RepairReport]
) -> None:
    """A run taken over while it waits at a pause is aborted when nobody answers within the app's pause timeout,
    counted from this start (the store does not keep when the pause began); reported where its message is."""
    for r in repairs:
        if r.waiting:
            place = store.ledger.place_of(r.run.run_id)
            timeout = engines[r.run.app].config.timeouts.pause
            service.expire_taken_over(r.run.run_id, place[0] if place else "", timeout)


async def _sweep(service: ChatService, stop: asyncio.Event, take_over: Callable[[], Awaitable[None]]) -> None:
    """On a timer: take over the runs of dead or stopped replicas (``take_over``), answer the control requests for
    the waiting runs held here, expire pending approvals (requesters hear of it without anyone writing), move the
    lines whose environment was freed, also by a run in another process (the store is polled), and remove previews
    whose time to live ran out (kept in the store, so a restart does not reset it)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_EVERY)
        if not stop.is_set():
            try:
                await take_over()
                await service.act_on_requests()
                await service.sweep()
                await service.advance()
            except Exception:  # the sweeper must outlive a failing notice
                log.exception("waiting_sweep_failed")
            try:
                await service.previews.expire()
            except Exception:  # nor may a preview that cannot be removed stop it
                log.exception("preview_expiry_failed")


async def _converge(service: ChatService, engines: dict[str, Engine], stop: asyncio.Event) -> None:
    """``converge: auto``: each such environment is looked at every ``converge_interval`` (first at start-up), and
    its hosts that discovery finds behind the live release get it (:meth:`ChatService.auto_converge`)."""
    due = {
        (app, name): 0.0
        for app, engine in engines.items()
        for name, env in engine.config.environments.items()
        if env.converge == "auto"
    }
    loop = asyncio.get_running_loop()
    while due and not stop.is_set():
        for (app, name), at in due.items():
            if at > loop.time() or stop.is_set():
                continue
            due[app, name] = loop.time() + engines[app].config.environments[name].converge_interval
            try:
                await service.auto_converge(app, name)
            except Exception:  # the loop must outlive one environment's failure
                log.exception("auto_converge_failed", app=app, environment=name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.1, min(POLL_EVERY, min(due.values()) - loop.time())))


async def _poll(poller: BranchPoller, watch: Watch, stop: asyncio.Event) -> None:
    """Fetch ``watch``'s branch every ``watch.interval`` seconds; a moved branch is handled like a push."""
    with structlog.contextvars.bound_contextvars(app=watch.app, branch=watch.branch):
        while not stop.is_set():
            try:
                await poller.poll(watch)
            except Exception:  # a repository that cannot be fetched now is tried again next time
                log.exception("branch_poll_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), watch.interval)


async def _shutdown(
    settings: Settings,
    running: Running,
    reporter: SlackRunReporter,
    stop_listening: Callable[[], Awaitable[None]] | None,
) -> None:
    """Stop taking commands: with another replica serving (``stop_listening`` given) the Socket Mode connection or
    the HTTP listener is closed first, so Slack sends everything to it, and the commands already received are
    answered; alone, the connection stays open until the runs have ended, new commands are refused and the buttons
    of running deploys answered. Leave the runs waiting for a person to the next shipbot; finish or
    cancel-and-revert running deploys; say so in their channels; return."""
    if stop_listening is not None:
        await stop_listening()
        log.info("bot_not_listening", answering=running.bot.in_flight)
    running.bot.accepting = False
    if stop_listening is not None:
        await running.bot.idle(ANSWER_GRACE)
    handed = set(running.service.hand_over())
    active = running.service.supervisor.active()
    log.info("bot_stopping", active_runs=len(active), handed_over=sorted(handed), on_shutdown=settings.on_shutdown)
    cancel = settings.on_shutdown == "cancel"
    what = (
        "cancelling this run and putting every host back"
        if cancel
        else f"letting this run finish first (up to {settings.shutdown_grace:g}s)"
    )
    for run_id, report in list(reporter.reports.items()):
        if report.view.finished is None and report.ts is not None and run_id not in handed:
            await safe(
                running.metrics,
                "chat.postMessage",
                reporter.client.chat_postMessage(
                    channel=report.view.channel, thread_ts=report.ts, reply_broadcast=True,
                    text=f":warning: shipbot is restarting: {what}.",
                ),
            )  # fmt: skip
    try:
        await asyncio.wait_for(running.service.shutdown(cancel=cancel), None if cancel else settings.shutdown_grace)
    except TimeoutError:
        log.warning("shutdown_grace_over", cancelling=len(running.service.supervisor.active()))
        await running.service.shutdown(cancel=True)
    await reporter.drain()


async def _serve_http(bot: SlackBot, settings: Settings) -> web.AppRunner:
    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bot.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    return runner
