"""The composition root: the one place the real pieces are built and wired together.

- :func:`~cli.engines.build_engine` is the only place an :class:`~deploy.run.engine.Engine` is built (the operator
  commands and the bot both use it), and where the store's outbox learns the app's sinks (its ``notify:`` entries
  and ``deployments:``);
- :func:`serve` (``shipbot run``, and the bot inside ``shipbot demo``) loads every app's config, opens the store,
  builds one engine per app, repairs what runs of a dead process left (reported in each run's channel), the command
  language's service, the Slack app, and the ops server, then connects over Socket Mode (default) or serves the
  Events API over HTTP. On SIGTERM or SIGINT, when another replica serves from the same store
  (:mod:`deploy.store.presence`), it first closes its Socket Mode connection (or HTTP listener), so Slack hands new
  events to that replica, and answers what it already received; alone, it keeps the connection and refuses new
  commands. It hands the runs that wait for a person to the next shipbot (their leases are freed), lets running
  deploys finish within the grace period or cancels and reverts them (SHIPBOT_ON_SHUTDOWN), says so in the run's
  channel, and returns.
  Several replicas may share one store and one Slack app: each takes over the runs of a dead or stopped one on its
  timer (the lease expired or was handed over), and a Cancel, Continue or Abort for a run another process drives
  is passed to it through the store (:mod:`deploy.store.control_requests`).
  What Slack sends is written to the store's inbox before it is acknowledged (:mod:`bot.app`); a timer renews what
  this bot holds there and answers what a dead replica left (every third of the lease TTL, at most
  :data:`~cli.loops.POLL_EVERY`), and keeps renewing while a stopping bot still answers.
  Approvals and the queue are rows in the store: at start-up the bot finds the approval messages still waiting
  (their buttons keep working) and picks up what a stopped process left; every :data:`~cli.loops.POLL_EVERY` seconds it
  expires approvals, moves any line whose environment a run (from here or the CLI) has freed, removes previews
  past their time to live, deploys pushes parked behind a run or a freeze that has ended, and every
  ``converge_interval`` lets each environment with ``converge: auto`` catch up hosts discovery found behind. Every
  :data:`~cli.loops.OUTBOX_EVERY` seconds it sends the outbox's due notifications to webhooks, Teams, IRC and the
  forges (:mod:`sinks.sender`), whichever replica or CLI run recorded them, and posts in Slack the flag changes made
  on the command line; every :data:`~cli.loops.FREEZES_EVERY` seconds it tells them of freeze windows that began or
  ended (once each).
  With ``SHIPBOT_WEBHOOK_PORT`` it serves the push webhooks (:mod:`webhooks.server`) into the service's push use
  case; branches with ``auto_deploy.poll`` are fetched by one poller task each. Pushes of preview branches go to
  ``Running.service.previews``. GitHub's ``deployment`` events for an app with ``deployments.github`` start runs
  (:mod:`commands.usecases.forge_service`), whose statuses the wrapped run reporter tells GitHub.
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
from bot.flag_blocks import FlagPoster
from bot.groups import SlackGroups
from bot.people import naming_client
from bot.preview_blocks import PreviewPoster
from bot.run_reports import SlackRunReporter
from bot.slack_calls import safe
from cli import logs, loops
from cli.bot_settings import Settings
from cli.deployment_wiring import deployment_starts, status_reporter
from cli.engines import app_flags, build_engine, build_previews
from cli.health import SlackHealth
from cli.loops import POLL_EVERY
from cli.metrics import Metrics
from cli.ops_server import start_ops_server
from cli.reading import open_store
from commands.usecases import ChatService
from commands.usecases.freezes import FreezeWatch
from commands.usecases.polling import BranchPoller
from deploy.config.models import load_config
from deploy.errors import StoreError
from deploy.ids import new_run_id
from deploy.run.engine import Engine
from deploy.run.repair import RepairReport
from deploy.store.clock import StoreClock
from deploy.store.ports import ports_of
from deploy.store.tables import Store
from sinks.sender import Sender
from webhooks.server import start_webhook_server

log = structlog.get_logger("shipbot.bot")
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
    door, ports = store.door, ports_of(store)
    await door(store.controls.prune)
    await door(store.presence.beat, store.owner)
    engines = {c.app: build_engine(c, store, settings.data_dir, path) for c, path in configs}
    metrics = Metrics()
    store.db.timings.observe = metrics.store_call
    repairs = await _repair(engines, metrics)
    client = naming_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url, metrics)
    auth = await client.auth_test()
    bot_user_id = str(auth.get("user_id", ""))
    clock = StoreClock(store.db)
    await door(clock.read)
    reporter = SlackRunReporter(client, metrics, engines, settings.update_interval, ports.places)
    forge = status_reporter(engines, store, reporter)  # runs GitHub deployments started: their statuses too
    service = ChatService(
        engines,
        dict.fromkeys(engines, ports.locks),
        SlackGroups(client, metrics),
        forge,
        waiting=ports.waiting,
        bot_user_id=bot_user_id,
        run_ids=new_run_id,
        previews={app: build_previews(engine, store) for app, engine in engines.items()},
        preview_notify=PreviewPoster(client, metrics),
        push_ledger=ports.pushes,
        inbox=ports.inbox,
        push_reporter=reporter,
        tags={app: engine.mirror for app, engine in engines.items()},
        clock=clock,  # approvals, locks, previews, parked pushes, freezes: the database's time
        flags={app: app_flags(engine) for app, engine in engines.items()},
        flag_notify=(flag_poster := FlagPoster(client, metrics)),
    )
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    bot = SlackBot(
        client, service, ports.inbox, reporter, metrics,
        signing_secret=secret if settings.mode == "http" else None, dedupe_ttl=settings.dedupe_ttl,
    )  # fmt: skip
    for run_id, channel, ts in await service.approval_messages():
        reporter.track_approval(run_id, channel, ts)

    stopped = asyncio.Event()  # set once the bot has answered what it took and its runs have ended
    inbox: asyncio.Task[None] | None = None
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
        forge.repaired(repairs)
        await _expire_taken_over(service, engines, store, repairs)
        deployments = deployment_starts(service, engines, store, reporter, forge)
        await service.pick_up()

        told: dict[str, str] = {r.run.run_id: r.message for r in repairs}

        async def take_over() -> None:
            """Runs whose lease expired, or that a stopping replica handed over, are taken over here (a repair that
            failed, tried again on every tick, is reported again only when its outcome changes); approval messages
            posted here and decided by another replica lose their buttons."""
            await door(store.presence.beat, store.owner)
            found = await _repair(engines, metrics)
            new = [r for r in found if told.get(r.run.run_id) != r.message]
            told.update((r.run.run_id, r.message) for r in new)
            await reporter.repaired(new, name)
            forge.repaired(new)
            await _expire_taken_over(service, engines, store, found)
            if deployments is not None:  # GitHub deployments a stopped process took and never decided
                await deployments.recover()
            for run_id, verdict, by in await service.approvals_decided(list(reporter.approval_messages)):
                await reporter.decided_elsewhere(run_id, verdict, by)

        sweeper = asyncio.create_task(loops.sweep(service, running.stop, take_over), name="waiting-sweeper")
        converger = asyncio.create_task(loops.converge(service, engines, running.stop), name="auto-converge")
        inbox = asyncio.create_task(
            loops.keep_inbox(bot, ports.inbox, store.lease_ttl, running.stop, stopped), name="inbox"
        )
        sender = Sender(store, metrics, slack=flag_poster.post_event)  # the command line's flag changes too
        outbox = asyncio.create_task(loops.deliver(sender, running.stop), name="outbox")
        freezes = asyncio.create_task(
            loops.watch_freezes(FreezeWatch(service.policies, ports.freezes, clock), running.stop), name="freezes"
        )
        pollers: list[asyncio.Task[None]] = []
        if service.pushes is not None:
            secrets = settings.webhook_secrets
            if settings.webhook_port is not None and secrets:
                if settings.webhook_warning:
                    log.warning("webhook_secret_shared", note=settings.webhook_warning)
                hooks_runner, running.webhook_port = await start_webhook_server(
                    service.pushes, secrets, settings.webhook_host, settings.webhook_port, deployments
                )
                log.info(
                    "webhooks_listening", host=settings.webhook_host, port=running.webhook_port, forges=sorted(secrets)
                )
            poller = BranchPoller(engines, service.pushes)
            pollers = [
                asyncio.create_task(loops.poll(poller, w, running.stop), name=f"poll-{w.app}-{w.branch}")
                for w in poller.watches()
            ]
        if ready is not None:
            await ready(running)
        await running.stop.wait()
        await sweeper
        await converger
        await outbox
        await freezes
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

        others = await door(_others_serving, store)
        try:
            await _shutdown(settings, running, reporter, stop_listening if others else None)
        finally:  # what it answered until here stayed its own; anything left is picked up elsewhere after the TTL
            stopped.set()
            if inbox is not None:
                await inbox
        await stop_listening()
        await forge.close()
        await ops_runner.cleanup()
        store.close()
        log.info("bot_stopped")


def _others_serving(store: Store) -> list[str]:
    """The other bots serving from the store, this one's presence removed; none when the store does not answer
    (then this one keeps its connection until its runs end, the safe choice alone)."""
    try:
        others = store.presence.others(store.owner, PRESENT_WITHIN)
        store.presence.leave(store.owner)
    except StoreError as err:
        log.warning("presence_unknown", error=str(err))
        return []
    return others


def replica_name(owner: str) -> str:
    """How a run's message names this process: its host and pid (the lease owner id without its random part)."""
    return owner.rsplit(":", 1)[0]


