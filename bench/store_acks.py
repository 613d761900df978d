"""``python -m bench.store_acks``: what the store costs the bot as people meet it, on SQLite and on PostgreSQL.

    python -m bench.store_acks                       # both engines, 20 hosts, 5 rounds of 20 commands
    python -m bench.store_acks --engines postgresql --hosts 50 --rounds 10

Needs root (sshd hosts logging in the dedicated user ``shipbench``). As :mod:`bench.chat` does: the Slack emulator in
this process, real sshd hosts on loopback, and the bot as its own process (``shipbot run``, Socket Mode) with its
store on a SQLite file in its data dir, or on a fresh PostgreSQL database on ``--pg`` (dropped afterwards).

1. **Store cost per host step**: one ``deploy fleet`` to ``--hosts`` hosts; the bot's own ``/metrics``
   (``shipbot_store_seconds``: every statement and transaction, timed where it runs) read before and after, divided
   by the host steps the run recorded (rows of ``host_steps``): milliseconds of store time and store calls per host
   step; and the bot process's CPU time (user + system) during the deploy per host step. The store's milliseconds
   add up each statement's duration where it ran: on the event loop one after another (before the door), or on the
   store's threads side by side, where they include waiting for each other (a pooled connection, SQLite's one
   writer, the GIL), so they are not CPU and not time the loop was held. The deploy's wall time is given too.
2. **Acknowledgement under 20 concurrent commands**: a second ``deploy fleet`` is started, and while it runs,
   ``--rounds`` times ``--concurrent`` commands (``status staging``, ``history staging``, ``help``, ``locks``
   in turn) are posted at once over the channels; each one's acknowledgement (from the message to the bot's ack of
   every envelope Slack sent for it) is timed: p50, p99, max, and how many Slack had to send again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.chat import USER, BotProcess, ChatBench
from bench.common import (
    check_prerequisites,
    controller_env,
    machine,
    machine_line,
    percentile,
    raise_open_files_limit,
    reset_hosts,
    table,
)
from bench.store import pg_answers, postgres
from deploy.store.database import Database, sqlite_url
from tests.bot.conftest import free_port

COMMANDS = ("status staging", "history staging", "help", "locks")
_METRIC = re.compile(r'^shipbot_store_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$')


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.store_acks", description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--hosts", type=int, default=20, help="hosts of the measured deploys (%(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of concurrent commands (%(default)s)")
    parser.add_argument("--concurrent", type=int, default=20, help="commands posted at once (%(default)s)")
    parser.add_argument("--channels", type=int, default=8, help="channels the commands rotate over (%(default)s)")
    parser.add_argument("--pg", default="127.0.0.1:5432", help="PostgreSQL host:port (user postgres, trust auth)")
    parser.add_argument("--label", default="", help="a name for this run in the output (e.g. before, after)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    # what bench.chat's ChatBench reads
    args.fleet, args.concurrency, args.update_interval = args.hosts, 50, 1.0
    return args


class StoreBench(ChatBench):
    """:class:`bench.chat.ChatBench` with the store on ``database_url`` (None: the SQLite file), ``/metrics`` read."""

    def __init__(self, args: argparse.Namespace, database_url: str | None) -> None:
        super().__init__(args)
        self.database_url = database_url
        self.ops_port = free_port()

    async def start(self) -> None:
        self.fleet.prepare()
        await self.fleet.astart()
        reset_hosts(self.fleet, len(self.fleet.hosts), {"VERSION": "base\n"})
        await self.emu.start()
        self.bot_id = self.emu.workspace.bot.bot_id
        env = controller_env(
            self.work / "bot-home",
            SLACK_BOT_TOKEN=self.emu.bot_token,
            SLACK_APP_TOKEN=self.emu.app_token,
            SLACK_API_URL=self.emu.api_url,
            SHIPBOT_CONFIG=str(self.write_config()),
            SHIPBOT_DATA_DIR=str(self.work / "data"),
            SHIPBOT_OPS_PORT=str(self.ops_port),
            SHIPBOT_LOG_FORMAT="json",
            SHIPBOT_LOG_LEVEL="WARNING",
            SHIPBOT_UPDATE_INTERVAL=str(self.args.update_interval),
            SHIPBOT_ON_SHUTDOWN="cancel",
            **({"SHIPBOT_DATABASE_URL": self.database_url} if self.database_url else {}),
        )
        self.bot = BotProcess(env, self.work / "bot.log")
        if not await self.emu.wait_connections(1, 60):
            raise SystemExit(f"the bot did not connect; see {self.bot.log}")

    @property
    def url(self) -> str:
        return self.database_url or sqlite_url(self.work / "data" / "shipbot.sqlite3")

    def store_seconds(self) -> dict[str, float]:
        """``shipbot_store_seconds`` sums and counts, summed over kinds, from the bot's ``/metrics``."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ops_port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        out = {"sum": 0.0, "count": 0.0}
        for line in text.splitlines():
            m = _METRIC.match(line)
            if m:
                out[m.group(1)] += float(m.group(3))
        return out

    def last_run(self) -> tuple[str, int]:
        """The newest run's id and how many host steps it recorded."""
        db = Database(self.url, upgrade=False)
        try:
            row = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
            assert row is not None
            count = db.execute("SELECT COUNT(*) FROM host_steps WHERE run_id = ?", (row[0],)).fetchone()
            return str(row[0]), int(count[0]) if count else 0
        finally:
            db.close()

    def cpu_seconds(self) -> float:
        """User + system CPU the bot process has used (its /proc stat)."""
        assert self.bot is not None
        fields = Path(f"/proc/{self.bot.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def step_cost(self) -> dict[str, Any]:
        before = await asyncio.to_thread(self.store_seconds)
        cpu = self.cpu_seconds()
        started = time.monotonic()
        result = await self.deploy("fleet", "#deploys", 600)
        wall = time.monotonic() - started
        cpu = self.cpu_seconds() - cpu
        after = await asyncio.to_thread(self.store_seconds)
        run_id, steps = await asyncio.to_thread(self.last_run)
        spent, calls = after["sum"] - before["sum"], after["count"] - before["count"]
        return {
            "ok": result["ok"],
            "run_id": run_id,
            "host_steps": steps,
            "deploy_s": round(wall, 2),
            "store_ms_per_host_step": round(spent * 1000 / max(1, steps), 3),
            "store_calls_per_host_step": round(calls / max(1, steps), 2),
            "bot_cpu_ms_per_host_step": round(cpu * 1000 / max(1, steps), 2),
        }

    async def acked(self, channel: str, ts: str) -> tuple[float, int]:
        """Seconds from the message to the ack of every envelope Slack sent for it; how many were sent again."""
        deliveries: list[Any] = []
        for _ in range(200):
            deliveries = [
                d
                for d in self.emu.core.dispatcher.deliveries.values()
                if (d.payload.get("event") or {}).get("ts") == ts
                and (d.payload.get("event") or {}).get("channel") == channel
            ]
            if deliveries:
                break
            await asyncio.sleep(0.01)
        for d in deliveries:
            await self.emu.wait_acked(d, 120)
        posted = self.emu.workspace.get_message(channel, ts)
        assert posted is not None
        last = max(min(a.acked_at for a in d.attempts if a.acked_at is not None) for d in deliveries)
        return last - posted.posted_at, sum(len(d.attempts) - 1 for d in deliveries)

    async def acks(self) -> dict[str, Any]:
        channels = [self.emu.channel_id(c) for c in ["#deploys"] + [f"#bench-{i}" for i in range(1, 8)]]
        channels = channels[: max(1, self.args.channels)]
        reset_hosts(self.fleet, len(self.fleet.hosts), {"VERSION": "base\n"})
        deploy = asyncio.create_task(self.deploy("fleet", "#deploys", 600))
        await asyncio.sleep(1.0)  # the run has started writing
        latencies: list[float] = []
        resent = 0
        for _ in range(self.args.rounds):
            posted = []
            for i in range(self.args.concurrent):
                channel = channels[i % len(channels)]
                text = f"<@{self.emu.bot_user_id}> {COMMANDS[i % len(COMMANDS)]}"
                posted.append((channel, await self.emu.post_message(USER, channel, text)))
            for seconds, again in await asyncio.gather(*(self.acked(c, ts) for c, ts in posted)):
                latencies.append(seconds * 1000)
                resent += again
            await asyncio.sleep(1.0)
        during = not deploy.done()
        result = await deploy
        return {
            "n": len(latencies),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1),
            "resent": resent,
            "deploy_ok": result["ok"],
            "all_during_the_deploy": during,
        }


