"""What the channel should show about one run, folded from the engine's events (pure, no Slack calls).

``RunView.apply(event)`` updates host states, the current phase, per-phase tallies and failures; ``blocks()``
renders the one message that is updated in place, and ``thread_lines()`` hands out the step-level detail for the
thread, coalesced per phase so a 500-host run posts a handful of thread messages, not thousands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bot.mrkdwn import code, code_block, esc, mention, people_in, truncate, user
from bot.shipping_blocks import shipment_lines
from commands.reply_texts import forced_past_promotion
from deploy.config.durations import format_duration
from deploy.events import (
    BatchPaused,
    BatchResumed,
    BatchStarted,
    Event,
    HostState,
    HostStateChanged,
    HostStepFinished,
    Outcome,
    Phase,
    PhaseChanged,
    RunFinished,
    RunRepaired,
    RunStarted,
)
from deploy.records import Commit, Shipment
from deploy.summary import count

LIGHT = {
    "running": ":large_yellow_circle:",
    "success": ":large_green_circle:",
    "failed": ":red_circle:",
    "cancelled": ":octagonal_sign:",
}
TASK_OUTPUT_HOSTS = 5  # hosts whose task output the run message shows itself (with more, all go to the thread)
_PROGRESS = {
    HostState.PENDING: 0.0,
    HostState.CONNECTING: 0.05,
    HostState.PREPARING: 0.2,
    HostState.PREPARED: 0.5,
    HostState.SWITCHED: 0.75,
}
_SHOWN_STATES = ("pending", "preparing", "switched", "healthy", "failed")
_TASK_STATES = ("pending", "done", "failed")
MAX_FAILURES_SHOWN = 10
_STRATEGY = {"all": "all at once", "rolling": "rolling", "blue_green": "blue/green"}


@dataclass
class Failure:
    host: str
    step: str
    error: str
    output: str


@dataclass
class RunView:
    run_id: str
    channel: str
    started: RunStarted | None = None
    states: dict[str, HostState] = field(default_factory=dict)
    phase: Phase | None = None
    finished: RunFinished | None = None
    commits: list[Commit] = field(default_factory=list)
    shipment: Shipment | None = None  # the compare page, older than live (loaded with the commits)
    forced: bool = False
    started_at: float = field(default_factory=time.monotonic)
    failures: list[Failure] = field(default_factory=list)
    batch: tuple[int, int] | None = None  # (index, total) of the batch running now
    paused: BatchPaused | None = None
    labels: dict[str, str] = field(default_factory=dict)  # host key -> how people see it
    _phase_ok: dict[str, int] = field(default_factory=dict)
    _phase_started: float = field(default_factory=time.monotonic)
    _pending_lines: list[str] = field(default_factory=list)

    # -- folding events ---------------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        match event:
            case RunStarted():
                self.started = event
                self.states = dict.fromkeys(event.hosts, HostState.PENDING)
                self.labels = event.label_of()
            case PhaseChanged():
                self._close_phase()
                self.phase = event.phase
                self._phase_started = time.monotonic()
                self._phase_ok = {}
            case HostStateChanged():
                self.states[event.host] = event.state
            case HostStepFinished():
                if self.started is not None and self.started.kind == "task" and event.step == self.started.ref:
                    if len(self.states) > TASK_OUTPUT_HOSTS:  # the run message shows the first hosts' output
                        mark = ":white_check_mark:" if event.ok else ":x:"
                        took = format_duration(event.duration)
                        self._pending_lines.append(
                            f"{mark} *{esc(self.host(event.host))}* ({took}):\n" + code_block(event.output_tail, 2000)
                        )
                    if not event.ok:
                        self.failures.append(Failure(event.host, event.step, event.error, event.output_tail))
                elif event.ok:
                    self._phase_ok[event.step] = self._phase_ok.get(event.step, 0) + 1
                else:
                    self.failures.append(Failure(event.host, event.step, event.error, event.output_tail))
                    if len(self.failures) <= MAX_FAILURES_SHOWN:
                        self._pending_lines.append(
                            f":x: *{esc(self.host(event.host))}* {esc(event.step)} failed: "
                            f"{esc(truncate(event.error, 300))}\n" + code_block(event.output_tail, 2000)
                        )
                    elif len(self.failures) == MAX_FAILURES_SHOWN + 1:
                        self._pending_lines.append("_More hosts failed; the final summary lists them._")
            case BatchStarted():
                self.batch, self.paused = (event.index, event.total), None
                self._pending_lines.append(f"*batch {event.index}/{event.total}*: {count(len(event.hosts), 'host')}")
            case BatchPaused():
                self.paused = event
                g = event.gate
                failed = f", {len(g.failures)} failed of {g.max_failures} allowed" if g.failures else ""
                waits = f"goes on by itself in {format_duration(g.wait)}" if g.wait else "waiting for Continue or Abort"
                self._pending_lines.append(
                    f":double_vertical_bar: paused before batch {g.batch}/{g.total}: "
                    f"{count(len(g.hosts_done), 'host')} on the new version{failed}; {waits}"
                )
            case BatchResumed():
                self.paused = None
                if not event.continued:
                    self._pending_lines.append(f":octagonal_sign: aborted: {esc(event.reason or 'switching back')}")
            case RunRepaired():
                repaired = esc(truncate(event.message, 1500))
                self._pending_lines.append(f":wrench: first, run {esc(event.run_id)}: {repaired}")
            case RunFinished():
                self.paused = None
                self._close_phase()
                self.finished = event
                for h in event.hosts:
                    self.states[h.host] = h.state
            case _:
                pass

    def _close_phase(self) -> None:
        if self.phase is None or self.phase is Phase.DONE or not self._phase_ok:
            return
        took = format_duration(time.monotonic() - self._phase_started)
        steps = ", ".join(f"{esc(step)} {n}/{len(self.states)}" for step, n in self._phase_ok.items())
        self._pending_lines.append(f"*{self.phase.value}* ({took}): {steps} ok")
        self._phase_ok = {}

    def thread_lines(self) -> list[str]:
        """Step-level detail not yet posted to the thread (and forget it)."""
        lines, self._pending_lines = self._pending_lines, []
        return lines

    # -- rendering --------------------------------------------------------------------------------------------

    def host(self, key: str) -> str:
        """How people see the host events name ``key``."""
        return self.labels.get(key, key)

    @property
    def state(self) -> str:
        if self.finished is None:
            return "running"
        return {Outcome.SUCCESS: "success", Outcome.CANCELLED: "cancelled"}.get(self.finished.outcome, "failed")

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(_SHOWN_STATES, 0) if self.started is None or self.started.kind != "task" else {}
        for st in self.states.values():
            key = {
                HostState.CONNECTING: "pending",
                HostState.PREPARED: "preparing",
                HostState.DONE: "done" if self.started and self.started.kind == "task" else "healthy",
                HostState.REVERTED: "reverted",
                HostState.UNTOUCHED: "untouched",
            }.get(st, st.value)
            out[key] = out.get(key, 0) + 1
        shown = _TASK_STATES if self.started is not None and self.started.kind == "task" else _SHOWN_STATES
        return {k: v for k, v in out.items() if v or k in shown}

    def progress(self) -> float:
        if not self.states:
            return 0.0
        if self.finished:
            return 1.0
        return sum(_PROGRESS.get(s, 1.0) for s in self.states.values()) / len(self.states)

    def title(self) -> str:
        s = self.started
        if s is None:
            return f"Run {self.run_id}"
        if s.kind == "task":
            return truncate(f"Task {self.run_id}: {s.ref} on {s.app} {s.environment}", 140)
        if s.kind == "rollback":
            to = "" if s.ref == "previous" else f" to {s.ref}"
            return truncate(f"Rollback {self.run_id}: {s.app} {s.environment}{to}", 140)
        if s.kind == "converge":
            return truncate(f"Converge {self.run_id}: {s.app} {s.environment} to its live release {s.ref}", 140)
        return truncate(f"Deploy {self.run_id}: {s.app} {s.ref} → {s.environment}", 140)

    def summary_text(self) -> str:
        """The notification text (also the fallback text of the message)."""
        s = self.started
        done = sum(1 for st in self.states.values() if st in (HostState.HEALTHY, HostState.DONE))
        base = esc(self.title())  # the fallback text is parsed as mrkdwn (and shown in notifications)
        if self.finished is None:
            return f"{base}: running ({done} of {count(len(self.states), 'host')} done)"
        return f"{base}: {self.finished.outcome.value} — {people_in(esc(self.finished.message))}" if s else base

    def blocks(self) -> list[dict[str, Any]]:
        s = self.started
        light = LIGHT[self.state]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": f"{self.title()}", "emoji": True}},
        ]
        if s is not None:
            doing = self.phase.value if self.phase else "starting"
            if self.batch:
                doing = f"batch {self.batch[0]}/{self.batch[1]}"
            if self.paused:
                doing = f"paused before batch {self.paused.gate.batch}/{self.paused.gate.total}"
            status = {"running": f"running ({doing})"}.get(self.state, self.state)
            sha = f" ({code(s.sha[:7])})" if s.sha else ""
            where = f"*Where:*\n{esc(s.environment)} · {count(len(s.hosts), 'host')}"
            fields = [f"*Status:*\n{light} {status}", f"*Requested by:*\n{user(s.user)}"]
            if s.kind == "task":
                fields += [f"*Task:*\n{code(s.ref)}", where]
            elif s.kind == "rollback":
                back = "the previous good release" if s.ref == "previous" else code(s.ref)
                fields += [f"*Back to:*\n{back}", where]
            else:
                fields += [f"*Ref:*\n{code(s.ref)}{sha}", f"{where} · {_STRATEGY.get(s.strategy, s.strategy)}"]
            blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
        for note in s.notes if s is not None else ():
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {esc(note)}"}})
        if s is not None and s.forced_past is not None:
            past = people_in(esc(forced_past_promotion(s.forced_past, s.user)))
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f":warning: *Forced*: {past}"}})
        elif self.forced:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": ":warning: *Forced* past a freeze or the queue"}}
            )
        bar = _bar(self.progress())
        tally = " · ".join(f"{n} {k}" for k, n in self.counts().items())
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"`{bar}` {tally}"}})
        if self.commits:
            lines = [f"{code(c.sha[:7])} {esc(truncate(c.subject, 80))} — {esc(c.author)}" for c in self.commits[:5]]
            more = f"\n…and {len(self.commits) - 5} more" if len(self.commits) > 5 else ""
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(lines) + more}]})
        if shipped := shipment_lines(self.shipment):
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(shipped)}]})
        blocks += self._task_output()
        elapsed = self.finished.duration if self.finished else time.monotonic() - self.started_at
        context = f"run {code(self.run_id)} · {format_duration(elapsed)}"
        if self.finished is not None:
            context += f" · {people_in(esc(truncate(self.finished.message, 500)))}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
        actions = self._actions()
        if actions:
            blocks.append({"type": "actions", "block_id": f"run-{self.run_id}", "elements": actions})
        return blocks

    def _task_output(self) -> list[dict[str, Any]]:
        """A finished task's output on its first hosts (every host's is in the thread)."""
        if self.started is None or self.started.kind != "task" or self.finished is None:
            return []
        shown = self.finished.hosts[:TASK_OUTPUT_HOSTS]
        blocks: list[dict[str, Any]] = [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{esc(self.host(h.host))}*\n" + code_block(h.output_tail, 1200)},
            }
            for h in shown
        ]
        if len(self.finished.hosts) > len(shown):
            more = count(len(self.finished.hosts) - len(shown), "more host")
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{more}: see the thread"}]})
        return blocks

    def _actions(self) -> list[dict[str, Any]]:
        if self.paused is not None and self.paused.gate.wait is None:
            g = self.paused.gate
            return [
                {
                    "type": "button",
                    "action_id": "run_continue",
                    "style": "primary",
                    "value": self.run_id,
                    "text": {"type": "plain_text", "text": f"Continue to batch {g.batch}/{g.total}"},
                },
                {
                    "type": "button",
                    "action_id": "run_abort",
                    "style": "danger",
                    "value": self.run_id,
                    "text": {"type": "plain_text", "text": "Abort and switch back"},
                },
            ]
        if self.finished is None:
            return [
                {
                    "type": "button",
                    "action_id": "run_cancel",
                    "style": "danger",
                    "value": self.run_id,
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "confirm": {
                        "title": {"type": "plain_text", "text": f"Cancel {self.run_id}?"},
                        "text": {"type": "mrkdwn", "text": "Remote steps are stopped and switched hosts go back."},
                        "confirm": {"type": "plain_text", "text": "Cancel it"},
                        "deny": {"type": "plain_text", "text": "Keep running"},
                    },
                }
            ]
        if self.started and self.started.kind == "deploy" and self.finished.outcome is Outcome.SUCCESS:
            return [
                {
                    "type": "button",
                    "action_id": "run_rollback",
                    "value": self.run_id,
                    "text": {"type": "plain_text", "text": "Roll back"},
                }
            ]
        return []

    def final_line(self) -> str:
        """The plain channel line at the end (no broadcast mentions)."""
        assert self.finished is not None
        s = self.started
        who = mention(s.user) if s else ""  # the requester hears that their run ended
        notes = "".join(f" — {esc(note)}" for note in self.finished.notes)
        if self.finished.outcome is Outcome.SUCCESS:
            took = format_duration(self.finished.duration)
            return f"{LIGHT['success']} {esc(self.title())} finished in {took}{notes} ({who})"
        message, outcome = self.finished.message, self.finished.outcome.value
        said = message if message.startswith(outcome) else f"{outcome}: {message}"  # "cancelled by …" says it once
        return f"{LIGHT[self.state]} {esc(self.title())} {people_in(esc(truncate(said, 1500)))}{notes} ({who})"


def _bar(fraction: float, width: int = 20) -> str:
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled)
