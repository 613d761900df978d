"""A bounded HTTP load through nginx, counting what a user would see (for the bench and the tests).

:func:`drive` sends GET requests at a steady rate, round robin over the given URLs (one nginx per host), until
told to stop, and never more than ``rate * max_seconds`` requests nor for longer than ``max_seconds``. Every
answer is counted: 2xx, other statuses, connection errors (refused, reset, timed out), its latency, and which
version answered (the body of ``/version``, named by :class:`Load`'s ``names``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Load:
    names: Mapping[str, str] = field(default_factory=dict)  # SHA -> a short name (v1, v2)
    sent: int = 0
    ok: int = 0
    non_2xx: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)  # which version answered, how often
    first: dict[str, float] = field(default_factory=dict)  # version -> monotonic time it first answered
    problems: list[str] = field(default_factory=list)  # the first few failures, for a test's message

    @property
    def failed(self) -> int:
        return self.non_2xx + self.errors

    def p99_ms(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def answered(self) -> str:
        """Which versions answered, in the order they first did: ``v1 412, v2 388``."""
        return ", ".join(f"{v} {self.versions[v]}" for v in sorted(self.first, key=self.first.__getitem__))

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.non_2xx} non-2xx, {self.errors} connection errors, p99 {self.p99_ms():.1f} ms; "
            f"answered: {self.answered()}" + (f"; first failures: {self.problems}" if self.problems else "")
        )

    def _answer(self, url: str, status: int, body: str) -> None:
        if 200 <= status < 300:
            self.ok += 1
            sha = body.strip()
            version = self.names.get(sha, sha[:12])
            self.versions[version] += 1
            self.first.setdefault(version, time.monotonic())
        else:
            self.non_2xx += 1
            self._problem(f"{url}: {status}")

    def _problem(self, what: str) -> None:
        if len(self.problems) < 5:
            self.problems.append(what)


async def drive(
    urls: Sequence[str],
    rate: float,
    stop: asyncio.Event,
    max_seconds: float,
    names: Mapping[str, str] | None = None,
) -> Load:
    """Requests at ``rate`` per second over ``urls`` until ``stop`` is set, or the time or count bound is hit."""
    load = Load(dict(names or {}))
    limit = int(rate * max_seconds)
    timeout = aiohttp.ClientTimeout(total=5)
    connector = aiohttp.TCPConnector(limit=400, force_close=True)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one(url: str) -> None:
            began = time.monotonic()
            try:
                async with session.get(url) as response:
                    load._answer(url, response.status, await response.text())
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                load.errors += 1
                load._problem(f"{url}: {exc!r}")
            load.latencies.append(time.monotonic() - began)

        start = time.monotonic()
        while not stop.is_set() and load.sent < limit and time.monotonic() - start < max_seconds:
            due = start + load.sent / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(one(urls[load.sent % len(urls)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            load.sent += 1
        await asyncio.gather(*tasks)
    return load


class Under:
    """``async with Under(urls, rate, max_seconds, names) as load:`` drives load for the block (starting
    ``lead`` seconds before it and ending ``tail`` seconds after); ``load`` is filled in once the block ends."""

    def __init__(
        self,
        urls: Sequence[str],
        rate: float,
        max_seconds: float,
        names: Mapping[str, str] | None = None,
        lead: float = 0.3,
        tail: float = 0.5,
    ) -> None:
        self.load = Load(dict(names or {}))
        self._args = (list(urls), rate, max_seconds, names)
        self._lead, self._tail = lead, tail
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Load] | None = None

    async def __aenter__(self) -> Load:
        urls, rate, max_seconds, names = self._args
        self._task = asyncio.create_task(drive(urls, rate, self._stop, max_seconds, names))
        await asyncio.sleep(self._lead)
        return self.load

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        await asyncio.sleep(self._tail)
        self._stop.set()
        done = await self._task
        self.load.__dict__.update(done.__dict__)
