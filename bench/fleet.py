"""Start N simulated hosts as real OpenSSH sshd processes on loopback, wait until all answer, stop them all.

    python -m bench.fleet 200                      # 127.0.0.1, one free port per host; hold until Ctrl-C
    python -m bench.fleet 500 --loopback --port 2222 --check
    python -m bench.fleet 100 --loopback --mount-at /srv/app --hold 60   # root: one deploy_to, private per host

Each host has its own host key and folder (``ROOT/hosts/hN/app`` is its deploy_to). With ``--mount-at PATH``
(root only) every sshd runs in its own mount namespace with its folder bind-mounted over PATH, so every host's
deploy_to is PATH yet private to it. ``ROOT/shipbot.yml`` is a shipbot config for the fleet (``--app``,
``--repo``). ``--check`` logs in to every host over SSH, checks it sees its own folder, and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncssh
import yaml

from tests.support.sshd_fleet import FleetError, SshdFleet, sshd_unavailable_reason


def raise_open_files_limit(count: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards what ``count`` hosts (and a client connecting to all) need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8 * count + 1024
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        return new
    return soft


async def check(fleet: SshdFleet, concurrency: int) -> tuple[int, list[str]]:
    """Run a command on every host; each must see its own marker in deploy_to. Returns (ok, problems)."""
    for host in fleet.hosts:
        (host.local_deploy_to / ".fleet-host").write_text(host.name + "\n")
    gate = asyncio.Semaphore(concurrency)
    problems: list[str] = []

    async def one(index: int) -> None:
        host = fleet.hosts[index]
        async with gate:
            try:
                async with asyncssh.connect(
                    host.address,
                    host.port,
                    username=fleet.user,
                    client_keys=[str(fleet.client_key)],
                    known_hosts=str(fleet.known_hosts),
                    connect_timeout=30,
                ) as conn:
                    result = await conn.run(f"cat {host.deploy_to}/.fleet-host", check=True)
            except (OSError, asyncssh.Error) as exc:
                problems.append(f"{host.name} ({host.address}:{host.port}): {type(exc).__name__}: {exc}")
                return
        if str(result.stdout).strip() != host.name:
            problems.append(f"{host.name}: sees {str(result.stdout).strip()!r} in {host.deploy_to}")

    await asyncio.gather(*(one(i) for i in range(len(fleet.hosts))))
    return len(fleet.hosts) - len(problems), problems


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of hosts (1..500 or more)")
    parser.add_argument("--loopback", action="store_true", help="one 127.0.x.y address per host, same port")
    parser.add_argument("--port", type=int, help="first port (or the shared port with --loopback); default: free")
    parser.add_argument("--mount-at", metavar="PATH", help="root only: every host's deploy_to is PATH, private")
    parser.add_argument("--root", type=Path, help="folder for keys, configs, host folders (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the root folder afterwards")
    parser.add_argument("--max-startups", default="100:30:200", help="sshd MaxStartups (default %(default)s)")
    parser.add_argument("--app", default="shop", help="app name in ROOT/shipbot.yml")
    parser.add_argument("--repo", default="/srv/git/shop.git", help="repo in ROOT/shipbot.yml")
    parser.add_argument("--concurrency", type=int, default=30, help="SSH logins at once for --check")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--hold", type=float, metavar="SECONDS", help="stop after SECONDS instead of at Ctrl-C")
    mode.add_argument("--check", action="store_true", help="start, log in to every host, stop")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = sshd_unavailable_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    limit = raise_open_files_limit(args.count)
    made_root = args.root is None
    root: Path = args.root or Path(tempfile.mkdtemp(prefix="shipbot-fleet-"))
    signal.signal(signal.SIGTERM, _terminate)
    try:
        fleet = SshdFleet(
            root,
            args.count,
            base_port=args.port,
            addresses="loopback" if args.loopback else "ports",
            mount_at=args.mount_at,
            max_startups=args.max_startups,
            start_timeout=max(30.0, args.count * 0.2),
        )
    except (FleetError, ValueError) as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    status = 0
    try:
        began = time.monotonic()
        fleet.prepare()
        prepared = time.monotonic()
        asyncio.run(fleet.astart())
        answered = time.monotonic()
        config = root / "shipbot.yml"
        config.write_text(yaml.safe_dump(fleet.config_yaml(app=args.app, repo=args.repo), sort_keys=False))
        first, last = fleet.hosts[0], fleet.hosts[-1]
        print(
            f"hosts started: {len(fleet.hosts)} ({first.address}:{first.port} .. {last.address}:{last.port})\n"
            f"keys and configs: {prepared - began:.2f}s; sshd start to all answering: {answered - prepared:.2f}s;"
            f" total {answered - began:.2f}s\n"
            f"deploy_to: {first.deploy_to if args.mount_at else str(root / 'hosts' / 'hN' / 'app')}"
            f"{' (private mount namespace per host)' if args.mount_at else ''}\n"
            f"root: {root}\nconfig: {config}\nknown_hosts: {fleet.known_hosts}\nclient key: {fleet.client_key}\n"
            f"open-files limit: {limit}",
            flush=True,
        )
        if args.check:
            t0 = time.monotonic()
            ok, problems = asyncio.run(check(fleet, args.concurrency))
            print(
                f"check: {ok}/{len(fleet.hosts)} hosts ran a command in their own folder in "
                f"{time.monotonic() - t0:.2f}s"
            )
            for problem in problems[:20]:
                print(f"  {problem}")
            status = 0 if not problems else 1
        elif args.hold is not None:
            time.sleep(args.hold)
        else:
            print("holding; Ctrl-C stops every host", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print()
    except FleetError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        status = 1
    finally:
        t0 = time.monotonic()
        fleet.stop()
        leftover = fleet.leftover_pids()
        print(f"stopped {len(fleet.hosts)} hosts in {time.monotonic() - t0:.2f}s; processes left: {len(leftover)}")
        if leftover:
            status = 1
        if made_root and not args.keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(root)
    return status


if __name__ == "__main__":
    sys.exit(main())
