"""Who froze the event loop? A watchdog thread beside a running loop: a task on the loop ticks every 10 ms; when a tick
is late by more than ``threshold`` seconds the thread records the loop thread's stack at that moment (the call that
holds the loop), once per stall, with how long the stall lasted.

    async with LoopWatch() as watch:
        ...                                   # the code under test, on this loop
    assert not watch.stalls, watch.report()   # each stall: its length and the loop's stack while it lasted
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class Stall:
    seconds: float
    stack: str  # the loop thread's stack while it stalled (its innermost frame last)


@dataclass
class LoopWatch:
    threshold: float = 0.3
    stalls: list[Stall] = field(default_factory=list)
    worst: float = 0.0  # the longest a tick was late, seconds
    _beat: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    async def __aenter__(self) -> LoopWatch:
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._ticker = asyncio.create_task(self._tick())
        self._thread = threading.Thread(target=self._watch, name="loop-watch", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._ticker.cancel()
        await asyncio.gather(self._ticker, return_exceptions=True)
        self._thread.join(5)

    async def _tick(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(0.01)
            self._beat = time.monotonic()
            self.worst = max(self.worst, self._beat - asked - 0.01)

    def _watch(self) -> None:
        current: Stall | None = None
        while not self._stop.wait(0.02):
            late = time.monotonic() - self._beat
            if late > self.threshold:
                if current is None:
                    frame = sys._current_frames().get(self._loop_thread)
                    stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
                    current = Stall(late, stack)
                    self.stalls.append(current)
                current.seconds = late
            else:
                current = None

    def report(self) -> str:
        return (
            "\n".join(f"the event loop stalled {s.seconds:.2f} s; its stack then:\n{s.stack}" for s in self.stalls)
            or f"no stall (worst lag {self.worst * 1000:.0f} ms)"
        )
