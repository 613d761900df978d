"""``python -m bench.fanout``: one deploy to N real sshd hosts by shipbot and by its peers, side by side.

    python -m bench.fanout                                   # N = 50 to 1,000; every tool; release, upload, git
    python -m bench.fanout --sizes 50,200 --tools shipbot,pssh,floor --transfers upload
    python -m bench.fanout --sizes 200,500,1000 --tools shipbot,pssh-release --transfers release --repeat 3

``--transfers release`` is the comparison a team makes: a whole ``shipbot deploy`` (upload, no build, ``restart:
"true"``, ``healthcheck: {run: "true"}``) beside the one command they would type instead (``pssh-release``: one
parallel-ssh command per host that clones the release from a bare repository on the controller's disk and switches
``current``); the report gives the ratio, counting each tool's process start-up (imports) as a person waits for it.

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
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import (
    BASE_RELEASE,
    MOUNT_AT,
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
from deploy.config.models import parse_config
from deploy.ids import new_release_id

TOOLS = ("floor", "shipbot", "pssh-release", "pssh", "fabric", "ansible", "floor-pgid")
DEFAULT_TOOLS = ("floor", "shipbot", "pssh-release", "pssh", "fabric", "ansible")
TRANSFERS = ("release", "upload", "git")
RELEASE_PIPELINE: dict[str, Any] = {"transfer": "upload", "restart": "true", "healthcheck": {"run": "true"}}
ENVIRONMENT = "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,100,200,500,1000", help="host counts (default %(default)s)")
    parser.add_argument(
        "--tools", default=",".join(DEFAULT_TOOLS), help="subset of %(default)s, plus floor-pgid (diagnostic)"
    )
    parser.add_argument(
        "--transfers", default=",".join(TRANSFERS), help="release, upload, git, or several (default %(default)s)"
    )
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
    parser.add_argument(
        "--cold", action="store_true", help="give shipbot a fresh data dir (store, mirror) for every run"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile shipbot's controller (cProfile; runs/*/profile.out, slower)"
    )
    return parser.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace, user: BenchUser) -> None:
        self.args = args
        self.user = user
        self.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
        self.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
        self.transfers = [t.strip() for t in args.transfers.split(",") if t.strip()]
        unknown = set(self.tools) - set(TOOLS) or set(self.transfers) - set(TRANSFERS)
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
        self.bare = self.work / "repo.git"  # what the one-command release clones, on the controller's disk
        subprocess.run(  # as the bench user, who owns the app's repository (git refuses another owner's)
            ["runuser", "-u", user.name, "--", "git", "clone", "-q", "--bare", str(self.repo.path), str(self.bare)],
            check=True,
            capture_output=True,
        )
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
        pipeline = RELEASE_PIPELINE if transfer == "release" else {**APP_PIPELINE, "transfer": transfer}
        return self.fleet.config_yaml(
            app="shop",
            repo=str(self.repo.path),
            environments={ENVIRONMENT: range(size)},
            connect_concurrency=self.args.concurrency,
            keep_releases=5,
            pipeline=pipeline,
            shared={"dirs": ["log"]},
        )

    def release_command(self) -> str:
        """The one command per host of the one-command release (the issue's parallel-ssh one-liner)."""
        d, release, repo = MOUNT_AT, new_release_id(), shlex.quote(f"file://{self.bare}")
        return (
            f"set -e; mkdir -p {d}/releases; git clone -q --depth 1 {repo} {d}/releases/{release}; "
            f"ln -sfn releases/{release} {d}/current.tmp && mv -T {d}/current.tmp {d}/current"
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
        files_as = transfer if transfer in TRANSFERS else "upload"
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
            # shipbot's state (store, mirror) is kept from run to run as an operator's is; --cold: a fresh one each run
            "data_dir": str(run_dir / "data" if self.args.cold else self.work / "shipbot-data"),
            "environment": ENVIRONMENT,
            "work": str(run_dir),
            "result": str(run_dir / "result.json"),
            "pipelining": True,
            "release_command": self.release_command(),
            "profile": str(run_dir / "profile.out") if self.args.profile else "",
            "count_execs": True,
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
            wrong = self.check_hosts(size, git=tool == "pssh-release")
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

    def check_hosts(self, size: int, git: bool = False) -> list[str]:
        """Hosts whose ``current`` is not a new release holding the deployed SHA (``git``: a clone whose HEAD is
        it, as the one-command release leaves it, without a REVISION file)."""
        wrong = []
        for host in self.fleet.hosts[:size]:
            current = host.local_deploy_to / "current"
            try:
                target = os.readlink(current)
                if git:
                    revision = subprocess.run(
                        ["git", "-c", "safe.directory=*", "-C", str(current), "rev-parse", "HEAD"],
                        capture_output=True,
                        text=True,
                        check=False,
                    ).stdout.strip()
                else:
                    revision = (current / "REVISION").read_text().strip()
            except OSError as exc:
                wrong.append(f"{host.name}: {exc}")
                continue
            if target.endswith(BASE_RELEASE) or revision != self.sha:
                wrong.append(f"{host.name}: current -> {target} ({revision[:12]})")
        return wrong

    def best(self, jobs: list[tuple[str, str, int, str]]) -> None:
        """Measure each job ``--repeat`` times, in rounds (every job once, then again), so that a change in the
        machine's load falls on every tool alike; keep each one's median run, with the raw runs."""
        rounds = max(1, self.args.repeat)
        runs: list[list[Measurement]] = [[] for _ in jobs]
        for _ in range(rounds):
            for i, (tool, variant, size, transfer) in enumerate(jobs):
                runs[i].append(self.measure(tool, variant, size, transfer))
        for measured in runs:
            good = sorted((m for m in measured if m.ok), key=lambda m: m.wall)
            chosen = good[len(good) // 2] if good else measured[-1]
            if len(measured) > 1:
                chosen.extra["runs"] = [round(m.wall, 2) for m in measured]
                chosen.extra["runs_total"] = [round(total(m), 2) for m in measured]
                chosen.extra["runs_peak_mb"] = [round(m.peak_rss_mb) for m in measured]
                chosen.extra["runs_cpu"] = [round(m.cpu, 2) for m in measured]
            self.results.append(chosen)

    # -- the whole benchmark ------------------------------------------------------------------------------------

    def run(self) -> None:
        for size in self.sizes:
            print(f"\n{size} hosts", flush=True)
            jobs: list[tuple[str, str, int, str]] = []
            if "floor" in self.tools:
                jobs.append(("floor-true", "asyncssh connect+true", size, "-"))
            for transfer in self.transfers:
                if "floor" in self.tools:
                    jobs.append(("floor-seq", f"asyncssh floor ({transfer})", size, transfer))
                if "floor-pgid" in self.tools:
                    jobs.append(("floor-pgid", f"floor+pgid wrap ({transfer})", size, transfer))
                for tool in ("shipbot", "pssh-release", "pssh", "fabric", "ansible"):
                    if tool not in self.tools:
                        continue
                    if (transfer == "release") != (tool in ("shipbot", "pssh-release")) and tool != "shipbot":
                        continue  # the one-command release is compared with shipbot only, and only it does it
                    if tool == "ansible" and transfer not in self.args.ansible_transfers.split(","):
                        continue
                    if tool == "ansible" and size > self.args.ansible_max_hosts:
                        print(f"  ansible ({transfer})        {size:>4} hosts  skipped (--ansible-max-hosts)")
                        continue
                    jobs.append((tool, f"{tool} ({transfer})", size, transfer))
            self.best(jobs)

    def report(self) -> str:
        out = []
        for size in self.sizes:
            rows = []
            at = [m for m in self.results if m.hosts == size]
            true_floor = next((m for m in at if m.tool.startswith("asyncssh connect")), None)
            one_command = next((m for m in at if m.tool.startswith("pssh-release") and m.ok), None)
            for m in at:
                transfer = m.extra.get("transfer", "-")
                floor = next((f for f in at if f.tool == f"asyncssh floor ({transfer})" and f.ok), None)

                def ratio(value: float, base: float | None) -> str:
                    return f"{value / base:.2f}x" if base else "-"

                runs = m.extra.get("runs_total")
                rows.append(
                    [
                        m.tool,
                        f"{m.wall:.2f}" if m.ok else f"FAILED ({m.note[:60]})",
                        (f"{total(m):.2f}" + (f" ({', '.join(str(r) for r in runs)})" if runs else ""))
                        if m.ok
                        else "-",
                        ratio(total(m), total(one_command) if one_command else None) if m.ok else "-",
                        str(m.extra.get("execs_per_host", "-")),
                        f"{m.cpu:.2f}" if m.ok else "-",
                        f"{m.cpu_per_host_ms:.1f}" if m.ok else "-",
                        f"{m.peak_rss_mb:.0f}" if m.ok else "-",
                        ratio(m.wall, floor.wall if floor else None) if m.ok else "-",
                        ratio(m.cpu, true_floor.cpu if true_floor and true_floor.ok else None) if m.ok else "-",
                    ]
                )
            out.append(f"\n### {size} hosts\n")
            out.append(
                table(
                    [
                        "tool (transfer)",
                        "work s",
                        "total s (runs)",
                        "total / one command",
                        "execs/host",
                        "CPU s",
                        "CPU ms/host",
                        "peak MB",
                        "wall / floor",
                        "CPU / connect+true",
                    ],
                    rows,
                )
            )
        return "\n".join(out)


def total(m: Measurement) -> float:
    """What a person waits for: the tool's process start-up (interpreter and imports) plus its work."""
    return m.wall + float(m.extra.get("start_seconds", 0.0))


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
