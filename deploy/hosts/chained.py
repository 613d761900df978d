"""Runs a chain of steps (:mod:`deploy.hosts.chain`) on one host for the runner and the step sets
(:mod:`deploy.run.switching`,
:mod:`deploy.run.colours`): the session's output is read line by line as it arrives; each step's start and end are
reported as their markers come, each step's result is its own section of the output; the running step's own
timeout is watched here, and the session (its whole process group on the host) is killed when it runs out, or when
the run says stop as a new step begins. A cancel of the run kills the session as it kills any step
(:mod:`deploy.hosts.ssh`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from deploy.events import HostStepStarted
from deploy.hosts import chain as chains
from deploy.hosts import framing
from deploy.hosts.connector import StepResult
from deploy.redact import tail
from deploy.run.hostrun import HostRun
from deploy.run.steps import RunSteps


async def run(
    steps: RunSteps,
    hr: HostRun,
    links: Sequence[chains.Link],
    stdin: bytes | None = None,
    *,
    stop: Callable[[], bool] = lambda: False,
    ended: Callable[[int, StepResult], Awaitable[None]] | None = None,
    retried: frozenset[int] = frozenset(),
) -> list[StepResult]:
    """The results of the steps that ran, in order: fewer than ``links`` when one failed, or when ``stop()`` said so
    as the next one began (it is killed at once and reported as not run). ``ended(i, result)`` is told as each step
    ends, before the next one's start is reported. A step in ``retried`` that fails is neither reported nor marks
    the host failed: the caller tries it again on its own (a healthcheck's later tries)."""
    assert hr.conn is not None
    frame = framing.new()
    progress = chains.Progress(links, frame)
    results: list[StepResult] = []
    arrived: deque[str] = deque()  # lines read by the adapter, handled here in order
    changed = asyncio.Event()

    def on_line(text: str) -> None:
        arrived.append(text)
        changed.set()

    async def finish(index: int, result: StepResult) -> None:
        link = links[index]
        if link.whole:
            result = await steps.bookkeeping_of(hr, link.command, result)
        if index == 0 and progress.before:  # the login shell's own lines are shown with the first step
            result = replace(result, output="\n".join([*progress.before, result.output]))
        if not link.whole:
            result = replace(result, output=tail(result.output))
        results.append(result)
        if result.ok or index not in retried:
            await steps.step_finished(hr, link.name, result, "" if result.ok else result.describe())
        if ended is not None:
            await ended(index, result)

    def section_result(section: chains.Section) -> StepResult:
        if section.overflow:
            error = f"its output is larger than {chains.WHOLE_CHARS} bytes, the most shipbot reads from a host"
            return StepResult(None, "", section.duration, error=error)
        return StepResult(section.exit_status, section.output, section.duration)

    cut = ""  # why this process killed the session: "timeout" or "stop"

    async def take() -> None:
        nonlocal cut
        while arrived and not cut:
            before = len(progress.sections)
            done = progress.line(arrived.popleft())
            if done is not None:
                await finish(done.index, section_result(done))
            elif len(progress.sections) > before > 0:
                if stop():
                    cut = "stop"
                else:
                    steps.sink(HostStepStarted(steps.run_id, hr.host.name, links[before].name))
        if cut:
            arrived.clear()

    steps.sink(HostStepStarted(steps.run_id, hr.host.name, links[0].name))
    budget = sum(link.timeout for link in links) + steps.timeouts.connect
    task = asyncio.ensure_future(steps.exec(hr, chains.command(links, frame), budget, stdin, on_line=on_line))
    try:
        while not task.done() and not cut:
            deadline = progress.deadline()
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            waiter = asyncio.ensure_future(changed.wait())
            await asyncio.wait({task, waiter}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            changed.clear()
            await take()
            deadline = progress.deadline()
            if not cut and not task.done() and deadline is not None and time.monotonic() >= deadline:
                cut = "timeout"
        if cut:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise
    running = progress.running
    if cut:
        if cut == "timeout" and running is not None:
            timeout = links[running.index].timeout
            late = StepResult(None, running.output, running.duration, True, f"timed out after {timeout:g}s")
            await finish(running.index, late)
        return results
    session = task.result()
    await take()
    running = progress.running
    if running is not None:  # the session ended inside a step: lost, killed, or ended without saying how
        error = session.error or (f"ended without its end marker (exit status {session.exit_status})")
        await finish(running.index, replace(session, exit_status=None, output=running.output, duration=running.duration,
                                      error=error))  # fmt: skip
    elif not progress.sections:  # no step began: the lease, the connection, or the login shell
        if session.ok:
            session = replace(session, exit_status=None, error="the host ran none of the steps it was sent")
        await finish(0, session)
    return results
