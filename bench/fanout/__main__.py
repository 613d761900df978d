"""``python -m bench.fanout``: one deploy to N real sshd hosts by shipbot and by its peers, side by side.

    python -m bench.fanout                                   # N = 50, 200, 500; every tool; upload and git
    python -m bench.fanout --sizes 50,200 --tools shipbot,pssh,floor --transfers upload

Needs root (it starts sshd hosts that log in the dedicated user ``shipbench``, created on first use). For each N it
starts one fleet of max(N) hosts, then for each tool and transfer resets the first N hosts to the same state (one
earlier release live), runs the deploy in a child process as ``shipbench``, checks that every host now serves the
new SHA, and prints wall seconds, controller CPU seconds, peak controller memory, and ratios to the asyncssh floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import (
    BASE_RELEASE,
    PYTHON,
    BenchFleet,
    BenchUser,
    Measurement,
    check_prerequisites,
    controller_env,
    ensure_bench_user,
    machine,
    machine_line,
    make_bench_repo,
    raise_open_files_limit,
    reset_hosts,
    run_child,
    table,
    work_dir,
)
from bench.common import PIPELINE as APP_PIPELINE
from bench.fanout.commands import deploy_steps
from deploy.config import parse_config
from deploy.ids import new_release_id

TOOLS = ("floor", "shipbot", "pssh", "fabric", "ansible", "floor-pgid")
DEFAULT_TOOLS = ("floor", "shipbot", "pssh", "fabric", "ansible")
ENVIRONMENT = "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,500", help="host counts (default %(default)s)")
    parser.add_argument(
        "--tools", default=",".join(DEFAULT_TOOLS), help="subset of %(default)s, plus floor-pgid (diagnostic)"
    )
    parser.add_argument("--transfers", default="upload,git", help="upload, git or both (default %(default)s)")
    parser.add_argument(
        "--concurrency", type=int, default=50,
        help="shipbot connect_concurrency, the floor's handshakes at once, pssh pool_size, Ansible forks (%(default)s)",
    )  # fmt: skip
    parser.add_argument("--pssh-pool", type=int, help="parallel-ssh pool_size (default: --concurrency)")
    parser.add_argument(
        "--ansible-max-hosts", type=int, default=200, help="skip Ansible above this many hosts (%(default)s)"
    )
    parser.add_argument(
        "--ansible-transfers", default="upload", help="transfers Ansible runs (default %(default)s; it is slow)"
    )
    parser.add_argument("--time-limit", type=float, default=600, help="cap per measured run, seconds (%(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and size; the median is shown")
    parser.add_argument("--archive-kib", type=int, default=256, help="size of the app's source (%(default)s KiB)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    return parser.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace, user: BenchUser) -> None:
        self.args = args
        self.user = user
        self.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
        self.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
        self.transfers = [t.strip() for t in args.transfers.split(",") if t.strip()]
        unknown = set(self.tools) - set(TOOLS) or set(self.transfers) - {"upload", "git"}
        if unknown:
            raise SystemExit(f"unknown tool or transfer: {', '.join(sorted(unknown))}")
        self.work = work_dir(user, "fanout")
        self.repo, self.sha = make_bench_repo(self.work / "repo", user, kib=args.archive_kib)
        self.archive = self.work / "archive.tar"
        self.archive.write_bytes(
            subprocess.run(
                ["git", "-c", "safe.directory=*", "-C", str(self.repo.path), "archive", "--format=tar", self.sha],
                check=True,
                capture_output=True,
            ).stdout
        )
        user.chown(self.archive)
        self.fleet = BenchFleet(self.work / "fleet", max(self.sizes), user)
        self.results: list[Measurement] = []
        self.run_no = 0

    # -- set-up -------------------------------------------------------------------------------------------------

    def start(self) -> float:
        t0 = time.monotonic()
        self.fleet.prepare()
        asyncio.run(self.fleet.astart())
        return time.monotonic() - t0

    def config(self, size: int, transfer: str) -> dict[str, Any]:
        return self.fleet.config_yaml(
            app="shop",
            repo=str(self.repo.path),
            environments={ENVIRONMENT: range(size)},
            connect_concurrency=self.args.concurrency,
            keep_releases=5,
            pipeline={**APP_PIPELINE, "transfer": transfer},
            shared={"dirs": ["log"]},
        )

    def config_file(self, size: int, transfer: str) -> Path:
        path = self.work / f"shipbot-{size}-{transfer}.yml"
        path.write_text(yaml.safe_dump(self.config(size, transfer), sort_keys=False))
        self.user.chown(path)
        return path

    def steps(self, size: int, transfer: str) -> list[dict[str, Any]]:
        config = parse_config(self.config(size, transfer))
        return deploy_steps(config, ENVIRONMENT, self.sha, new_release_id(), "U0BENCH")

    # -- one measured run ---------------------------------------------------------------------------------------

    def measure(self, tool: str, variant: str, size: int, transfer: str) -> Measurement:
        self.run_no += 1
        run_dir = self.work / "runs" / f"{self.run_no:03d}-{variant}-{size}"
        run_dir.mkdir(parents=True)
        self.user.chown(run_dir.parent, run_dir)
        reset_hosts(self.fleet, size, {"VERSION": "base\n"})
        hosts = self.fleet.hosts[:size]
        files_as = transfer if transfer in ("upload", "git") else "upload"
        concurrency = self.args.concurrency
        if tool == "pssh" and self.args.pssh_pool:
            concurrency = self.args.pssh_pool
        spec: dict[str, Any] = {
            "tool": tool,
            "hosts": [[h.address, h.port] for h in hosts],
            "user": self.user.name,
            "key": str(self.fleet.client_key),
            "known_hosts": str(self.fleet.known_hosts),
            "concurrency": concurrency,
            "steps": self.steps(size, files_as),
            "archive": str(self.archive),
            "config": str(self.config_file(size, files_as)),
            "data_dir": str(run_dir / "data"),
            "environment": ENVIRONMENT,
            "work": str(run_dir),
            "result": str(run_dir / "result.json"),
            "pipelining": True,
        }
        spec_file = run_dir / "spec.json"
        spec_file.write_text(json.dumps(spec))
        self.user.chown(spec_file)
        m = run_child(
            variant,
            size,
            [PYTHON, "-m", "bench.fanout.worker", str(spec_file)],
            controller_env(self.work / "controller-home"),
            run_dir / "result.json",
            run_dir / "worker.log",
            self.args.time_limit,
            sample_interval=0.25 if tool == "ansible" else 0.1,
        )
        m.extra["transfer"] = transfer
        if m.ok and tool != "floor-true":
            wrong = self.check_hosts(size)
            if wrong:
                m.ok = False
                m.note = f"{len(wrong)} host(s) not on the new SHA, e.g. {wrong[0]}"
        flag = "" if m.ok else f"  FAILED: {m.note}"
        print(
            f"  {variant:<22} {size:>4} hosts  wall {m.wall:7.2f}s  cpu {m.cpu:7.2f}s  "
            f"peak {m.peak_rss_mb:7.1f} MB{flag}",
            flush=True,
        )
        return m

    def check_hosts(self, size: int) -> list[str]:
        """Hosts whose ``current`` is not a new release holding the deployed SHA."""
        wrong = []
        for host in self.fleet.hosts[:size]:
            current = host.local_deploy_to / "current"
            try:
                target = os.readlink(current)
                revision = (current / "REVISION").read_text().strip()
            except OSError as exc:
                wrong.append(f"{host.name}: {exc}")
                continue
            if target.endswith(BASE_RELEASE) or revision != self.sha:
                wrong.append(f"{host.name}: current -> {target} ({revision[:12]})")
        return wrong

    def best(self, tool: str, variant: str, size: int, transfer: str) -> Measurement:
        runs = [self.measure(tool, variant, size, transfer) for _ in range(max(1, self.args.repeat))]
        good = sorted((m for m in runs if m.ok), key=lambda m: m.wall)
        chosen = good[len(good) // 2] if good else runs[-1]
        if len(runs) > 1:
            chosen.extra["runs"] = [round(m.wall, 2) for m in runs]
        self.results.append(chosen)
        return chosen

    # -- the whole benchmark ------------------------------------------------------------------------------------

    def run(self) -> None:
        for size in self.sizes:
            print(f"\n{size} hosts", flush=True)
            if "floor" in self.tools:
                self.best("floor-true", "asyncssh connect+true", size, "-")
            for transfer in self.transfers:
                if "floor" in self.tools:
                    self.best("floor-seq", f"asyncssh floor ({transfer})", size, transfer)
                if "floor-pgid" in self.tools:
                    self.best("floor-pgid", f"floor+pgid wrap ({transfer})", size, transfer)
                for tool in ("shipbot", "pssh", "fabric", "ansible"):
                    if tool not in self.tools:
                        continue
                    if tool == "ansible" and transfer not in self.args.ansible_transfers.split(","):
                        continue
                    if tool == "ansible" and size > self.args.ansible_max_hosts:
                        print(f"  ansible ({transfer})        {size:>4} hosts  skipped (--ansible-max-hosts)")
                        continue
                    self.best(tool, f"{tool} ({transfer})", size, transfer)

    def report(self) -> str:
        out = []
        for size in self.sizes:
            rows = []
            at = [m for m in self.results if m.hosts == size]
            true_floor = next((m for m in at if m.tool.startswith("asyncssh connect")), None)
            for m in at:
                transfer = m.extra.get("transfer", "-")
                floor = next((f for f in at if f.tool == f"asyncssh floor ({transfer})" and f.ok), None)

                def ratio(value: float, base: float | None) -> str:
                    return f"{value / base:.2f}x" if base else "-"

                rows.append(
                    [
                        m.tool,
                        f"{m.wall:.2f}" if m.ok else f"FAILED ({m.note[:60]})",
                        f"{m.cpu:.2f}" if m.ok else "-",
                        f"{m.cpu_per_host_ms:.1f}" if m.ok else "-",
                        f"{m.peak_rss_mb:.0f}" if m.ok else "-",
                        ratio(m.wall, floor.wall if floor else None) if m.ok else "-",
                        ratio(m.cpu, floor.cpu if floor else None) if m.ok else "-",
                        ratio(m.cpu, true_floor.cpu if true_floor and true_floor.ok else None) if m.ok else "-",
                    ]
                )
            out.append(f"\n### {size} hosts\n")
            out.append(
                table(
                    [
                        "tool (transfer)",
                        "wall s",
                        "CPU s",
                        "CPU ms/host",
                        "peak MB",
                        "wall / floor",
                        "CPU / floor",
                        "CPU / connect+true",
                    ],
                    rows,
                )
            )
        return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_prerequisites()
    user = ensure_bench_user()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    raise_open_files_limit(max(sizes))
    info = machine()
    print(f"machine: {machine_line(info)}", flush=True)
    bench = Bench(args, user)
    try:
        took = bench.start()
        print(f"fleet: {len(bench.fleet.hosts)} sshd hosts answering after {took:.1f}s", flush=True)
        bench.run()
    finally:
        bench.fleet.stop()
        left = bench.fleet.leftover_pids()
        print(f"fleet stopped; processes left: {len(left)}", flush=True)
    print(
        f"\nconcurrency {args.concurrency} (shipbot connect_concurrency, floor handshakes, "
        f"pssh pool_size {args.pssh_pool or args.concurrency}, Ansible forks); floor = asyncssh with the same commands"
    )
    print(bench.report())
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "results": [m.__dict__ for m in bench.results],
                },
                indent=1,
            )
        )
    return 0 if all(m.ok for m in bench.results) else 1


if __name__ == "__main__":
    sys.exit(main())
