"""The store's async door: no statement runs on the event loop.

The store's modules write their SQL synchronously through :class:`deploy.store.database.Database` (SQLAlchemy Core over
``sqlite3`` or psycopg 3). Code on the event loop (the bot, the engine, the webhook server, the timers) never calls
them directly: it awaits them through the door, which runs each call on one of the store's own threads::

    run = await door(store.get_run, run_id)          # the statement runs on a store thread; the loop goes on

so a statement that waits on a lock, a slow disk or a database that fails over holds one store thread (for at most
``SHIPBOT_DB_STATEMENT_TIMEOUT``), never the loop that acknowledges Slack, drives SSH sessions and renews leases.
This is how ``aiosqlite`` itself works (one thread per connection behind an async facade); chosen over SQLAlchemy's
asyncio extension after measuring both on this store's statements (``bench/store_door.py``, figures in
bench/RESULTS.md): as fast alone and faster from 20 callers at once (one thread hop per statement where the asyncio
engine adds a greenlet switch, and aiosqlite a hop per cursor call), neither holding the loop; one SQL text and one
error mapping for both engines, and the synchronous store stays usable where no loop runs (the CLI, migrations).

Threads: as many as the engine's pool may lend (a call holds one connection at a time), one for an in-memory SQLite
database (one connection shared). The structlog context of the caller is carried into the thread, so a statement's
log lines keep the run they belong to.

A cancelled await does not cancel the statement: it finishes (or fails) on its thread within the statement's bounded
time, and its result is dropped. Every write a run makes is fenced (:mod:`deploy.store.fencing`), so a write that lands
after its run was taken over is refused by the database, not trusted to timing.

Lease renewals take their own lane (:meth:`StoreDoor.urgent`, one thread of its own): a run's heartbeat never
queues behind the run's own writes or anyone's slow statement. Without it, a 500-host deploy on a busy machine
queued thousands of step records ahead of its renewals until the lease ran out under a live controller, which
then stopped as if another had taken the run over.

The guard: a :class:`~deploy.store.database.Database` built with ``refuse_on_loop=True`` (the bot's, from the
composition root) raises :class:`StoreOnEventLoop` when a statement is issued from a thread running an event loop: a
call site that skipped the door fails loudly in the tests instead of freezing a replica in production.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

THREADS = {"sqlite": 4, "postgresql": 8}  # with the lease lane's one, at most what the engine's pool lends at once


class Door(Protocol):
    """What awaits a synchronous store call off the event loop (:class:`StoreDoor`, or a run's fenced door)."""

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


class StoreOnEventLoop(RuntimeError):
    """A store statement was issued on the event loop's thread instead of through the door."""


def on_event_loop() -> bool:
    """True on a thread whose event loop is running now."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class StoreDoor:
    """Awaits the store's synchronous calls on the store's own threads (see the module's doc)."""

    def __init__(self, dialect: str = "sqlite", *, memory: bool = False, threads: int | None = None) -> None:
        count = threads or (1 if memory else THREADS.get(dialect, 4))
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="shipbot-store")
        # one in-memory connection is shared: its renewals queue with the rest (tests only)
        self._urgent = self._pool if memory else ThreadPoolExecutor(1, thread_name_prefix="shipbot-store-lease")
        self._lock = threading.Lock()
        self._closed = False

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on a store thread, awaited; its exception (a ``StoreError``…) is raised here."""
        return await self._on(self._pool, fn, *args, **kwargs)

    async def urgent(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """As a call, on the lease lane: what keeps a run's lease (its renewals) waits for no other call."""
        return await self._on(self._urgent, fn, *args, **kwargs)

    @staticmethod
    async def _on(pool: ThreadPoolExecutor, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await loop.run_in_executor(pool, call)

    def close(self) -> None:
        """Stop taking calls; the ones running finish on their threads."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._urgent.shutdown(wait=False, cancel_futures=True)
