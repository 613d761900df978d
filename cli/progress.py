"""Terminal rendering of engine events for ``shipbot deploy|rollback|task`` (one line per thing that happened)."""

from __future__ import annotations

import sys
from typing import TextIO

from commands.reply_texts import forced_past_promotion
from deploy.config.durations import format_duration
from deploy.events import (
    Event,
    HostState,
    HostStateChanged,
    HostStepFinished,
    Outcome,
    PhaseChanged,
    RunFinished,
    RunRepaired,
    RunStarted,
)
from deploy.summary import count


class TerminalProgress:
    """An :data:`~deploy.events.EventSink` printing per-host progress and a closing summary."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.out = stream or sys.stderr
        self.verbose = verbose
        self.states: dict[str, HostState] = {}
        self.total = 0
        self.labels: dict[str, str] = {}  # host key -> its name

    def _p(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def __call__(self, event: Event) -> None:
        match event:
            case RunStarted():
                self.total = len(event.hosts)
                self.states = dict.fromkeys(event.hosts, HostState.PENDING)
                self.labels = event.label_of()
                what = f"{event.ref} ({event.sha[:12]})" if event.sha else event.ref
                hosts = count(self.total, "host")
                self._p(f"{event.kind} {event.app} {what} to {event.environment}: {hosts}, run {event.run_id}")
                for note in event.notes:
                    self._p(f"  NOTE: {note}")
                if event.forced_past is not None:
                    self._p(f"  FORCED: {forced_past_promotion(event.forced_past, event.user)}")
            case PhaseChanged():
                self._p(f"== {event.phase.value} ({self._counts()})")
            case HostStepFinished():
                mark = "ok " if event.ok else "FAIL"
                host = self.labels.get(event.host, event.host)
                line = f"  [{mark}] {host} {event.step} ({format_duration(event.duration)})"
                if not event.ok:
                    line += f": {event.error}"
                self._p(line)
                if (not event.ok or self.verbose) and event.output_tail.strip():
                    for out in event.output_tail.strip().splitlines()[-10:]:
                        self._p(f"        | {out}")
            case HostStateChanged():
                self.states[event.host] = event.state
            case RunRepaired():
                self._p(f"{event.environment}: run {event.run_id} was interrupted; repairing it first: {event.message}")
            case RunFinished():
                verdict = {Outcome.SUCCESS: "DONE", Outcome.FAILED: "FAILED", Outcome.CANCELLED: "CANCELLED"}.get(
                    event.outcome, event.outcome.value.upper()
                )
                self._p(f"{verdict} in {format_duration(event.duration)}: {event.message}")
                for note in event.notes:
                    self._p(f"  NOTE: {note}")
                for h in event.hosts:
                    where = f"{h.release or 'no release'} {(h.sha or '')[:12]}".strip()
                    extra = f" - {h.failed_step}: {h.error}" if h.failed_step else ""
                    self._p(f"  {h.host}: {h.state.value}, on {where}{extra}")
            case _:
                pass

    def _counts(self) -> str:
        counts: dict[str, int] = {}
        for state in self.states.values():
            counts[state.value] = counts.get(state.value, 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no hosts"
