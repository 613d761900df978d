"""Zero downtime, measured: constant HTTP load through a real nginx while shipbot deploys a new SHA.

    python -m bench.zero_downtime [--rate 250] [--no-write]

Starts real sshd hosts on loopback (one per scenario), a real nginx per host and the demo app
(``bench/zero_downtime/app``), then for each scenario deploys v1 (not measured), drives load at ``--rate``
requests a second through nginx to ``/version`` for the whole v2 deploy (bounded: at most ``--max-seconds`` and
``rate * max-seconds`` requests; it stops by itself a second after the deploy ends), and counts:

- naive        strategy all, restart = stop the app, then start the new one (the port is closed in between)
- rolling      strategy rolling, restart = a graceful reload (the running app hands its socket to the new one)
- blue_green   the idle colour started and checked on its own port, then nginx swapped and reloaded

It prints requests sent, non-2xx answers, connection errors, p99 latency and when v2 first answered (seconds
after the deploy started), and writes the table into bench/RESULTS.md under "Zero downtime".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aiohttp
import structlog

from bench.zero_downtime import demo
from deploy.config import parse_config
from deploy.engine import Engine
from deploy.events import Outcome
from deploy.ssh import SshConnector
from deploy.store import Store
from tests.support.sshd_fleet import SshdFleet

RESULTS = Path(__file__).resolve().parents[1] / "RESULTS.md"
SCENARIOS = ("naive", "rolling", "blue_green")


@dataclass
class Load:
    sent: int = 0
    ok: int = 0
    non_2xx: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_new: float | None = None  # monotonic time v2 first answered

    def p99_ms(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def drive(url: str, new_sha: str, rate: float, stop: asyncio.Event, max_seconds: float) -> Load:
    """Requests at ``rate`` per second until ``stop`` is set, or the time or count bound is hit."""
    load = Load()
    limit = int(rate * max_seconds)
    timeout = aiohttp.ClientTimeout(total=5)
    connector = aiohttp.TCPConnector(limit=400, force_close=True)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one() -> None:
            began = time.monotonic()
            try:
                async with session.get(url) as response:
                    body = await response.text()
                    if 200 <= response.status < 300:
                        load.ok += 1
                        if new_sha in body and load.first_new is None:
                            load.first_new = time.monotonic()
                    else:
                        load.non_2xx += 1
            except (aiohttp.ClientError, TimeoutError, OSError):
                load.errors += 1
            load.latencies.append(time.monotonic() - began)

        start = time.monotonic()
        while not stop.is_set() and load.sent < limit and time.monotonic() - start < max_seconds:
            due = start + load.sent / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            load.sent += 1
        await asyncio.gather(*tasks)
    return load


def scenario_config(
    fleet: SshdFleet, index: int, repo: Path, scenario: str, nginx: demo.Nginx, ports: dict[str, int]
) -> dict[str, Any]:
    config = fleet.config_yaml(repo=repo, environments={"prod": [index]})
    env = config["environments"]["prod"]
    health = {"run": "./health.sh", "retries": 20, "interval": "0.2s"}
    if scenario == "blue_green":
        config["pipeline"] = {"restart": "./start.sh", "healthcheck": health}
        env["strategy"] = "blue_green"
        env["blue_green"] = {
            "ports": ports,
            "stop": "./stop.sh",
            "nginx": {"upstream_file": "nginx/upstream.conf", **demo.nginx_commands("$SHIPBOT_DEPLOY_TO/nginx")},
            "verify": {"url": f"{nginx.url}/version", "retries": 50, "interval": "0.1s"},
        }
    else:
        config["env"] = {"APP_PORT": str(ports["blue"])}
        health["run"] = f"APP_PORT={ports['blue']} ./health.sh"  # health checks run without the config's env
        config["pipeline"] = {"restart": "./naive.sh" if scenario == "naive" else "./reload.sh", "healthcheck": health}
        if scenario == "rolling":
            env["strategy"] = "rolling"
    return config


async def run(rate: float, max_seconds: float, root: Path) -> dict[str, tuple[Load, float, float]]:
    repo = demo.make_repo(root / "web")
    v1, v2 = repo.sha("main"), repo.sha("v2")
    fleet = SshdFleet(root / "fleet", len(SCENARIOS))
    await fleet.astart()
    nginxes: list[demo.Nginx] = []
    results: dict[str, tuple[Load, float, float]] = {}
    try:
        for index, scenario in enumerate(SCENARIOS):
            host = fleet.hosts[index]
            ports = {"blue": demo.free_port(), "green": demo.free_port()}
            nginx = demo.Nginx(host.local_deploy_to / "nginx", demo.free_port(), "shop", ports["blue"]).start()
            nginxes.append(nginx)
            config = parse_config(scenario_config(fleet, index, repo.path, scenario, nginx, ports), scenario)
            engine = Engine(
                config,
                Store.in_data_dir(root / f"data-{scenario}", SshConnector),
                root / f"data-{scenario}",
                SshConnector,
            )
            first = await engine.deploy("prod", v1, user="bench")
            if first.outcome is not Outcome.SUCCESS:
                raise RuntimeError(f"{scenario}: the first deploy failed: {first.message}")
            stop = asyncio.Event()
            loader = asyncio.create_task(drive(f"{nginx.url}/version", v2, rate, stop, max_seconds))
            await asyncio.sleep(1.0)
            began = time.monotonic()
            result = await engine.deploy("prod", v2, user="bench")
            took = time.monotonic() - began
            if result.outcome is not Outcome.SUCCESS:
                raise RuntimeError(f"{scenario}: the measured deploy failed: {result.message}")
            await asyncio.sleep(1.0)
            stop.set()
            load = await loader
            first_new = (load.first_new - began) if load.first_new else float("nan")
            results[scenario] = (load, took, first_new)
            print(f"  {scenario}: done ({load.sent} requests)", file=sys.stderr, flush=True)
    finally:
        for n in nginxes:
            n.stop()
        for host in fleet.hosts:
            demo.stop_apps(host.local_deploy_to)
        fleet.stop()
    return results


def table(results: dict[str, tuple[Load, float, float]], rate: float) -> str:
    lines = [
        "| strategy | requests sent | non-2xx | connection errors | p99 latency | deploy took | v2 first answered |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (load, took, first_new) in results.items():
        lines.append(
            f"| {name} | {load.sent} | {load.non_2xx} | {load.errors} | {load.p99_ms():.1f} ms | {took:.1f} s | "
            f"{first_new:.2f} s after the deploy started |"
        )
    return "\n".join(lines)


def write_results(text: str) -> None:
    head = "## Zero downtime"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = old.find(head)
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(head))
        new = old[:start] + text + (old[end + 1 :] if end != -1 else "")
    RESULTS.write_text(new.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zero_downtime", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=250.0, help="requests a second (default 250)")
    parser.add_argument("--max-seconds", type=float, default=40.0, help="load bound per scenario (default 40)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    if not demo.nginx_available():
        print(f"nginx is not installed ({demo.NGINX})", file=sys.stderr)
        return 2
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="shipbot-zero-downtime-") as tmp:
        results = asyncio.run(run(args.rate, args.max_seconds, Path(tmp)))
    out = table(results, args.rate)
    print(out)
    if not args.no_write:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = f"{os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, {platform.system()}"
        write_results(
            "## Zero downtime\n\n"
            f"`python -m bench.zero_downtime` on {when}; {machine}. Load: {args.rate:g} requests a second "
            "through nginx to the demo app's `/version` for the whole deploy of a new SHA to one host (one sshd "
            "host on loopback per strategy, shipbot's real engine over SSH), starting a second before and ending "
            "a second after.\n\n"
            + out
            + "\n\n- naive: `strategy: all`, restart stops the app and starts the new one: nginx answers 502 while "
            "the port is closed.\n- rolling: restart is a graceful reload (the old process hands its listening "
            "socket to the new one, then drains).\n- blue_green: the idle colour starts on its own port and is "
            "health-checked; then the upstream is swapped, `nginx -t`, `nginx -s reload` (graceful), and the new "
            "SHA is verified through nginx.\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
