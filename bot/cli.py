"""The ``shipbot`` command line: what operators and scripts use (outside checks call exactly these).

::

    shipbot deploy ENV [REF] [--config FILE] [--hosts FILTER] [--dry-run] [--yes]
    shipbot rollback ENV [--to RELEASE] [--config FILE]
    shipbot status ENV [--config FILE] [--json]
    shipbot task NAME ENV [--config FILE] [--hosts FILTER]
    shipbot check [--config FILE] [--connect]
    shipbot history ENV [--config FILE] [--json] [--limit N]
    shipbot parse TEXT [--config FILE] [--user UID] [--channel CID] --json
    shipbot run            the Slack bot, production mode
    shipbot demo           the bot on embedded defaults: local Slack emulator, local SSH hosts, SQLite

Exit codes: 0 success, 1 the run failed (and the fleet was put back), 2 bad usage or config,
3 the environment is locked or busy. Progress goes to stderr, results (``--json``) to stdout, logs to stderr
as JSON (level from SHIPBOT_LOG_LEVEL, default WARNING) so they never mix with a script's stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import logs
from bot.progress import TerminalProgress
from deploy.config import Config, load_config
from deploy.engine import Engine
from deploy.errors import ShipbotError
from deploy.events import BatchGate, Outcome, RunFinished
from deploy.ids import utc_minute
from deploy.ssh import SshConnector
from deploy.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def default_data_dir() -> Path:
    env = os.environ.get("SHIPBOT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shipbot"


def default_config() -> str:
    return os.environ.get("SHIPBOT_CONFIG", "shipbot.yml").split(",")[0]


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="config file (default: $SHIPBOT_CONFIG or ./shipbot.yml)")
    p.add_argument(
        "--data-dir", default=None, help="state folder (default: $SHIPBOT_DATA_DIR or ~/.local/share/shipbot)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shipbot", description="Deploy one pinned commit to a whole fleet over SSH.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("deploy", help="deploy a ref to an environment")
    p.add_argument("environment")
    p.add_argument("ref", nargs="?", default=None, help="branch, tag or SHA (default: the environment's ref)")
    p.add_argument("--hosts", default=None, help="only hosts with this role or address")
    p.add_argument("--user", default=None, help="who deploys (default: your login name)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--verbose", "-v", action="store_true", help="show every step's output")
    p.add_argument("--yes", "-y", action="store_true", help="with pause: true, go on between batches without asking")
    _add_common(p)

    p = sub.add_parser("rollback", help="go back to the previous good release")
    p.add_argument("environment")
    p.add_argument("--to", default=None, help="a release id or SHA instead of the previous good release")
    p.add_argument("--user", default=None)
    _add_common(p)

    p = sub.add_parser("status", help="which release and SHA each host runs")
    p.add_argument("environment")
    p.add_argument("--json", action="store_true")
    _add_common(p)

    p = sub.add_parser("task", help="run a named task from the config")
    p.add_argument("name")
    p.add_argument("environment")
    p.add_argument("--hosts", default=None)
    p.add_argument("--user", default=None)
    _add_common(p)

    p = sub.add_parser("check", help="validate the config; --connect reaches every host")
    p.add_argument("--connect", action="store_true")
    _add_common(p)

    p = sub.add_parser("history", help="past runs from the store")
    p.add_argument("environment")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    _add_common(p)

    p = sub.add_parser("parse", help="how shipbot reads a chat message, and whether that user may run it there")
    p.add_argument("text")
    p.add_argument("--user", default="U0000000")
    p.add_argument("--channel", default="C0000000")
    p.add_argument("--json", action="store_true", help="print JSON (the only output form)")
    _add_common(p)

    sub.add_parser("run", help="run the Slack bot (production mode; settings from the environment)")

    p = sub.add_parser("demo", help="the bot on embedded defaults: local Slack emulator, SSH hosts, SQLite")
    p.add_argument("--port", type=int, default=None, help="the emulator's web page port (default 8765)")
    p.add_argument("--data-dir", default=None)
    return parser


def _load(args: argparse.Namespace) -> tuple[Config, Engine, Store]:
    config = load_config(args.config or default_config())
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    store = Store.in_data_dir(data_dir)
    store.recover()
    return config, Engine(config, store, data_dir, SshConnector), store


def _exit_for(result: RunFinished) -> int:
    return EXIT_OK if result.outcome is Outcome.SUCCESS else EXIT_FAILED


async def _ask_to_continue(gate: BatchGate) -> bool:
    """The terminal's pause between batches: ``Continue to batch 2/3 (10 hosts)? [y/N]``; no answer is No."""
    failed = f" ({len(gate.failures)} failed so far: {', '.join(gate.failures)})" if gate.failures else ""
    sys.stderr.write(
        f"{len(gate.hosts_done)} host(s) done{failed}. "
        f"Continue to batch {gate.batch}/{gate.total} ({len(gate.hosts_next)} hosts)? [y/N] "
    )
    sys.stderr.flush()
    answer = await asyncio.to_thread(sys.stdin.readline)
    return answer.strip().lower() in ("y", "yes")


