"""The ``shipbot`` command line's grammar: subcommands, arguments, flags and their help (argparse)."""

from __future__ import annotations

import argparse
from typing import Any


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
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan and what would ship, change nothing (exit 2: refused)"
    )
    p.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    p.add_argument("--force", action="store_true", help="go past the promotion order (and a lock); recorded")
    p.add_argument("--verbose", "-v", action="store_true", help="show every step's output")
    p.add_argument("--yes", "-y", action="store_true", help="with pause: true, go on between batches without asking")
    _add_common(p)

    p = sub.add_parser("rollback", help="go back to the previous good release")
    p.add_argument("environment")
    p.add_argument("--to", default=None, help="a release id or SHA instead of the previous good release")
    p.add_argument("--user", default=None)
    _add_common(p)

    p = sub.add_parser("converge", help="put the live release on the hosts that are behind it")
    p.add_argument("environment")
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

    p = sub.add_parser("import", help="print a shipbot.yml made from another deploy tool's project (Capistrano)")
    p.add_argument("tool", choices=["capistrano"])
    p.add_argument("folder", nargs="?", default=".", help="the project's folder (default: the current one)")

    p = sub.add_parser("history", help="past runs from the store")
    p.add_argument("environment")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    _add_common(p)

    p = sub.add_parser("previews", help="the app's previews and their state (creating, live, broken)")
    p.add_argument("--json", action="store_true")
    _add_common(p)

    p = sub.add_parser("notifications", help="notifications not delivered yet (pending) or given up, with the error")
    p.add_argument("--failed", action="store_true", help="only those given up")
    p.add_argument("--json", action="store_true")
    _add_common(p)

    p = sub.add_parser("recover", help="repair what an interrupted run left on the hosts")
    p.add_argument("environment", nargs="?", default=None, help="one environment (default: every one)")
    _add_common(p)

    p = sub.add_parser("parse", help="how shipbot reads a chat message, and whether that user may run it there")
    p.add_argument("text")
    p.add_argument("--user", default="U0000000")
    p.add_argument("--channel", default="C0000000")
    p.add_argument("--json", action="store_true", help="print JSON (the only output form)")
    _add_common(p)

    p = sub.add_parser("db", help="the store's database: upgrade its schema (also done at start), or show it")
    p.add_argument("action", choices=["upgrade", "current"], help="upgrade: apply new migrations; current: revision")
    p.add_argument(
        "--data-dir", default=None, help="state folder of the SQLite file, when SHIPBOT_DATABASE_URL is unset"
    )

    _add_flags(sub)

    sub.add_parser("run", help="run the Slack bot (production mode; settings from the environment)")

    p = sub.add_parser("demo", help="the bot on embedded defaults: local Slack emulator, SSH hosts, SQLite")
    p.add_argument("--port", type=int, default=None, help="the emulator's web page port (default 8765)")
    p.add_argument("--data-dir", default=None)
    return parser


def _add_flags(sub: Any) -> None:
    """``flags`` and ``flag`` (:mod:`cli.flag_commands`)."""
    p = sub.add_parser("flags", help="feature flags of an environment and on how many hosts their file is current")
    p.add_argument("environment")
    p.add_argument("--json", action="store_true")
    _add_common(p)
    p = sub.add_parser(
        "flag",
        help="change a feature flag: on|off NAME ENV [--for KEYS], NAME PERCENT ENV, drop NAME ENV KEYS, "
        "revert NAME ENV, history NAME [ENV]",
    )
    p.add_argument("words", nargs="+", metavar="WORD")
    p.add_argument("--for", dest="keys", default=None, help="with on: targeting keys, comma-separated")
    p.add_argument("--force", action="store_true", help="go past freezes and the promotion order; recorded")
    p.add_argument("--reason", default="", help="why, kept in the flag's history")
    p.add_argument("--user", default=None, help="who changes it (default: your login name)")
    p.add_argument("--json", action="store_true")
    _add_common(p)