async def _repair(engines: dict[str, Engine], metrics: Metrics) -> list[RepairReport]:
    """Take over and repair what runs of a dead process left (see :mod:`deploy.run.repair`): at start-up, before
    taking commands, and then on the sweeper's timer (another replica died, or a stopping one handed runs over)."""
    reports = []
    for engine in engines.values():
        for r in await engine.recover():
            log.warning("run_repaired", run_id=r.run.run_id, environment=r.run.environment, ok=r.ok, message=r.message)
            metrics.lease_taken_over("waiting" if r.waiting else "repaired" if r.ok else "not_repaired")
            reports.append(r)
    return reports


async def _expire_taken_over(
    service: ChatService, engines: dict[str, Engine], store: Store, repairs: list[RepairReport]
) -> None:
    """A run taken over while it waits at a pause is aborted when nobody answers within the app's pause timeout,
    counted from when the pause began by the database's clock (from this start for a pause recorded before that
    was kept); reported where its message is."""
    for r in repairs:
        if r.waiting:
            place = await store.door(store.ledger.place_of, r.run.run_id)
            waited = await store.door(store.ledger.waited, r.run.run_id) or 0.0
            timeout = max(0.0, engines[r.run.app].config.timeouts.pause - waited)
            service.expire_taken_over(r.run.run_id, place[0] if place else "", timeout)


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
    handed = set(await running.service.hand_over())
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
