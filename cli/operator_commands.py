"""The operator commands (``deploy``, ``rollback``, ``converge``, ``status``, ``task``, ``check``, ``history``,
``parse``, ``recover``, ``db``): each
takes the parsed arguments and the operator's settings and returns the process's exit code.

Progress goes to stderr (:class:`~cli.progress.TerminalProgress`), results to stdout; engines come from the
composition root (:func:`cli.root.build_engine`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
import threading
from collections.abc import Awaitable
from pathlib import Path

from cli import dry_runs
from cli.progress import TerminalProgress
from cli.root import build_engine, connection_problems, open_store
from cli.settings import OperatorSettings
from commands.parse_report import parse_report
from commands.reply_texts import promotion_rule
from deploy.config import load_config
from deploy.database import SQLITE_FILE, Database, sqlite_url
from deploy.discovery import discover
from deploy.engine import Engine
from deploy.errors import ConfigError, NothingToConverge, PromotionRefused, UsageError
from deploy.events import BatchGate, Outcome, RunFinished
from deploy.ids import utc_minute
from deploy.plan import environment_hosts, migrate_problems
from deploy.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def _config_path(args: argparse.Namespace, settings: OperatorSettings) -> str:
    return str(args.config or settings.first_config)


def _config_folder(args: argparse.Namespace, settings: OperatorSettings) -> Path:
    """Where inventory commands run: the config file's folder."""
    return Path(_config_path(args, settings)).resolve().parent


def _engine(args: argparse.Namespace, settings: OperatorSettings) -> Engine:
    config = load_config(_config_path(args, settings))
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else settings.data_dir
    store = open_store(settings, data_dir)
    _opened.append(store)
    return build_engine(config, store, data_dir, Path(_config_path(args, settings)))


_opened: list[Store] = []  # the stores the running command opened, closed by close_stores when it returns


def close_stores() -> None:
    """Return the database connections the command's stores hold (PostgreSQL: its pool)."""
    while _opened:
        _opened.pop().close()


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
    answer = await _read_line()
    return answer.strip().lower() in ("y", "yes")


