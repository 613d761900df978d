"""What the benchmarks share: the machine description, the benchmark login user, an sshd fleet that logs that user
in, the app repository every tool deploys, per-tool measurement in a child process, and table printing.

Every remote command runs as the dedicated login user ``shipbench`` (shell ``/bin/sh``), never as root: a login
shell that reads a heavy rc file (``pyenv init`` in root's ``~/.bashrc``, say) would add its start-up time to every
command of every tool and drown the differences between them.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deploy.hosts import journal
from tests.support.gitrepo import GitRepo
from tests.support.sshd_fleet import SSHD, SshdFleet, sshd_unavailable_reason

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_USER = "shipbench"
# SHIPBOT_BENCH_TAG: a suffix for the work folder and the hosts' path, so two benchmarks on one machine never share
# (nor remove) each other's fleet
TAG = os.environ.get("SHIPBOT_BENCH_TAG", "")
MOUNT_AT = f"/srv/shipbench-app{TAG}"  # every host's deploy_to, private to each host's sshd (mount namespace)
BASE_RELEASE = "20000101000000"  # the release each host runs before a measured deploy
BASE_SHA = "0" * 40


# -- the machine ----------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """nproc, CPU model, RAM, kernel, Python, OpenSSH and the date, for the results file."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    try:
        out = subprocess.run([str(SSHD), "-V"], capture_output=True, text=True, timeout=10, check=False)
        ssh = (out.stderr + out.stdout).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        ssh = "unknown"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu or platform.processor() or "unknown",
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "openssh": ssh,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "hostname": socket.gethostname(),
    }


def machine_line(info: dict[str, str]) -> str:
    return (
        f"{info['date']}; {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, Linux {info['kernel']}, "
        f"Python {info['python']}, {info['openssh']}"
    )


# -- the benchmark user -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchUser:
    name: str
    uid: int
    gid: int
    home: Path

    def chown(self, *paths: Path) -> None:
        for path in paths:
            os.lchown(path, self.uid, self.gid)

    def chown_tree(self, root: Path) -> None:
        os.lchown(root, self.uid, self.gid)
        for base, dirs, files in os.walk(root):
            for name in dirs + files:
                os.lchown(os.path.join(base, name), self.uid, self.gid)


def ensure_bench_user(name: str = BENCH_USER) -> BenchUser:
    """The login user every tool runs as, created on first use (root only): shell /bin/sh, no password, not locked
    (``*``: sshd without PAM refuses a locked ``!`` account even for key logins)."""
    if os.geteuid() != 0:
        raise SystemExit("the benchmarks need root: they start sshd hosts that log in a dedicated user")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
        entry = pwd.getpwnam(name)
    subprocess.run(["usermod", "-p", "*", name], check=True)
    home = Path(entry.pw_dir)
    home.mkdir(exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    return BenchUser(name, entry.pw_uid, entry.pw_gid, home)


def controller_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a controller process: its own HOME (no rc or ssh config of the invoking user), and
    git allowed to read the bench user's repositories."""
    home.mkdir(parents=True, exist_ok=True)
    # a global git config, not GIT_CONFIG_* variables: git drops those for the upload-pack of a local clone
    (home / ".gitconfig").write_text("[safe]\n\tdirectory = *\n")
    return {
        "HOME": str(home),
        "PATH": f"{Path(PYTHON).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        # bench.fanout's shipbot worker puts its store there (PostgreSQL) instead of a SQLite file
        **{k: v for k, v in os.environ.items() if k == "SHIPBOT_BENCH_DATABASE_URL"},
        **extra,
    }


def work_dir(user: BenchUser, name: str) -> Path:
    """A fresh folder under /tmp that the bench user owns (world-readable, so root and the user both see it)."""
    path = Path("/tmp") / f"shipbot-bench-{name}{TAG}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)
    user.chown(path)
    return path


# -- the fleet ------------------------------------------------------------------------------------------------------


def check_prerequisites() -> None:
    reason = sshd_unavailable_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")


def raise_open_files_limit(count: int) -> None:
    import resource  # noqa: PLC0415

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8 * count + 1024
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )


class BenchFleet(SshdFleet):
    """An :class:`SshdFleet` whose hosts log in the bench user, each host's deploy_to at :data:`MOUNT_AT` (a private
    bind mount per sshd), its folder owned by that user, and the client key readable by that user only."""

    def __init__(self, root: Path, count: int, user: BenchUser, **options: Any) -> None:
        options.setdefault("mount_at", MOUNT_AT)
        options.setdefault("start_timeout", max(30.0, count * 0.2))
        super().__init__(root, count, **options)
        self.user = user.name
        self.bench_user = user

    def prepare(self) -> None:
        if self._prepared:
            return
        super().prepare()
        u = self.bench_user
        for path in (self.root, self.root / "hosts"):
            os.chmod(path, 0o755)
        for host in self.hosts:
            os.chmod(host.folder, 0o755)
            u.chown(host.local_deploy_to)
        u.chown(self.client_key, self.client_public_key, self.known_hosts, self.authorized_keys)

    def write_known_hosts(self) -> None:
        super().write_known_hosts()
        with contextlib.suppress(OSError):
            self.bench_user.chown(self.known_hosts)


