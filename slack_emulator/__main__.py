"""``python -m slack_emulator``: run the emulator until interrupted.

Prints the URLs and credentials an app needs (``SLACK_API_URL``, bot and app tokens,
signing secret) and the address of the web page.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from slack_emulator.server import SlackEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m slack_emulator", description="Run a local Slack emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", help="JSON file with team, bot, users, usergroups, channels")
    parser.add_argument("--ack-timeout", type=float, default=3.0, help="seconds to acknowledge an envelope")
    parser.add_argument("--request-url", help="deliver over signed HTTP to this URL instead of Socket Mode")
    parser.add_argument("--echo-bot-messages", action="store_true", help="send message events for the bot's posts")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    emulator = SlackEmulator(
        args.host,
        args.port,
        seed=args.seed,
        ack_timeout=args.ack_timeout,
        request_url=args.request_url,
        echo_bot_messages=args.echo_bot_messages,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with emulator as emu:
        print(f"Slack emulator listening on {emu.url}", flush=True)
        print(f"  web page:             {emu.url}/", flush=True)
        print(f"  SLACK_API_URL={emu.api_url}", flush=True)
        print(f"  SLACK_BOT_TOKEN={emu.bot_token}", flush=True)
        print(f"  SLACK_APP_TOKEN={emu.app_token}", flush=True)
        print(f"  SLACK_SIGNING_SECRET={emu.signing_secret}", flush=True)
        print(f"  delivery: {emu.core.mode}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
