"""Fixtures for the sink tests: receivers on loopback, a store whose outbox routes an app's events to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.support.receivers import Receiver


@pytest.fixture
async def receivers() -> AsyncIterator[Callable[..., Awaitable[Receiver]]]:
    started: list[Receiver] = []

    async def start(**options: object) -> Receiver:
        receiver = await Receiver(**options).start()  # type: ignore[arg-type]
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        await receiver.stop()