async def _go_on(gate: BatchGate) -> bool:
    return True


async def _deploy(args: argparse.Namespace) -> int:
    _, engine, _ = _load(args)
    result = await engine.deploy(
        args.environment,
        args.ref,
        user=args.user or getpass.getuser(),
        hosts_filter=args.hosts,
        sink=TerminalProgress(verbose=args.verbose),
        dry_run=args.dry_run,
        gate=_go_on if args.yes else _ask_to_continue,
    )
    return _exit_for(result)


async def _rollback(args: argparse.Namespace) -> int:
    _, engine, _ = _load(args)
    result = await engine.rollback(
        args.environment, to=args.to, user=args.user or getpass.getuser(), sink=TerminalProgress()
    )
    return _exit_for(result)


async def _task(args: argparse.Namespace) -> int:
    _, engine, _ = _load(args)
    result = await engine.run_task(
        args.name,
        args.environment,
        user=args.user or getpass.getuser(),
        hosts_filter=args.hosts,
        sink=TerminalProgress(verbose=True),
    )
    return _exit_for(result)


async def _status(args: argparse.Namespace) -> int:
    _, engine, _ = _load(args)
    status = await engine.status(args.environment)
    if args.json:
        print(json.dumps(status.as_json()))
    else:
        verdict = "consistent" if status.consistent else "NOT consistent"
        print(f"{status.app} {status.environment}: {verdict}")
        for h in status.hosts:
            if not h.reachable:
                print(f"  {h.address}: unreachable - {h.error}")
            else:
                print(f"  {h.address}: {h.release or 'no release'} {(h.sha or '')[:12]}")
        if status.lock:
            print(f"  locked by {status.lock.owner}: {status.lock.reason}")
        if status.active_run:
            print(f"  running: {status.active_run.run_id} by {status.active_run.user}")
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    _, engine, _ = _load(args)
    runs = engine.history(args.environment, args.limit)
    if args.json:
        print(json.dumps([{**r.__dict__, "duration": r.duration} for r in runs]))
        return EXIT_OK
    for r in runs:
        when = utc_minute(r.started_at)
        print(f"{when}  {r.run_id}  {r.kind:<8} {r.state:<11} {r.user:<12} {r.ref} {r.sha[:12]}  {r.message}")
    if not runs:
        print(f"no runs recorded for {args.environment} yet")
    return EXIT_OK


async def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config or default_config())
    hosts = sum(len(e.hosts) for e in config.environments.values())
    envs = len(config.environments)
    print(f"{args.config or default_config()}: ok ({config.app}, {envs} environment(s), {hosts} host(s))")
    if not args.connect:
        return EXIT_OK
    _, engine, _ = _load(args)
    bad = 0
    for env in config.environments:
        status = await engine.status(env)
        for h in status.hosts:
            if h.reachable:
                print(f"  {env} {h.address}: reachable")
            else:
                bad += 1
                print(f"  {env} {h.address}: UNREACHABLE - {h.error}")
    return EXIT_OK if bad == 0 else EXIT_FAILED


def _parse(args: argparse.Namespace) -> int:
    from commands.parse_report import parse_report  # noqa: PLC0415 (the chat grammar loads only for this command)

    configs = [load_config(p) for p in (args.config or os.environ.get("SHIPBOT_CONFIG", "shipbot.yml")).split(",")]
    report = parse_report(args.text, configs, args.user, args.channel)
    print(json.dumps(report))
    return EXIT_OK if "error" not in report else EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("run", "demo"):
        from bot.main import main as bot_main  # noqa: PLC0415 (Slack libraries load only for the bot)

        return bot_main(args)
    logs.configure(
        os.environ.get("SHIPBOT_LOG_FORMAT", "json"), os.environ.get("SHIPBOT_LOG_LEVEL", "WARNING"), sys.stderr
    )
    try:
        if args.command == "history":
            return _history(args)
        if args.command == "parse":
            return _parse(args)
        runner = {"deploy": _deploy, "rollback": _rollback, "status": _status, "task": _task, "check": _check}
        return asyncio.run(runner[args.command](args))
    except ShipbotError as exc:
        print(f"shipbot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("shipbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
