"""Deploys waiting for a busy environment, first come first served, kept in memory.

Only environments with ``queue: true`` queue; elsewhere a deploy to a busy environment is refused naming who
deploys what. A forced deploy (``deploy!``, for those allowed to force) goes to the front of the line; it never
interrupts the run in progress. Positions are 1-based: position 1 starts when the current run ends.
The queue is not persisted: a restart forgets it, and the service tells each waiting requester before it stops.
"""

from __future__ import annotations

from collections import deque

from commands.runs import RunRequest


class RunQueue:
    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], deque[RunRequest]] = {}

    def add(self, run: RunRequest, *, front: bool = False) -> int:
        """Queue ``run``; returns its position (1 = next)."""
        line = self._lines.setdefault((run.app, run.environment), deque())
        if front:
            line.appendleft(run)
            return 1
        line.append(run)
        return len(line)

    def pop_next(self, app: str, environment: str) -> RunRequest | None:
        line = self._lines.get((app, environment))
        return line.popleft() if line else None

    def remove(self, run_id: str) -> RunRequest | None:
        for line in self._lines.values():
            for run in line:
                if run.run_id == run_id:
                    line.remove(run)
                    return run
        return None

    def waiting(self, app: str | None = None, environment: str | None = None) -> tuple[RunRequest, ...]:
        return tuple(
            run
            for (a, e), line in self._lines.items()
            if (app is None or a == app) and (environment is None or e == environment)
            for run in line
        )

    def clear(self) -> list[RunRequest]:
        runs = [run for line in self._lines.values() for run in line]
        self._lines.clear()
        return runs
