"""The ``shipbot`` command line: what operators and scripts use (outside checks call exactly these).

::

    shipbot deploy ENV [REF] [--config FILE] [--hosts FILTER] [--dry-run [--json]] [--force] [--yes]
    shipbot rollback ENV [--to RELEASE] [--config FILE]
    shipbot converge ENV [--config FILE]   the live release on the hosts that are behind it
    shipbot status ENV [--config FILE] [--json]
    shipbot task NAME ENV [--config FILE] [--hosts FILTER]
    shipbot check [--config FILE] [--connect]
    shipbot history ENV [--config FILE] [--json] [--limit N]
    shipbot parse TEXT [--config FILE] [--user UID] [--channel CID] --json
    shipbot recover [ENV] [--config FILE]   repair what a run whose shipbot died left (exit 3: still running)
    shipbot db upgrade|current   the store's schema: apply new migrations (also done at start), or show it
    shipbot run            the Slack bot, production mode
    shipbot demo           the bot on embedded defaults: local Slack emulator, local SSH hosts, SQLite

Exit codes: 0 success, 1 the run failed (and the fleet was put back), 2 bad usage or config,
3 the environment is locked or busy. Progress goes to stderr, results (``--json``) to stdout, logs to stderr
as JSON (level from SHIPBOT_LOG_LEVEL, default WARNING) so they never mix with a script's stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from cli import logs
from cli.operator_commands import ASYNC, EXIT_USAGE, SYNC, close_stores
from cli.parser import build_parser
from cli.root import serve
from cli.settings import OperatorSettings, Settings, settings_problems
from demo.launch import DEFAULT_PORT, DemoWiring, demo, port_free
from deploy.database import DatabaseError
from deploy.errors import ConfigError, ShipbotError


def _problems(lines: list[str]) -> int:
    for line in lines:
        print(f"shipbot: {line}", file=sys.stderr)
    return EXIT_USAGE


def _run() -> int:
    """``shipbot run``: the Slack bot until SIGTERM/SIGINT."""
    try:
        settings = Settings()  # pydantic-settings fills the fields from the environment
    except ValidationError as exc:
        return _problems(settings_problems(exc))
    logs.configure(settings.log_format, settings.log_level)
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print(f"shipbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _demo_settings(wiring: DemoWiring) -> Settings:
    """The bot's settings inside the demo: the emulator's tokens, the demo config, any free ops port."""
    return Settings(
        SLACK_BOT_TOKEN=wiring.bot_token,
        SLACK_APP_TOKEN=wiring.app_token,
        SLACK_API_URL=wiring.api_url,
        SHIPBOT_CONFIG=str(wiring.config),
        SHIPBOT_DATA_DIR=wiring.data_dir,
        SHIPBOT_OPS_PORT=0,
        SHIPBOT_ON_SHUTDOWN="cancel",
        SHIPBOT_UPDATE_INTERVAL=0.5,
    )


def _demo(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """``shipbot demo``: the demo's pieces around the bot this root serves, until Ctrl-C."""
    data_dir = Path(args.data_dir or settings.demo_dir).resolve()
    port = next((p for p in (args.port, settings.demo_port) if p is not None), DEFAULT_PORT)
    if port and not port_free(port):
        print(f"shipbot: port {port} is in use; pass --port N (or 0 for any free port)", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(settings.log_format or "console", settings.log_level or "WARNING")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(demo(data_dir, port, _demo_settings, serve))
    print("shipbot demo stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run()
    try:
        settings = OperatorSettings()
    except ValidationError as exc:
        return _problems(settings_problems(exc))
    if args.command == "demo":
        return _demo(args, settings)
    logs.configure(settings.log_format or "json", settings.log_level or "WARNING", sys.stderr)
    try:
        if args.command in SYNC:
            return SYNC[args.command](args, settings)
        return asyncio.run(ASYNC[args.command](args, settings))
    except ShipbotError as exc:
        print(f"shipbot: {exc}", file=sys.stderr)
        return exc.exit_code
    except DatabaseError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"shipbot: the database ({settings.database_shown}) failed: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("shipbot: interrupted", file=sys.stderr)
        return 130
    finally:
        close_stores()


if __name__ == "__main__":
    sys.exit(main())
