"""``shipbot flags`` and ``shipbot flag``: feature flags from the command line, read with chat's grammar.

::

    shipbot flags ENV [--json]
    shipbot flag on|off NAME ENV [--for KEY,KEY]
    shipbot flag drop NAME ENV KEY,KEY
    shipbot flag NAME PERCENT ENV
    shipbot flag revert NAME ENV
    shipbot flag history NAME [ENV]
    shipbot flag NAME

Each change takes ``--force`` (past freezes and the promotion order; audited), ``--reason``, ``--user`` and
``--json``. Exit status: 0 done, 1 done but some host is behind (named on stderr), 2 refused or bad usage (the
reason in one line). The operator needs no Slack identity, but follows freezes and the promotion order as chat does;
like ``shipbot deploy``, a change does not wait for an approver where the environment requires one (the operator has
the config and the store). A change's ``flag.changed`` event is sent to the environment's webhook, Teams and IRC
sinks before the command exits (at most a few seconds, as ``shipbot deploy`` does); its line for the Slack notify
channels is left in the store's outbox for a running bot to post.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from typing import Any

from cli.engines import app_flags
from cli.notifications import notifying
from cli.operator_commands import _engine
from cli.reading import EXIT_FAILED, EXIT_OK, EXIT_USAGE, opened
from cli.settings import OperatorSettings
from commands.access_config import policy_for
from commands.command import ChangeFlag, FlagHistory, ShowFlag
from commands.errors import CommandError
from commands.flag_replies import FlagChanged, FlagHistoryShown, FlagShown, FlagsListed
from commands.grammar.checks import reason_problem
from commands.grammar.flags import parse_flag, parse_flags
from commands.replies import Refusal
from commands.usecases.flag_service import FlagService
from commands.vocabulary import GrammarContext
from deploy.flags.flag_defs import FlagDef, percent_text
from deploy.flags.flag_store import FlagChange
from deploy.ids import utc_minute
from deploy.store.ports import StoreClock


def _tokens(words: list[str], keys: str | None) -> list[str]:
    """The command line's words as chat's: ``on NAME ENV`` -> ``on NAME in ENV``."""
    head, rest = words[0].lower(), words[1:]
    if head in ("on", "off", "revert") and len(rest) == 2:
        return [head, rest[0], *(["for", keys] if keys and head == "on" else []), "in", rest[1]]
    if head == "drop" and len(rest) == 3:
        return [rest[0], "drop", rest[2], "in", rest[1]]
    if head == "history" and len(rest) in (1, 2):
        return ["history", rest[0], *(["in", rest[1]] if len(rest) == 2 else [])]
    if len(words) == 3:
        return [words[0], "to", words[1], "in", words[2]]
    if len(words) == 1:
        return words
    raise CommandError(f"cannot read `flag {' '.join(words)}`", "see `shipbot flag --help`")


def _service(args: argparse.Namespace, settings: OperatorSettings) -> tuple[FlagService, GrammarContext]:
    engine = _engine(args, settings)
    flags = {engine.config.app: app_flags(engine)}
    service = FlagService(flags, {engine.config.app: policy_for(engine.config)}, None, StoreClock(engine.store.db))
    return service, GrammarContext.from_configs([engine.config])


def _refused(reason: str) -> int:
    print(f"shipbot: {reason}", file=sys.stderr)
    return EXIT_USAGE


async def flags(args: argparse.Namespace, settings: OperatorSettings) -> int:
    service, context = _service(args, settings)
    try:
        command = parse_flags([args.environment], context)
    except CommandError as err:
        return _refused(err.message)
    listed = await service.listing(command)
    if isinstance(listed, Refusal):
        return _refused(listed.reason)
    print(json.dumps(_listing_json(listed), indent=2) if args.json else _listing_text(listed))
    behind = [f.host for x in listed.listings for f in x.files if x.rows and f.sha256 != x.sha256]
    return EXIT_FAILED if behind or listed.errors else EXIT_OK


async def flag(args: argparse.Namespace, settings: OperatorSettings) -> int:
    service, context = _service(args, settings)
    try:
        command = parse_flag(_tokens(args.words, args.keys), context, force=args.force)
        problem = reason_problem(args.reason) if args.reason else None
        if problem:
            raise CommandError(f"that reason cannot be kept: {problem}")
    except CommandError as err:
        return _refused(err.message)
    user = args.user or getpass.getuser()
    match command:
        case ShowFlag():
            reply: Any = await service.show(command)
        case FlagHistory():
            reply = await service.history(command)
        case ChangeFlag():
            command = dataclasses.replace(command, reason=args.reason or command.reason)
            reply = await service.change(command, user, "", source="cli")
        case _:  # pragma: no cover - parse_flag makes only these
            return _refused("not a flag command")
    if isinstance(reply, Refusal):
        return _refused(reply.reason + (f" ({reply.hint})" if reply.hint else ""))
    print(json.dumps(_json(reply), indent=2) if args.json else _text(reply))
    if isinstance(reply, FlagChanged) and reply.written.behind:
        names = ", ".join(f"{h.host} ({h.error})" for h in reply.written.behind)
        print(f"shipbot: recorded, but behind: {names}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _def_json(flag: FlagDef) -> dict[str, Any]:
    return {"state": flag.describe(), "percent": percent_text(flag.tenths), "allow": list(flag.allow)}


def _change_json(c: FlagChange) -> dict[str, Any]:
    return {
        "flag": c.flag, "environment": c.environment, "version": c.version, "by": c.actor, "at": utc_minute(c.at),
        "source": c.source, "action": c.action, "before": _def_json(c.before) if c.before else None,
        "after": _def_json(c.after), "reason": c.reason, "forced": c.forced,
    }  # fmt: skip


def _json(reply: FlagChanged | FlagShown | FlagHistoryShown) -> dict[str, Any]:
    match reply:
        case FlagChanged():
            hosts = [{"host": h.host, "ok": h.ok, "drift": h.drift, "error": h.error} for h in reply.written.hosts]
            behind = [h.host for h in reply.written.behind]
            return _change_json(reply.change) | {"sha256": reply.written.sha256, "hosts": hosts, "behind": behind}
        case FlagShown():
            rows = {r.environment: _def_json(r.definition) for r in reply.rows}
            return {"app": reply.app, "flag": reply.name, "environments": rows}
        case FlagHistoryShown():
            return {"app": reply.app, "flag": reply.name, "changes": [_change_json(c) for c in reply.changes]}


def _text(reply: FlagChanged | FlagShown | FlagHistoryShown) -> str:
    match reply:
        case FlagChanged():
            c, w = reply.change, reply.written
            line = f"{c.flag} in {c.environment}: {_from(c.before)} -> {c.after.describe()} (v{c.version}); "
            line += f"file on {len(w.hosts) - len(w.behind)}/{len(w.hosts)} hosts"
            drift = [h.host for h in w.drifted]
            return line + (f"; edited by hand and replaced on {', '.join(drift)}" if drift else "")
        case FlagShown():
            return "\n".join(f"{r.environment}: {r.definition.describe()} ({r.changed_by}, "
                             f"{utc_minute(r.changed_at)})" for r in reply.rows)  # fmt: skip
        case FlagHistoryShown():
            return (
                "\n".join(
                    f"{utc_minute(c.at)} {c.environment} {c.actor} {c.action}: {_from(c.before)} -> "
                    f"{c.after.describe()}"
                    f" ({c.source}){' forced' if c.forced else ''}{f' — {c.reason}' if c.reason else ''}"
                    for c in reply.changes
                )
                or "no changes"
            )


def _from(flag: FlagDef | None) -> str:
    return flag.describe() if flag is not None else "new"


def _listing_json(listed: FlagsListed) -> dict[str, Any]:
    x = listed.listings[0] if listed.listings else None
    if x is None:
        return {"error": {env: error for _, env, error in listed.errors}}
    return {
        "app": x.app, "environment": x.environment, "version": x.version, "sha256": x.sha256,
        "hosts_current": x.current, "hosts_total": len(x.files),
        "flags": [_def_json(r.definition) | {"name": r.flag, "changed_by": r.changed_by,
                                             "changed_at": utc_minute(r.changed_at)} for r in x.rows],
        "hosts": [{"host": f.host, "reachable": f.reachable, "current": f.sha256 == x.sha256, "error": f.error}
                  for f in x.files],
    }  # fmt: skip


def _listing_text(listed: FlagsListed) -> str:
    lines = []
    for x in listed.listings:
        behind = [f.host for f in x.files if f.sha256 != x.sha256]
        lines.append(f"{x.app} {x.environment}: flags v{x.version}, file current on {x.current}/{len(x.files)} "
                     f"hosts" + (f" (behind: {', '.join(behind)})" if behind and x.rows else ""))  # fmt: skip
        lines += [f"  {r.flag}: {r.definition.describe()} ({r.changed_by}, {utc_minute(r.changed_at)})" for r in x.rows]
    lines += [f"{app} {env}: {error}" for app, env, error in listed.errors]
    return "\n".join(lines)


# a change's events (webhook, Teams, IRC) sent before the command exits; its Slack lines are a running bot's to post
flag_told = notifying(flag, lambda: opened)
COMMANDS = {"flags": flags, "flag": flag_told}
