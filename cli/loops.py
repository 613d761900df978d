"""The bot's timers (:func:`cli.root.serve` starts each as a task): each outlives a failing round, and a database
that does not answer (:class:`~deploy.errors.StoreUnavailable`) only defers its work to the next tick.

- :func:`sweep`: runs of dead or stopped replicas taken over, control requests, approvals, queues, previews' TTL;
- :func:`keep_inbox`: the inbox renewed, what a stopped replica left picked up, old push deliveries forgotten;
- :func:`converge`: ``converge: auto`` environments caught up every ``converge_interval``;
- :func:`poll`: one branch fetched every ``auto_deploy.poll``, a moved branch handled like a push;
- :func:`deliver`: the outbox's due notifications sent every :data:`OUTBOX_EVERY` (:mod:`sinks.sender`);
- :func:`watch_freezes`: freeze windows that began or ended told to the sinks, every :data:`FREEZES_EVERY`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from bot.app import SlackBot
from commands.usecases import ChatService
from commands.usecases.freezes import FreezeWatch
from commands.usecases.polling import BranchPoller, Watch
from deploy.errors import StoreError, StoreUnavailable
from deploy.run.engine import Engine
from deploy.store.ports import KEEP_PUSHES, Inboxed
from sinks.sender import Sender

log = structlog.get_logger("shipbot.bot")
POLL_EVERY = 2.0  # seconds between looks at the store for dead runs, freed environments and due approvals
OUTBOX_EVERY = 1.0  # seconds between looks at the outbox for notifications due
FREEZES_EVERY = 30.0  # seconds between looks at the freeze windows (a freeze is told at most this late)
STOP_GRACE = 3.0  # seconds a stopping bot lets the notifications in flight finish


async def sweep(service: ChatService, stop: asyncio.Event, take_over: Callable[[], Awaitable[None]]) -> None:
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
            except StoreUnavailable as err:  # the database is away: everything above is tried again next tick
                log.warning("waiting_sweep_deferred", error=str(err))
            except Exception:  # the sweeper must outlive a failing notice
                log.exception("waiting_sweep_failed")
            try:
                await service.previews.expire()
            except StoreUnavailable as err:
                log.warning("preview_expiry_deferred", error=str(err))
            except Exception:  # nor may a preview that cannot be removed stop it
                log.exception("preview_expiry_failed")


async def keep_inbox(
    bot: SlackBot, inbox: Inboxed, lease_ttl: float, stop: asyncio.Event, stopped: asyncio.Event
) -> None:
    """Every third of the lease TTL (at most :data:`POLL_EVERY`): renew the requests this bot holds in the inbox,
    pick up those a stopped replica left (:meth:`bot.app.SlackBot.tick`), forget push deliveries past their keep.
    Once stopping (``stop``) it picks up nothing more but keeps renewing what it is still answering, until the bot
    has stopped (``stopped``)."""
    every = min(POLL_EVERY, lease_ttl / 3)
    while not stopped.is_set():
        try:
            if stop.is_set():
                await inbox.renew()
            else:
                await bot.tick()
                await inbox.prune(["push"], KEEP_PUSHES)
        except Exception:  # a database that does not answer now is asked again on the next tick
            log.exception("inbox_tick_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), every)


async def converge(service: ChatService, engines: dict[str, Engine], stop: asyncio.Event) -> None:
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
            except StoreUnavailable as err:  # the database is away: looked at again soon, not a whole interval later
                due[app, name] = loop.time() + POLL_EVERY
                log.warning("auto_converge_deferred", app=app, environment=name, error=str(err))
            except Exception:  # the loop must outlive one environment's failure
                log.exception("auto_converge_failed", app=app, environment=name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.1, min(POLL_EVERY, min(due.values()) - loop.time())))


async def poll(poller: BranchPoller, watch: Watch, stop: asyncio.Event) -> None:
    """Fetch ``watch``'s branch every ``watch.interval`` seconds; a moved branch is handled like a push."""
    with structlog.contextvars.bound_contextvars(app=watch.app, branch=watch.branch):
        while not stop.is_set():
            try:
                await poller.poll(watch)
            except Exception:  # a repository that cannot be fetched now is tried again next time
                log.exception("branch_poll_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), watch.interval)


async def deliver(sender: Sender, stop: asyncio.Event, every: float = OUTBOX_EVERY) -> None:
    """Every ``every`` seconds: claim and send the outbox's due notifications (a slow sink holds only its own
    queue). A database that does not answer defers the round; on ``stop`` what is in flight gets
    :data:`STOP_GRACE` seconds, the rest is sent again by whoever claims it next."""
    try:
        while not stop.is_set():
            try:
                await sender.tick()
            except StoreError as err:  # the database is away: the outbox is looked at again next tick
                log.warning("outbox_deferred", error=str(err))
            except Exception:  # the sender must outlive a failing round
                log.exception("outbox_round_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await sender.close(STOP_GRACE)


async def watch_freezes(watch: FreezeWatch, stop: asyncio.Event, every: float = FREEZES_EVERY) -> None:
    """At start-up and every ``every`` seconds: tell the freezes that began or ended (each once, whichever replica
    looks first: :mod:`commands.usecases.freezes`)."""
    while not stop.is_set():
        try:
            await watch.check()
        except StoreUnavailable as err:  # the database is away: looked at again next tick
            log.warning("freeze_check_deferred", error=str(err))
        except Exception:  # the loop must outlive a failing look
            log.exception("freeze_check_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
