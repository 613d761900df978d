"""``python -m bench.chat``: the bot as people meet it, against the local Slack emulator.

    python -m bench.chat                       # 200 deploy commands, then one deploy to 500 hosts
    python -m bench.chat --commands 50 --fleet 100

Needs root (sshd hosts logging in the dedicated user ``shipbench``). It starts, on loopback: the Slack emulator
(in this process, Slack's default rate limits on), real sshd hosts (``staging``: 2, ``fleet``: ``--fleet``), and
the bot as its own process exactly as production runs it (``shipbot run``, Socket Mode), so its memory is its own.

1. ``--commands`` times ``@shipbot deploy staging``, one after another (each waits for the previous run to end, at
   least ``--gap`` seconds apart), spread over ``--channels`` channels so Slack's one-message-a-second-per-channel
   limit is not what is measured. Per command: from the user's message to the bot's acknowledgement of the
   ``app_mention`` envelope, to the bot's first answer (the ephemeral "starting"), and to the run's first report
   message (the message updated in place); p50 and p99.
2. One ``@shipbot deploy fleet`` to ``--fleet`` hosts: wall time, every Web API call the bot made during it by
   method, how many were refused with 429, and the bot process's peak resident memory during the deploy (its
   ``VmHWM`` reset just before the command through ``/proc/PID/clear_refs``, and RSS sampled every 0.1 s). The
   emulator's rate-limit windows are emptied first, so what part 1 spent does not count against this deploy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bench.common import PIPELINE as APP_PIPELINE
from bench.common import (
    PYTHON,
    BenchFleet,
    check_prerequisites,
    controller_env,
    ensure_bench_user,
    machine,
    machine_line,
    make_bench_repo,
    percentile,
    raise_open_files_limit,
    reset_hosts,
    table,
    work_dir,
)
from slack_emulator.server import SlackEmulator
from slack_emulator.workspace import DEFAULT_SEED, Message

USER = "alice"
ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "environments": {
        "staging": {"deploy": ["*"], "lock": ["*"], "rollback": ["*"], "cancel": ["*"]},
        "fleet": {"deploy": ["*"], "lock": ["*"], "rollback": ["*"], "cancel": ["*"]},
    },
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200, help="deploy commands to time (%(default)s)")
    parser.add_argument("--fleet", type=int, default=500, help="hosts of the big deploy; 0 skips it (%(default)s)")
    parser.add_argument("--channels", type=int, default=8, help="channels the commands rotate over (%(default)s)")
    parser.add_argument("--gap", type=float, default=1.1, help="least seconds between two commands (%(default)s)")
    parser.add_argument("--concurrency", type=int, default=50, help="ssh.connect_concurrency (%(default)s)")
    parser.add_argument("--update-interval", type=float, default=1.0, help="SHIPBOT_UPDATE_INTERVAL (%(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def _seed(channels: int) -> dict[str, Any]:
    seed = dict(DEFAULT_SEED)
    seed["channels"] = [{"id": "C0DEPLOY", "name": "deploys"}] + [
        {"id": f"C0BENCH{i:02d}", "name": f"bench-{i}"} for i in range(1, channels)
    ]
    return seed


class BotProcess:
    """``shipbot run`` in a child process, with its resident memory watched."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "cli.main", "run"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def status(self, field: str) -> int:
        """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM), in bytes."""
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def reset_peak(self) -> bool:
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


class ChatBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.user = ensure_bench_user()
        self.work = work_dir(self.user, "chat")
        self.repo, self.sha = make_bench_repo(self.work / "repo", self.user)
        self.fleet = BenchFleet(self.work / "fleet", 2 + max(0, args.fleet), self.user)
        self.emu = SlackEmulator(seed=_seed(max(1, args.channels)))
        self.bot: BotProcess | None = None
        self.bot_id = ""
        self.figures: dict[str, Any] = {}

    def write_config(self) -> Path:
        envs: dict[str, Any] = {"staging": range(2)}
        if self.args.fleet:
            envs["fleet"] = range(2, 2 + self.args.fleet)
        data = self.fleet.config_yaml(
            app="shop",
            repo=str(self.repo.path),
            environments=envs,
            connect_concurrency=self.args.concurrency,
            pipeline={**APP_PIPELINE, "transfer": "upload"},
            shared={"dirs": ["log"]},
            access={**ACCESS, "environments": {k: v for k, v in ACCESS["environments"].items() if k in envs}},
        )
        path = self.work / "shipbot.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    async def start(self) -> None:
        t0 = time.monotonic()
        self.fleet.prepare()
        await self.fleet.astart()
        reset_hosts(self.fleet, len(self.fleet.hosts), {"VERSION": "base\n"})
        print(f"fleet: {len(self.fleet.hosts)} sshd hosts answering after {time.monotonic() - t0:.1f}s", flush=True)
        await self.emu.start()
        self.bot_id = self.emu.workspace.bot.bot_id
        env = controller_env(
            self.work / "bot-home",
            SLACK_BOT_TOKEN=self.emu.bot_token,
            SLACK_APP_TOKEN=self.emu.app_token,
            SLACK_API_URL=self.emu.api_url,
            SHIPBOT_CONFIG=str(self.write_config()),
            SHIPBOT_DATA_DIR=str(self.work / "data"),
            SHIPBOT_OPS_PORT="0",
            SHIPBOT_LOG_FORMAT="json",
            SHIPBOT_LOG_LEVEL="WARNING",
            SHIPBOT_UPDATE_INTERVAL=str(self.args.update_interval),
            SHIPBOT_ON_SHUTDOWN="cancel",
        )
        self.bot = BotProcess(env, self.work / "bot.log")
        if not await self.emu.wait_connections(1, 60):
            raise SystemExit(f"the bot did not connect; see {self.bot.log}")
        print(f"bot: pid {self.bot.proc.pid}, connected over Socket Mode", flush=True)

    async def stop(self) -> None:
        if self.bot is not None:
            code = self.bot.stop()
            print(f"bot stopped (exit {code})", flush=True)
        await self.emu.stop()
        self.fleet.stop()
        print(f"fleet stopped; processes left: {len(self.fleet.leftover_pids())}", flush=True)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _bot_messages_after(self, seq: int, channel: str) -> list[Message]:
        return [
            m
            for m in self.emu.workspace.all_messages()
            if m.seq > seq and m.channel == channel and m.bot_id == self.bot_id
        ]

    def _mention_delivery(self, channel: str, ts: str) -> Any:
        for d in self.emu.core.dispatcher.deliveries.values():
            event = d.payload.get("event") or {}
            if event.get("type") == "app_mention" and event.get("channel") == channel and event.get("ts") == ts:
                return d
        return None

    async def deploy(self, environment: str, channel_ref: str, timeout: float) -> dict[str, Any]:
        """Post one deploy command and wait for the run to end; the times of what the bot did."""
        channel = self.emu.channel_id(channel_ref)
        text = f"<@{self.emu.bot_user_id}> deploy {environment}"
        ts = await self.emu.post_message(USER, channel, text)
        posted = self.emu.workspace.get_message(channel, ts)
        assert posted is not None
        t0, seq = posted.posted_at, posted.seq

        def report() -> Message | None:
            return next(
                (m for m in self._bot_messages_after(seq, channel) if not m.ephemeral_to and not m.is_reply), None
            )

        run_msg = await self.emu.wait_for(lambda m: m is report(), timeout)

        def final(m: Message) -> bool:
            return m.bot_id == self.bot_id and m.thread_ts == run_msg.ts and m.subtype == "thread_broadcast"

        done = await self.emu.wait_for(final, timeout)
        delivery = self._mention_delivery(channel, ts)
        acked = next((a.acked_at for a in delivery.attempts if a.acked_at), None) if delivery else None
        latency = (
            next((a.ack_latency for a in delivery.attempts if a.ack_latency is not None), None) if delivery else None
        )
        mine = self._bot_messages_after(seq, channel)
        first = min(m.posted_at for m in mine)
        return {
            "ack": (acked - t0) if acked else None,
            "ack_envelope": latency,
            "first_answer": first - t0,
            "first_report": run_msg.posted_at - t0,
            "done": done.posted_at - t0,
            "ok": ":large_green_circle:" in done.text,
            "text": done.text,
            "retries": len(delivery.attempts) - 1 if delivery else None,
        }

    # -- the two parts ------------------------------------------------------------------------------------------

    async def commands(self) -> None:
        n = self.args.commands
        channels = ["#deploys"] + [f"#bench-{i}" for i in range(1, max(1, self.args.channels))]
        rows: list[dict[str, Any]] = []
        began = time.monotonic()
        last = 0.0
        calls_before = len(await self.emu.calls())
        for i in range(n):
            wait = last + self.args.gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            last = time.monotonic()
            rows.append(await self.deploy("staging", channels[i % len(channels)], 60))
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{n} commands", flush=True)
        calls = (await self.emu.calls())[calls_before:]
        ok = sum(r["ok"] for r in rows)
        fig: dict[str, Any] = {
            "commands": n,
            "succeeded": ok,
            "seconds": round(time.monotonic() - began, 1),
            "redelivered": sum(1 for r in rows if r["retries"]),
            "calls_429": sum(1 for c in calls if c.status == 429),
            "calls_429_by_method": dict(Counter(c.method for c in calls if c.status == 429)),
            "calls": dict(sorted(Counter(c.method for c in calls).items())),
        }
        for key in ("ack", "ack_envelope", "first_answer", "first_report", "done"):
            values = [r[key] * 1000 for r in rows if r[key] is not None]
            fig[key] = {
                "p50_ms": round(percentile(values, 50), 1),
                "p99_ms": round(percentile(values, 99), 1),
                "max_ms": round(max(values), 1) if values else None,
                "n": len(values),
            }
        self.figures["commands"] = fig
        print(f"  {ok}/{n} deploys succeeded in {fig['seconds']}s", flush=True)

    async def big_deploy(self) -> None:
        assert self.bot is not None
        hosts = self.args.fleet
        reset_hosts(self.fleet, len(self.fleet.hosts), {"VERSION": "base\n"})
        # the rate windows start empty, so 429s here come from this deploy, not from the commands before it
        self.emu.core.limiter.reset()
        calls_before = len(await self.emu.calls())
        rss_before = self.bot.status("VmRSS")
        reset = self.bot.reset_peak()
        peak = 0
        stop = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, self.bot.status("VmRSS") if self.bot else 0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.1)

        sampler = asyncio.create_task(sample())
        t0 = time.monotonic()
        try:
            result = await self.deploy("fleet", "#deploys", 600)
        finally:
            stop.set()
            await sampler
        wall = time.monotonic() - t0
        hwm = self.bot.status("VmHWM")
        calls = (await self.emu.calls())[calls_before:]
        by_method = Counter(c.method for c in calls)
        refused = Counter(c.method for c in calls if c.status == 429)
        self.figures["fleet"] = {
            "hosts": hosts,
            "ok": result["ok"],
            "final": result["text"][:200],
            "wall_s": round(wall, 2),
            "ack_ms": round(result["ack"] * 1000, 1) if result["ack"] else None,
            "first_report_ms": round(result["first_report"] * 1000, 1),
            "calls": dict(sorted(by_method.items())),
            "calls_total": len(calls),
            "calls_429": dict(refused),
            "rss_before_mb": round(rss_before / 2**20, 1),
            "peak_rss_sampled_mb": round(peak / 2**20, 1),
            "peak_rss_hwm_mb": round(hwm / 2**20, 1) if reset else None,
        }
        print(f"  {hosts}-host deploy: {'ok' if result['ok'] else 'FAILED'} in {wall:.1f}s", flush=True)

    def report(self) -> str:
        out = []
        c = self.figures.get("commands")
        if c:
            rows = [
                [label, c[key]["p50_ms"], c[key]["p99_ms"], c[key]["max_ms"]]
                for label, key in (
                    ("message -> ack of the app_mention envelope", "ack"),
                    ("(envelope sent -> ack)", "ack_envelope"),
                    ("message -> first answer (ephemeral 'starting')", "first_answer"),
                    ("message -> first report message (the run message)", "first_report"),
                    ("message -> run finished (final line)", "done"),
                )
            ]
            out.append(
                f"{c['succeeded']}/{c['commands']} deploys to 2 hosts succeeded in {c['seconds']}s; "
                f"events redelivered: {c['redelivered']}; Web API calls refused with 429: {c['calls_429']} "
                f"{c['calls_429_by_method'] or ''}\n"
            )
            out.append(table(["latency", "p50 ms", "p99 ms", "max ms"], rows))
        f = self.figures.get("fleet")
        if f:
            calls = ", ".join(f"{k} {v}" for k, v in f["calls"].items())
            out.append(
                f"\n{f['hosts']}-host deploy: {'success' if f['ok'] else 'FAILED'} in {f['wall_s']}s "
                f"(message to final line); ack {f['ack_ms']} ms, first report {f['first_report_ms']} ms\n"
                f"Web API calls during it: {f['calls_total']} ({calls}); refused with 429: "
                f"{sum(f['calls_429'].values())} {f['calls_429'] or ''}\n"
                f"bot process RSS: {f['rss_before_mb']} MB before; peak during the deploy {f['peak_rss_hwm_mb']} MB "
                f"(VmHWM), {f['peak_rss_sampled_mb']} MB (sampled)"
            )
        return "\n".join(out)


async def run(args: argparse.Namespace) -> int:
    bench = ChatBench(args)
    try:
        await bench.start()
        if args.commands:
            print(f"\n{args.commands} deploy commands to staging (2 hosts)", flush=True)
            await bench.commands()
        if args.fleet:
            print(f"\none deploy to {args.fleet} hosts", flush=True)
            await bench.big_deploy()
    finally:
        await bench.stop()
    print()
    print(bench.report())
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "figures": bench.figures}, indent=1))
    ok = bench.figures.get("fleet", {}).get("ok", True)
    c = bench.figures.get("commands")
    return 0 if ok and (not c or c["succeeded"] == c["commands"]) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_prerequisites()
    raise_open_files_limit(args.fleet + 2)
    print(f"machine: {machine_line(machine())}", flush=True)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
