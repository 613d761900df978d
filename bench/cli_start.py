"""``python -m bench.cli_start [--shipbot PATH] [--runs 10]``: how fast the ``shipbot`` command answers.

Runs ``shipbot --help``, ``shipbot check`` (no ``--connect``) and ``shipbot history staging --json`` (on a SQLite
store holding 20 runs) ``--runs`` times each, one after another, and prints for each the median, minimum and
maximum wall time to the process's exit (its first output comes just before) and the median CPU time (user +
system, which the machine's other load changes less). ``--shipbot`` picks the console script to measure (default:
the one beside this Python: measure a fresh ``pip install .`` by passing its ``bin/shipbot``), and
``--importtime`` prints the ten slowest imports of each command (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """app: shop
repo: /nonexistent/shop.git
deploy_to: /srv/shop
environments:
  staging:
    hosts:
      - {address: 127.0.0.1, port: 2222}
      - {address: 127.0.0.2, port: 2222}
"""


def _seed(data_dir: Path) -> None:
    """A SQLite store with 20 finished deploys of ``shop`` to staging."""
    from deploy.records import RunRecord  # noqa: PLC0415
    from deploy.store.tables import Store  # noqa: PLC0415

    store = Store.in_data_dir(data_dir)
    try:
        now = time.time()
        for i in range(20):
            run = RunRecord(f"rbench{i:02d}", "deploy", "shop", "staging", "U0BENCH", "main", "a" * 40,
                            f"2026010100{i:04d}", "running", now - 100 + i, hosts=2)  # fmt: skip
            lease = store.start_run(run, "deploy main")
            store.finish_run(run.run_id, "success", "deployed", lease)
    finally:
        store.close()


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(argv: list[str], runs: int, env: dict[str, str], cwd: Path) -> tuple[list[float], list[float], str]:
    walls, cpus, out = [], [], ""
    for _ in range(runs):
        cpu0, t0 = _child_cpu(), time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - t0)
        cpus.append(_child_cpu() - cpu0)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
        out = done.stdout
    return walls, cpus, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_start", description=__doc__.splitlines()[0])
    parser.add_argument("--shipbot", default=str(Path(sys.executable).parent / "shipbot"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shipbot-cli-start-") as scratch:
        where = Path(scratch)
        (where / "shipbot.yml").write_text(CONFIG)
        _seed(where / "data")
        env = {**os.environ, "SHIPBOT_DATA_DIR": str(where / "data"), "SHIPBOT_CONFIG": str(where / "shipbot.yml")}
        env.pop("SHIPBOT_DATABASE_URL", None)
        commands = {
            "shipbot --help": ["--help"],
            "shipbot check": ["check"],
            "shipbot history staging --json": ["history", "staging", "--json"],
        }
        print(f"{args.shipbot}, {args.runs} runs each; load average {os.getloadavg()[0]:.1f} at the start")
        print("| command | median wall s | min | max | median CPU s |")
        print("|---|---:|---:|---:|---:|")
        for name, rest in commands.items():
            walls, cpus, _ = measure([args.shipbot, *rest], args.runs, env, where)
            print(f"| `{name}` | {statistics.median(walls):.3f} | {min(walls):.3f} | {max(walls):.3f} | "
                  f"{statistics.median(cpus):.3f} |")  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        if args.importtime:
            python = str(Path(args.shipbot).parent / "python")
            for name, rest in commands.items():
                done = subprocess.run([python, "-X", "importtime", "-c", "import sys; from cli.entry import main; "
                                       f"sys.argv = ['shipbot', *{rest!r}]; sys.exit(main())"],
                                      env=env, cwd=where, capture_output=True, text=True, check=False)  # fmt: skip
                rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
                rows = [r for r in rows if r[1].strip().isdigit()]
                total = sum(int(r[0].split(":")[1]) for r in rows) / 1e6
                top = sorted(rows, key=lambda r: -int(r[1]))[:10]
                print(f"\n{name}: {len(rows)} modules imported, {total:.3f} s of imports; slowest (cumulative):")
                for r in top:
                    print(f"  {int(r[1]) / 1e6:.3f} s  {r[2].strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
