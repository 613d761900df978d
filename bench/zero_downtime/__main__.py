"""Zero downtime, measured on every path: steady HTTP load through a real nginx per host while shipbot deploys,
fails, is cancelled and rolls back.

    python -m bench.zero_downtime [--hosts 4] [--rate 200] [--config-weight 200000] [--strategy S] [--no-write]

Starts ``--hosts`` real sshd hosts on loopback, each with its own nginx (its config weighted with a large ``map``
so a reload lags as a production one does) and the demo app (``bench/zero_downtime/app``). For each strategy it
deploys v1 (not measured), then measures each path under load at ``--rate`` requests a second in all, round robin
over the hosts' nginx, to ``/version`` (bounded: at most ``--max-seconds`` and ``rate * max-seconds`` requests; it
stops by itself a second after the run ends):

- good          a deploy that succeeds
- healthcheck   a deploy whose health check fails: put back
- late failure  the last host fails after the others switched (blue_green: its ``nginx -t``; else its health check)
- cancel        a deploy cancelled 50 ms after its first switch step started
- rollback      a rollback to the release before
- keep_old 0    (blue_green) a deploy that stops the old colour right after the run
- killed mid-swap, recovered  (blue_green) ``shipbot deploy`` in a process of its own, SIGKILLed while its swap is
                in flight (nginx already reloaded onto the new colour), then ``shipbot recover``
                (:mod:`bench.zero_downtime.crash`): traffic must end on the colour live before, with no failure

Strategies: naive (strategy all, restart = stop then start: the reference that does fail), rolling (restart is a
graceful reload: the running app hands its socket to the new one), blue_green (``nginx.pid_file`` set). Each row:
requests sent, non-2xx, connection errors, p99 latency, which versions answered; written into bench/RESULTS.md
under "Zero downtime".
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import structlog
import yaml

from bench.zero_downtime import crash, demo
from bench.zero_downtime.load import Load, Under
from deploy.config.models import parse_config
from deploy.events import Event, HostStepStarted, Outcome, RunFinished
from deploy.hosts.ssh import SshConnector
from deploy.run.engine import Engine
from deploy.store.tables import Store
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import SshdFleet

RESULTS = Path(__file__).resolve().parents[1] / "RESULTS.md"
STRATEGIES = ("naive", "rolling", "blue_green")
PATHS = ("good", "healthcheck", "late failure", "cancel", "rollback", "keep_old 0", "killed mid-swap, recovered")
SWITCH_STEP = {"naive": "restart", "rolling": "restart", "blue_green": "nginx swap"}
PORT = "APP_PORT=$(cat ../../port)"  # rolling and naive: each host's app port, in <deploy_to>/port


@dataclass
class Row:
    strategy: str
    path: str
    outcome: str
    load: Load


def strategy_config(
    fleet: SshdFleet, repo: Path, strategy: str, nginxes: list[demo.Nginx], ports: list[dict[str, int]], keep_old: float
) -> dict[str, Any]:
    config = fleet.config_yaml(repo=repo, environments={"prod": list(range(len(fleet.hosts)))})
    env = config["environments"]["prod"]
    last = len(fleet.hosts) - 1
    env["batches"] = [last, "100%"]  # the last host alone in the last batch: it fails after the others switched
    if strategy == "naive":
        del env["batches"]
    health = {"run": "test ! -e ../../FAIL_HEALTH && ./health.sh", "retries": 20, "interval": "0.2s"}
    if strategy == "blue_green":
        config["pipeline"] = {"restart": "./start.sh", "healthcheck": health}
        env["strategy"] = "blue_green"
        env["blue_green"] = {
            "ports": ports[0],
            "stop": "./stop.sh",
            "keep_old": keep_old,
            "nginx": {
                "upstream_file": "nginx/upstream.conf",
                "pid_file": "nginx/nginx.pid",
                **demo.nginx_commands("$SHIPBOT_DEPLOY_TO/nginx"),
            },
            "verify": {"url": "http://127.0.0.1/version", "retries": 100, "interval": "0.1s"},
        }
        for entry, n, own in zip(env["hosts"], nginxes, ports, strict=True):
            entry["blue_green"] = {"ports": own, "verify_url": f"{n.url}/version"}
        health["run"] = "test ! -e ../FAIL_HEALTH && ./health.sh"
    else:
        health["run"] = f"test ! -e ../../FAIL_HEALTH && {PORT} ./health.sh"
        restart = "./naive.sh" if strategy == "naive" else "./reload.sh"
        config["pipeline"] = {"restart": f"{PORT} {restart}", "healthcheck": health}
        env["strategy"] = "all" if strategy == "naive" else "rolling"
    return config


async def measure(
    nginxes: list[demo.Nginx], rate: float, max_seconds: float, names: dict[str, str],
    run: Callable[[], Awaitable[RunFinished | None]],
) -> tuple[str, Load]:  # fmt: skip
    async with Under([f"{n.url}/version" for n in nginxes], rate, max_seconds, names, lead=1.0, tail=1.0) as load:
        try:
            finished = await run()
            outcome = finished.outcome.value if finished else "?"
        except asyncio.CancelledError:
            outcome = "cancelled"
    return outcome, load


async def one_strategy(
    strategy: str, root: Path, repo: GitRepo, hosts: int, rate: float, max_seconds: float, weight: int
) -> list[Row]:
    names = {repo.sha("main"): "v1", repo.sha("v2"): "v2", repo.sha("broken-health"): "v3"}
    fleet = SshdFleet(root / f"fleet-{strategy}", hosts)
    await fleet.astart()
    nginxes: list[demo.Nginx] = []
    rows: list[Row] = []
    try:
        ports = [{"blue": demo.free_port(), "green": demo.free_port()} for _ in fleet.hosts]
        for host, own in zip(fleet.hosts, ports, strict=True):
            host.local_deploy_to.mkdir(parents=True, exist_ok=True)
            (host.local_deploy_to / "port").write_text(f"{own['blue']}\n")
            nginx = demo.Nginx(host.local_deploy_to / "nginx", demo.free_port(), "shop", own["blue"], weight)
            nginxes.append(nginx.start())

        def engine(keep_old: float = 600.0) -> Engine:
            config = parse_config(strategy_config(fleet, repo.path, strategy, nginxes, ports, keep_old), strategy)
            data = root / f"data-{strategy}"
            return Engine(config, Store.in_data_dir(data), data, SshConnector)

        main = engine()
        first = await main.deploy("prod", "main", user="bench")
        if first.outcome is not Outcome.SUCCESS:
            raise RuntimeError(f"{strategy}: the first deploy failed: {first.message}")

        async def row(path: str, run: Callable[[], Awaitable[RunFinished | None]]) -> None:
            outcome, load = await measure(nginxes, rate, max_seconds, names, run)
            rows.append(Row(strategy, path, outcome, load))
            print(f"  {strategy} / {path}: {outcome}; {load.summary()}", file=sys.stderr, flush=True)

        await row("good", lambda: main.deploy("prod", "v2", user="bench"))
        await row("healthcheck", lambda: main.deploy("prod", "broken-health", user="bench"))
        last = fleet.hosts[-1].local_deploy_to
        breaker = nginxes[-1].prefix / "conf.d" / "broken.conf"
        if strategy == "blue_green":
            breaker.write_text("this_is_not_nginx;\n")
        else:
            (last / "FAIL_HEALTH").touch()
        await row("late failure", lambda: main.deploy("prod", "main", user="bench"))
        breaker.unlink(missing_ok=True)
        (last / "FAIL_HEALTH").unlink(missing_ok=True)

        async def cancelled() -> RunFinished | None:
            loop = asyncio.get_running_loop()
            handles: list[asyncio.TimerHandle] = []

            def sink(event: Event) -> None:
                if isinstance(event, HostStepStarted) and event.step == SWITCH_STEP[strategy] and not handles:
                    handles.append(loop.call_later(0.05, task.cancel))

            task = asyncio.create_task(main.deploy("prod", "main", user="bench", sink=sink))
            await task
            return None

        await row("cancel", cancelled)
        again = await main.deploy("prod", "main", user="bench")  # not measured: something to roll back from
        if again.outcome is not Outcome.SUCCESS:
            raise RuntimeError(f"{strategy}: the deploy before the rollback failed: {again.message}")
        await row("rollback", lambda: main.rollback("prod", user="bench"))
        if strategy == "blue_green":
            await row("keep_old 0", lambda: engine(0.0).deploy("prod", "main", user="bench"))
            rows.append(await killed_mid_swap(root, fleet, repo, nginxes, ports, rate, max_seconds, names))
    finally:
        for n in nginxes:
            n.stop()
        for host in fleet.hosts:
            demo.stop_apps(host.local_deploy_to)
        fleet.stop()
    return rows


async def killed_mid_swap(
    root: Path, fleet: SshdFleet, repo: GitRepo, nginxes: list[demo.Nginx], ports: list[dict[str, int]],
    rate: float, max_seconds: float, names: dict[str, str],
) -> Row:  # fmt: skip
    """A ``shipbot deploy`` of v2 SIGKILLed mid-swap, then ``shipbot recover`` (blue_green, keep_old 10m)."""
    config = strategy_config(fleet, repo.path, "blue_green", nginxes, ports, 600.0)
    bg_nginx = config["environments"]["prod"]["blue_green"]["nginx"]
    bg_nginx["reload"] = crash.holding_reload(bg_nginx["reload"])
    path = root / "blue_green.yml"
    path.write_text(yaml.safe_dump(config))
    said: list[str] = []

    async def killed() -> None:
        code, out = await crash.kill_mid_swap_then_recover(
            path, root / "data-blue_green", "prod", "v2", [h.local_deploy_to for h in fleet.hosts]
        )
        said.append("recovered" if code == 0 else f"recover exit {code}: {out.strip()[-300:]}")

    # two shipbot processes start (a deploy, a recover) besides the run itself: a longer bound than the other paths
    outcome, load = await measure(nginxes, rate, max(max_seconds, 150.0), names, killed)
    row = Row("blue_green", "killed mid-swap, recovered", said[0] if said else outcome, load)
    print(f"  blue_green / {row.path}: {row.outcome}; {load.summary()}", file=sys.stderr, flush=True)
    return row


async def run(
    hosts: int, rate: float, max_seconds: float, weight: int, root: Path, strategies: tuple[str, ...] = STRATEGIES
) -> list[Row]:
    repo = demo.make_repo(root / "web")
    rows: list[Row] = []
    for strategy in strategies:
        rows += await one_strategy(strategy, root, repo, hosts, rate, max_seconds, weight)
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| strategy | path | run ended | requests sent | non-2xx | connection errors | p99 latency "
        "| versions that answered |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        load = r.load
        lines.append(
            f"| {r.strategy} | {r.path} | {r.outcome} | {load.sent} | {load.non_2xx} | {load.errors} | "
            f"{load.p99_ms():.1f} ms | {load.answered()} |"
        )
    return "\n".join(lines)


def write_results(text: str) -> None:
    """Put ``text`` first in the "Zero downtime" section; the earlier figures stay below it."""
    head = "## Zero downtime\n"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = old.find(head)
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + head + "\n" + text
    else:
        at = start + len(head)
        rest = old[at:]
        kept = "The one-host figures below"
        if rest.lstrip("\n").startswith("### Every path") and kept in rest:  # a rerun replaces its own figures
            rest = rest[rest.index("\n", rest.index(kept)) + 1 :]
        new = old[:at] + "\n" + text.rstrip("\n") + "\n" + rest
    RESULTS.write_text(new.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zero_downtime", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=4, help="hosts per strategy, each with its own nginx (default 4)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second over all hosts (default 200)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="load bound per path (default 60)")
    parser.add_argument(
        "--config-weight", type=int, default=200_000, help="map entries in each nginx config (default 200000)"
    )
    parser.add_argument("--strategy", choices=STRATEGIES, action="append", help="only these (default: every one)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    if not demo.nginx_available():
        print(f"nginx is not installed ({demo.NGINX})", file=sys.stderr)
        return 2
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shipbot-zero-downtime-") as tmp:
        strategies = tuple(args.strategy or STRATEGIES)
        rows = asyncio.run(run(args.hosts, args.rate, args.max_seconds, args.config_weight, Path(tmp), strategies))
    out = table(rows)
    print(out)
    if not args.no_write:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = f"{os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, {platform.system()}"
        write_results(
            f"### Every path, {args.hosts} hosts\n\n"
            f"`python -m bench.zero_downtime` on {when} ({time.monotonic() - began:.0f} s); {machine}. "
            f"{args.hosts} sshd hosts on loopback per strategy, each behind its own nginx (config weighted with a "
            f"{args.config_weight}-entry `map`, so a reload lags as a production one does), shipbot's real engine "
            f"over SSH. Load: {args.rate:g} requests a second in all, round robin over the hosts' nginx, to the demo "
            "app's `/version`, from a second before each run until a second after. `late failure`: the last host "
            "(alone in the last batch) fails after the others switched: its `nginx -t` for blue_green, its health "
            "check otherwise. `cancel`: cancelled 50 ms after the first switch step started (`nginx swap`, or "
            "`restart`). blue_green sets `nginx.pid_file`. `killed mid-swap, recovered`: `shipbot deploy` in a process "
            "of its own SIGKILLed once nginx reloaded onto the new colour, then `shipbot recover`; its 'run ended' "
            "column says whether recover repaired it.\n\n" + out + "\n\n"
            "The one-host figures below, from before every path was measured, are kept for comparison.\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
