"""Run one coroutine per host and wait for every one of them, all the way, however the wait ends.

``asyncio.gather`` gives up on its siblings as soon as one of them is cancelled or raises: the caller resumes
while the others may still be killing a remote process group or writing a release. A runner that resumes then
closes the connections those siblings still need, and a step cancelled on one host can be left running there.
:func:`every` waits for all of them first (cancelling the wait cancels each of them once and waits for them to
finish their clean-up), then raises the first failure, cancellation included, as ``gather`` would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def every(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Await each of ``awaitables`` concurrently and return their results in order, once all have finished."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]