@contextlib.contextmanager
def database(engine: str, pg: str) -> Iterator[str | None]:
    if engine == "sqlite":
        yield None
        return
    host, port = pg.rsplit(":", 1)
    if not pg_answers(host, int(port)):
        raise SystemExit(f"PostgreSQL does not answer on {pg}")
    with postgres(host, int(port)) as url:
        Database(url).close()  # migrated before the bot starts
        yield url


async def one_engine(args: argparse.Namespace, url: str | None) -> dict[str, Any]:
    bench = StoreBench(args, url)
    try:
        await bench.start()
        figures = {"step_cost": await bench.step_cost(), "acks": await bench.acks()}
    finally:
        await bench.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_prerequisites()
    raise_open_files_limit(args.hosts + 2)
    info = machine()
    print(f"machine: {machine_line(info)}", flush=True)
    figures: dict[str, Any] = {}
    for engine in args.engines:
        with database(engine, args.pg) as url:
            print(f"\n{engine}: {args.hosts}-host deploys, {args.rounds} x {args.concurrent} commands", flush=True)
            figures[engine] = asyncio.run(one_engine(args, url))
    label = f" ({args.label})" if args.label else ""
    rows = []
    for engine, f in figures.items():
        s, a = f["step_cost"], f["acks"]
        rows.append([
            engine + label, s["host_steps"], s["deploy_s"], s["store_ms_per_host_step"], s["store_calls_per_host_step"],
            s["bot_cpu_ms_per_host_step"], a["n"], a["p50_ms"], a["p99_ms"], a["max_ms"], a["resent"],
        ])  # fmt: skip
    print()
    print(
        table(
            [
                "engine", "host steps", "deploy s", "store ms / host step", "store calls / host step",
                "bot CPU ms / host step", "acks", "ack p50 ms", "ack p99 ms", "ack max ms", "sent again",
            ],
            rows,
        )
    )  # fmt: skip
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "label": args.label, "figures": figures}, indent=1))
    ok = all(f["step_cost"]["ok"] and f["acks"]["deploy_ok"] for f in figures.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
