"""The ``shipbot`` command line: what operators and scripts use (outside checks call exactly these).

::

    shipbot deploy ENV [REF] [--config FILE] [--hosts FILTER] [--dry-run [--json]] [--force] [--yes]
    shipbot rollback ENV [--to RELEASE] [--config FILE]
    shipbot converge ENV [--config FILE]   the live release on the hosts that are behind it
    shipbot status ENV [--config FILE] [--json]
    shipbot task NAME ENV [--config FILE] [--hosts FILTER]
    shipbot check [--config FILE] [--connect]
    shipbot history ENV [--config FILE] [--json] [--limit N]
    shipbot import capistrano [DIR]   a shipbot.yml from a Capistrano project, on stdout
    shipbot parse TEXT [--config FILE] [--user UID] [--channel CID] --json
    shipbot previews [--config FILE] [--json]   the app's previews: branch, SHA, state (creating, live, broken)
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
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cli.parser import build_parser

if TYPE_CHECKING:
    from cli.bot_settings import Settings
    from cli.settings import OperatorSettings
    from demo.launch import DemoWiring

EXIT_USAGE = 2

# where each command lives, imported only when it runs: ``shipbot --help``, ``check`` and ``history`` never load
# the SSH library, the Slack SDK or the engine (module, function, whether it is a coroutine function)
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "history": ("cli.reading", "history", False),
    "check": ("cli.reading", "check", False),
    "db": ("cli.operator_commands", "db", False),
    "parse": ("cli.operator_commands", "parse", False),
    "previews": ("cli.operator_commands", "previews", False),
    "import": ("cli.operator_commands", "import_project", False),
    "deploy": ("cli.operator_commands", "deploy_told", True),
    "rollback": ("cli.operator_commands", "rollback_told", True),
    "converge": ("cli.operator_commands", "converge_told", True),
    "status": ("cli.operator_commands", "status", True),
    "task": ("cli.operator_commands", "task_told", True),
    "recover": ("cli.operator_commands", "recover", True),
    "notifications": ("cli.notifications", "notifications", False),
    "flags": ("cli.flag_commands", "flags", True),
    "flag": ("cli.flag_commands", "flag_told", True),
}


def _problems(lines: list[str]) -> int:
    for line in lines:
        print(f"shipbot: {line}", file=sys.stderr)
    return EXIT_USAGE


def _run() -> int:
    """``shipbot run``: the Slack bot until SIGTERM/SIGINT."""
    import asyncio  # noqa: PLC0415 (imports are deferred to the command that needs them: see COMMANDS)

    from pydantic import ValidationError  # noqa: PLC0415

    from cli import logs  # noqa: PLC0415
    from cli.bot_settings import Settings  # noqa: PLC0415
    from cli.root import serve  # noqa: PLC0415
    from cli.settings import settings_problems  # noqa: PLC0415
    from deploy.errors import ConfigError  # noqa: PLC0415

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
    from cli.bot_settings import Settings  # noqa: PLC0415

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
    import asyncio  # noqa: PLC0415
    import contextlib  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from cli import logs  # noqa: PLC0415
    from cli.root import serve  # noqa: PLC0415
    from demo.launch import DEFAULT_PORT, demo, port_free  # noqa: PLC0415

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


def _command(name: str) -> tuple[Callable[..., Any], bool]:
    module, function, is_async = COMMANDS[name]
    return getattr(importlib.import_module(module), function), is_async


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help and usage errors end here, before anything heavy is imported
    from cli.quiet import quiet_dependency_warnings  # noqa: PLC0415

    quiet_dependency_warnings()
    if args.command == "run":
        return _run()
    from pydantic import ValidationError  # noqa: PLC0415

    from cli.settings import OperatorSettings, settings_problems  # noqa: PLC0415

    try:
        settings = OperatorSettings()
    except ValidationError as exc:
        return _problems(settings_problems(exc))
    if args.command == "demo":
        return _demo(args, settings)
    return _operator(args, settings)


def _operator(args: argparse.Namespace, settings: OperatorSettings) -> int:
    from cli import logs  # noqa: PLC0415
    from cli.reading import close_stores  # noqa: PLC0415
    from deploy.errors import ShipbotError  # noqa: PLC0415

    logs.configure(settings.log_format or "json", settings.log_level or "WARNING", sys.stderr)
    try:
        command, is_async = _command(args.command)
        if not is_async:
            return int(command(args, settings))
        import asyncio  # noqa: PLC0415

        return int(asyncio.run(command(args, settings)))
    except ShipbotError as exc:
        print(f"shipbot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("shipbot: interrupted", file=sys.stderr)
        return 130
    finally:
        close_stores()


if __name__ == "__main__":
    sys.exit(main())