def reset_hosts(fleet: BenchFleet, count: int, release_files: dict[str, str]) -> None:
    """Put the first ``count`` hosts in the same state before each measured deploy: one earlier release live
    (``current``), a journal line for it, ``shared/log``, no host git cache, nothing else."""
    u = fleet.bench_user
    line = journal.Entry(
        "2000-01-01T00:00:00Z", "deploy", "rbase00", "U0BENCH", BASE_SHA, BASE_RELEASE, None, "success"
    ).to_line()
    for host in fleet.hosts[:count]:
        d = host.local_deploy_to
        for child in d.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        rel = d / "releases" / BASE_RELEASE
        rel.mkdir(parents=True)
        (rel / "REVISION").write_text(BASE_SHA + "\n")
        for name, text in release_files.items():
            (rel / name).write_text(text)
        (d / "shared" / "log").mkdir(parents=True)
        (d / ".shipbot").mkdir()
        (d / ".shipbot" / "journal.jsonl").write_text(line + "\n")
        (d / "current").symlink_to(f"releases/{BASE_RELEASE}")
        u.chown_tree(d)


# -- the app --------------------------------------------------------------------------------------------------------

BUILD_SH = "#!/bin/sh\nset -e\ncat src/*.py | wc -c > BUILT\n"
RESTART_SH = '#!/bin/sh\necho "$SHIPBOT_RELEASE $(date +%s)" >> log/restarts\n'
HEALTH_SH = "#!/bin/sh\ntest -s BUILT && test -L log\n"

PIPELINE: dict[str, Any] = {
    "build": ["./build.sh"],
    "restart": "./restart.sh",
    "healthcheck": {"run": "./health.sh", "retries": 3, "interval": "0.5s", "timeout": "30s"},
}


def make_bench_repo(path: Path, user: BenchUser, files: int = 48, kib: int = 256) -> tuple[GitRepo, str]:
    """A git repository of a small app: ``files`` source files of about ``kib`` KiB in all, plus build, restart and
    health scripts. Returns the repo and the SHA of ``main``."""
    repo = GitRepo(path)
    per_file = max(64, kib * 1024 // files)
    content: dict[str, str] = {"build.sh": BUILD_SH, "restart.sh": RESTART_SH, "health.sh": HEALTH_SH}
    for i in range(files):
        body = []
        n = 0
        while sum(len(b) for b in body) < per_file:
            body.append(f"def handler_{i}_{n}(request):\n    return {{'module': {i}, 'handler': {n}, 'ok': True}}\n\n")
            n += 1
        content[f"src/module_{i:03d}.py"] = "".join(body)
    sha = repo.commit("the benchmark app", content)
    user.chown_tree(path)
    return repo, sha


# -- measuring one tool in a child process ---------------------------------------------------------------------------


@dataclass
class Measurement:
    tool: str
    hosts: int
    ok: bool
    wall: float = 0.0  # seconds of the tool's work, measured in the child
    cpu: float = 0.0  # user+system seconds of the child and everything it started, over the same span
    peak_rss_mb: float = 0.0  # peak of the summed RSS of the child's process tree (sampled) or its own max RSS
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_per_host_ms(self) -> float:
        return 1000 * self.cpu / self.hosts if self.hosts else 0.0


def _tree_rss(root: Any) -> int:
    import psutil  # noqa: PLC0415

    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def kill_tree(pid: int) -> None:
    import psutil  # noqa: PLC0415

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)


def run_child(
    tool: str,
    hosts: int,
    argv: Sequence[str],
    env: dict[str, str],
    result_file: Path,
    log_file: Path,
    time_limit: float,
    sample_interval: float = 0.1,
) -> Measurement:
    """Run ``argv`` (a controller); it writes its own timing to ``result_file`` as JSON. The parent samples the
    child's process tree RSS and kills the tree after ``time_limit`` seconds."""
    import psutil  # noqa: PLC0415

    result_file.unlink(missing_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=str(REPO_ROOT),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    root = psutil.Process(proc.pid)
    peak = 0
    began = time.monotonic()
    timed_out = False
    while proc.poll() is None:
        peak = max(peak, _tree_rss(root))
        if time.monotonic() - began > time_limit:
            timed_out = True
            kill_tree(proc.pid)
            proc.wait()
            break
        time.sleep(sample_interval)
    if timed_out:
        return Measurement(
            tool, hosts, False, wall=time.monotonic() - began, note=f"stopped at the {time_limit:g}s cap"
        )
    try:
        data = json.loads(result_file.read_text())
    except (OSError, ValueError):
        tail = log_file.read_text(errors="replace").strip().splitlines()[-5:]
        return Measurement(tool, hosts, False, note=f"exit {proc.returncode}: " + " | ".join(tail)[-400:])
    own_peak = float(data.get("maxrss_kb", 0)) * 1024
    return Measurement(
        tool,
        hosts,
        bool(data["ok"]) and proc.returncode == 0,
        wall=float(data["wall"]),
        cpu=float(data["cpu"]),
        peak_rss_mb=max(peak, own_peak) / 1024 / 1024,
        note=str(data.get("note", "")),
        extra={k: v for k, v in data.items() if k not in ("ok", "wall", "cpu", "note", "maxrss_kb")},
    )


# -- numbers and tables ---------------------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation, as numpy's default."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.median(data) if data else float("nan")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (pipes aligned for reading in a terminal too)."""
    body = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(list(headers)), sep, *(line(r) for r in body)])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