async def _read_line() -> str:
    """A line of standard input, read in a daemon thread: when the pause is answered from chat instead (a control
    request, :mod:`deploy.controls`), the unread prompt does not keep the process from exiting."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        text = sys.stdin.readline()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for the answer any more
            loop.call_soon_threadsafe(lambda: None if line.done() else line.set_result(text))

    threading.Thread(target=read, name="pause-prompt", daemon=True).start()
    return await line


async def _go_on(gate: BatchGate) -> bool:
    return True


async def _cancellable(engine: Engine, run: Awaitable[RunFinished]) -> int:
    """The run's exit code; a run cancelled from chat (a control request, :mod:`deploy.controls`) exits 1 saying who
    cancelled it, once its hosts are back."""
    try:
        return _exit_for(await run)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if engine.cancelled_by is None or task is None or task.cancelling() > 1:
            raise  # Ctrl-C, or a cancel that did not come from a control request
        task.uncancel()
        print(f"shipbot: cancelled by {engine.cancelled_by} from chat; the hosts were put back", file=sys.stderr)
        return EXIT_FAILED


async def deploy(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """A deploy; with ``--dry-run`` the plan and what it would ship, changing nothing (exit 2 when it would be
    refused); a commit the promotion order refuses exits 2 before anything changes, unless ``--force``."""
    if args.json and not args.dry_run:
        raise UsageError("--json goes with --dry-run: a deploy reports its progress on stderr")
    engine = _engine(args, settings)
    user = args.user or getpass.getuser()
    if args.dry_run:
        dry = await engine.dry_run(args.environment, args.ref, user=user, hosts_filter=args.hosts, forced=args.force)
        print(dry_runs.as_text_json(dry) if args.json else dry_runs.text(dry))
        return EXIT_OK if dry.promotion is None else EXIT_USAGE
    run = engine.deploy(
        args.environment,
        args.ref,
        user=user,
        hosts_filter=args.hosts,
        sink=TerminalProgress(verbose=args.verbose),
        forced=args.force,
        gate=_go_on if args.yes else _ask_to_continue,
    )
    try:
        return await _cancellable(engine, run)
    except PromotionRefused as exc:
        rule = promotion_rule(exc.block)
        print(f"shipbot: {rule}. Deploy it to {exc.block.source} first, or pass --force (recorded).", file=sys.stderr)
        return EXIT_USAGE


async def rollback(args: argparse.Namespace, settings: OperatorSettings) -> int:
    engine = _engine(args, settings)
    run = engine.rollback(args.environment, to=args.to, user=args.user or getpass.getuser(), sink=TerminalProgress())
    return await _cancellable(engine, run)


async def converge(args: argparse.Namespace, settings: OperatorSettings) -> int:
    engine = _engine(args, settings)
    try:
        result = await engine.converge(args.environment, user=args.user or getpass.getuser(), sink=TerminalProgress())
    except NothingToConverge as exc:
        print(str(exc))
        return EXIT_OK
    return _exit_for(result)


async def task(args: argparse.Namespace, settings: OperatorSettings) -> int:
    engine = _engine(args, settings)
    run = engine.run_task(
        args.name,
        args.environment,
        user=args.user or getpass.getuser(),
        hosts_filter=args.hosts,
        sink=TerminalProgress(verbose=True),
    )
    return await _cancellable(engine, run)


async def status(args: argparse.Namespace, settings: OperatorSettings) -> int:
    engine = _engine(args, settings)
    status = await engine.status(args.environment)
    if args.json:
        print(json.dumps(status.as_json()))
    else:
        verdict = "consistent" if status.consistent else "NOT consistent"
        print(f"{status.app} {status.environment}: {verdict}")
        if status.live is not None:
            print(f"  live release: {status.live.release} ({status.live.sha[:12]})")
        for h in status.hosts:
            if not h.reachable:
                print(f"  {h.address}: unreachable - {h.error} [{h.source}]")
            else:
                behind = " BEHIND" if h.behind else ""
                print(f"  {h.address}: {h.release or 'no release'} {(h.sha or '')[:12]}{behind} [{h.source}]")
        if status.behind:
            print(f"  {len(status.behind)} host(s) behind the live release: shipbot converge {status.environment}")
        if status.lock:
            print(f"  locked by {status.lock.owner}: {status.lock.reason}")
        if status.active_run:
            print(f"  running: {status.active_run.run_id} by {status.active_run.user}")
    return EXIT_OK


def history(args: argparse.Namespace, settings: OperatorSettings) -> int:
    engine = _engine(args, settings)
    runs = engine.history(args.environment, args.limit)
    if args.json:
        covered = {r.run_id: [h.as_json() for h in engine.store.fleets.of(r.run_id)] for r in runs}
        print(json.dumps([{**r.__dict__, "duration": r.duration, "covered": covered[r.run_id]} for r in runs]))
        return EXIT_OK
    for r in runs:
        when = utc_minute(r.started_at)
        print(f"{when}  {r.run_id}  {r.kind:<8} {r.state:<11} {r.user:<12} {r.ref} {r.sha[:12]}  {r.message}")
    if not runs:
        print(f"no runs recorded for {args.environment} yet")
    return EXIT_OK


async def check(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """The config is valid, every environment can run its migration, the SSH key named exists (exit 2 naming
    each problem otherwise); with ``--connect`` every host is reached."""
    config = load_config(_config_path(args, settings))
    problems = migrate_problems(config, [n for n, e in config.environments.items() if not e.discover])
    problems += connection_problems(config)
    if problems:
        raise ConfigError(_config_path(args, settings), problems)
    hosts = sum(len(e.hosts) for e in config.environments.values())
    envs = len(config.environments)
    print(f"{_config_path(args, settings)}: ok ({config.app}, {envs} environment(s), {hosts} host(s))")
    for name, environment in config.environments.items():
        if environment.discover:
            found = await discover(config, name, _config_folder(args, settings))
            for host in environment_hosts(found, name):
                print(f"  {name} {host.name}: {', '.join(host.roles) or 'no roles'} [{host.source}]")
    if not args.connect:
        return EXIT_OK
    engine = _engine(args, settings)
    bad = 0
    for env in config.environments:
        status = await engine.status(env)
        for h in status.hosts:
            if h.reachable:
                print(f"  {env} {h.address}: reachable [{h.source}]")
            else:
                bad += 1
                print(f"  {env} {h.address}: UNREACHABLE - {h.error} [{h.source}]")
    return EXIT_OK if bad == 0 else EXIT_FAILED


def parse(args: argparse.Namespace, settings: OperatorSettings) -> int:
    configs = [load_config(p) for p in (args.config or settings.config).split(",")]
    report = parse_report(args.text, configs, args.user, args.channel)
    print(json.dumps(report))
    return EXIT_OK if "error" not in report else EXIT_USAGE


async def recover(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """Repair what dead runs left (see :mod:`deploy.repair`): 0 when every environment ends on one version, 1 when
    a host could not be repaired (named), 3 while a live shipbot still holds a run's lease."""
    engine = _engine(args, settings)
    environments = [args.environment] if args.environment else list(engine.config.environments)
    code = EXIT_OK
    for env in environments:
        live = engine.repairer.live_runs(env)
        if live:
            print(f"{env}: run {live[0].run_id} by {live[0].user} is still running (its shipbot holds the lease)")
            code = max(code, EXIT_BUSY)
            continue
        reports = await engine.recover(env, TerminalProgress())
        for r in reports:
            print(f"{env}: run {r.run.run_id}: {r.message}")
            if r.waiting:
                code = max(code, EXIT_BUSY)
            elif not r.ok:
                code = max(code, EXIT_FAILED)
        status = await engine.status(env)
        drifted = [h for h in status.hosts if not h.reachable] if status.consistent else list(status.hosts)
        if not reports:
            print(f"{env}: no interrupted run")
        if drifted and code == EXIT_OK:
            where = ", ".join(f"{h.address} ({h.release or 'no release'})" for h in drifted)
            print(f"{env}: NOT on one version: {where}")
            code = EXIT_FAILED
        elif not drifted:
            print(f"{env}: on one version ({status.hosts[0].release if status.hosts else 'no hosts'})")
    return code


def db(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """``shipbot db upgrade``: bring the store's schema to the newest revision (the bot also does it at start), on
    SHIPBOT_DATABASE_URL or the SQLite file in the data dir; ``shipbot db current``: the revision it is at."""
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else settings.data_dir
    if settings.database:
        url, where = settings.database, settings.database_shown
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        url, where = sqlite_url(data_dir / SQLITE_FILE), str(data_dir / SQLITE_FILE)
    database = Database(url, upgrade=False)
    try:
        if args.action == "current":
            print(f"{where}: at revision {database.revision() or 'none (never migrated)'}")
            return EXIT_OK
        before, after = database.upgrade()
        if before == after:
            print(f"{where}: already at revision {after} (the newest)")
        else:
            print(f"{where}: upgraded from revision {before or 'none'} to {after}")
        return EXIT_OK
    finally:
        database.close()


SYNC = {"history": history, "parse": parse, "db": db}
ASYNC = {
    "deploy": deploy,
    "rollback": rollback,
    "converge": converge,
    "status": status,
    "task": task,
    "check": check,
    "recover": recover,
}
