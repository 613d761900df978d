"""The operator commands (``deploy``, ``rollback``, ``converge``, ``status``, ``task``, ``check``, ``history``,
``parse``, ``recover``, ``db``): each
takes the parsed arguments and the operator's settings and returns the process's exit code.

Progress goes to stderr (:class:`~cli.progress.TerminalProgress`), results to stdout; engines come from the
composition root (:func:`cli.engines.build_engine`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
import tempfile
import threading
from collections.abc import Awaitable
from pathlib import Path

from cli import dry_runs
from cli.cap_import import import_capistrano
from cli.engines import build_engine, build_previews
from cli.notifications import notifying
from cli.progress import TerminalProgress
from cli.reading import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    close_stores,
    command_store,
    config_path,
    no_store,
    nothing_recorded,
    opened,
)
from cli.reading import data_dir as data_dir_of
from cli.settings import OperatorSettings
from commands.parse_report import parse_report
from commands.reply_texts import promotion_rule
from deploy.config.models import load_config
from deploy.errors import NothingToConverge, PromotionRefused, UsageError
from deploy.events import BatchGate, Outcome, RunFinished
from deploy.ids import utc_minute
from deploy.records import ReleaseRow
from deploy.run.engine import Engine
from deploy.store.database import Database, sqlite_url
from deploy.store.statements import SQLITE_FILE
from deploy.summary import count

__all__ = ["ASYNC", "EXIT_BUSY", "EXIT_USAGE", "SYNC", "close_stores", "release_line"]


def _engine(args: argparse.Namespace, settings: OperatorSettings, data_dir: Path | None = None) -> Engine:
    config = load_config(config_path(args, settings))
    store = command_store(settings, data_dir or data_dir_of(args, settings))
    return build_engine(config, store, data_dir or data_dir_of(args, settings), Path(config_path(args, settings)))


def _exit_for(result: RunFinished) -> int:
    return EXIT_OK if result.outcome is Outcome.SUCCESS else EXIT_FAILED


async def _ask_to_continue(gate: BatchGate) -> bool:
    """The terminal's pause between batches: ``Continue to batch 2/3 (10 hosts)? [y/N]``; no answer is No."""
    failed = f" ({len(gate.failures)} failed so far: {', '.join(gate.failures)})" if gate.failures else ""
    sys.stderr.write(
        f"{count(len(gate.hosts_done), 'host')} done{failed}. "
        f"Continue to batch {gate.batch}/{gate.total} ({count(len(gate.hosts_next), 'host')})? [y/N] "
    )
    sys.stderr.flush()
    answer = await _read_line()
    return answer.strip().lower() in ("y", "yes")


async def _read_line() -> str:
    """A line of standard input, read in a daemon thread: when the pause is answered from chat instead (a control
    request, :mod:`deploy.store.control_requests`), the unread prompt does not keep the process from exiting."""
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
    """The run's exit code; a run cancelled from chat (a control request, :mod:`deploy.store.control_requests`) exits 1
    saying who cancelled it, once its hosts are back."""
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
    missing = no_store(args, settings)
    if missing is None:
        status = await _engine(args, settings).status(args.environment)
    else:  # the hosts are read all the same, with a store that is thrown away
        with tempfile.TemporaryDirectory(prefix="shipbot-status-") as scratch:
            status = await _engine(args, settings, Path(scratch)).status(args.environment)
            close_stores()
    if args.json:
        print(json.dumps(status.as_json()))
    else:
        verdict = "consistent" if status.consistent else "NOT consistent"
        print(f"{status.app} {status.environment}: {verdict}")
        if status.live is not None:
            print(f"  live release: {status.live.release} ({status.live.sha[:12]})")
        moving = status.active_run is not None  # hosts a run is moving are not behind
        for h in status.hosts:
            shown = h.address if h.label == h.address else f"{h.label} ({h.address})"
            if not h.reachable:
                print(f"  {shown}: unreachable - {h.error} [{h.source}]")
            else:
                behind = (" BEHIND" if h.behind and not moving else "") + (" FLAGS BEHIND" if h.flags_behind else "")
                print(f"  {shown}: {h.release or 'no release'} {(h.sha or '')[:12]}{behind} [{h.source}]")
                for r in h.releases:
                    print("    " + release_line(r, h.release))
        if status.behind and not moving:
            print(
                f"  {count(len(status.behind), 'host')} behind the live release: shipbot converge {status.environment}"
            )
        if status.lock:
            print(f"  locked by {status.lock.owner}: {status.lock.reason}")
        if status.active_run:
            run = status.active_run
            print(f"  a run is in progress: {run.run_id} ({run.kind} {run.ref}) by {run.user}")
    if missing is not None and not args.json:
        print(f"  {nothing_recorded(args.environment, missing)}")
    return EXIT_OK


def release_line(r: ReleaseRow, current: str | None) -> str:
    """One release folder of a host under ``status``: its SHA, whose history records it, where rollback goes."""
    marks = [f"deployed by {r.user or 'someone'} ({r.history})" if r.history else "in no history"]
    if r.release == current:
        marks.append("current")
    if r.sha is None:
        marks.append("no REVISION: never a rollback target")
    if r.rollback_target:
        marks.append("rollback goes here")
    return f"{r.release} {(r.sha or '-')[:12]}  {', '.join(marks)}"


def previews(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """The app's previews, oldest first: name, branch, SHA, state (``creating``, ``live`` or ``broken``), URL."""
    engine = _engine(args, settings)
    found = asyncio.run(build_previews(engine, engine.store).all_previews())
    if args.json:
        print(json.dumps([p.as_json() for p in found]))
        return EXIT_OK
    for p in found:
        print(f"{p.name}  {p.branch}  {p.sha[:12] or '-'}  {p.state:<8} {p.url}  since {utc_minute(p.created_at)}")
    if not found:
        print(f"no previews of {engine.config.app}")
    return EXIT_OK


def parse(args: argparse.Namespace, settings: OperatorSettings) -> int:
    configs = [load_config(p) for p in (args.config or settings.config).split(",")]
    report = parse_report(args.text, configs, args.user, args.channel)
    print(json.dumps(report))
    return EXIT_OK if "error" not in report else EXIT_USAGE


async def recover(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """Repair what dead runs left (see :mod:`deploy.run.repair`): 0 when every environment ends on one version, 1 when
    a host could not be repaired (named), 3 while a live shipbot still holds a run's lease."""
    engine = _engine(args, settings)
    environments = [args.environment] if args.environment else list(engine.config.environments)
    code = EXIT_OK
    for env in environments:
        live = await engine.store.door(engine.repairer.live_runs, env)  # a store read: off the loop
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
    data_dir = data_dir_of(args, settings)
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


def import_project(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """``shipbot import capistrano [DIR]``: the config on stdout (exit 2 with one line when it cannot be read)."""
    print(import_capistrano(Path(args.folder)), end="")
    return EXIT_OK


# the runs' commands send what the store's outbox holds for their sinks before the command exits (cli.notifications)
deploy_told = notifying(deploy, lambda: opened)
rollback_told = notifying(rollback, lambda: opened)
converge_told = notifying(converge, lambda: opened)
task_told = notifying(task, lambda: opened)

SYNC = {"parse": parse, "db": db, "previews": previews, "import": import_project}
ASYNC = {
    "deploy": deploy_told,
    "rollback": rollback_told,
    "converge": converge_told,
    "status": status,
    "task": task_told,
    "recover": recover,
}
