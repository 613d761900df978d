"""Fixtures for previews: real sshd hosts, a real git repo with ``demo/*`` branches, and a real nginx that includes
the previews' ``sites_dir``, started as the test user with its own prefix, tested and reloaded through SSH."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cli.engines import build_previews
from deploy.config.models import parse_config
from deploy.hosts.ssh import SshConnector
from deploy.previews.preview_runner import PreviewRunner
from deploy.run.engine import Engine
from deploy.store.tables import Store
from tests.support.gitrepo import GitRepo
from tests.support.ports import free_port, free_range
from tests.support.sshd_fleet import FleetFactory, SshdFleet

NGINX = Path("/usr/sbin/nginx")
DOMAIN = "preview.example.com"
# the app writes the SHA it runs into index.html and serves its release folder on SHIPBOT_PORT, detached from SSH;
# a commit with a file BROKEN fails to start
RESTART = (
    "test ! -e BROKEN || { echo 'cannot start: BROKEN' >&2; exit 1; }; "
    'echo "$SHIPBOT_SHA" > index.html; '
    'setsid nohup python3 -m http.server "$SHIPBOT_PORT" --bind 127.0.0.1 > server.log 2>&1 < /dev/null &'
)


class Nginx:
    """A real nginx master in the foreground under ``prefix``, its http block including ``sites/*.conf``."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.port = free_port()
        self.sites = prefix / "sites"
        self.sites.mkdir(parents=True)
        for tmp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / tmp).mkdir(parents=True)
        (prefix / "nginx.conf").write_text(
            f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen 127.0.0.1:{self.port} default_server;
        return 404;
    }}
    include {self.sites}/*.conf;
}}
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"{NGINX} -p {self.prefix}/ -c {self.prefix}/nginx.conf -e {self.prefix}/error.log"

    def preview_nginx(self, **extra: Any) -> dict[str, Any]:
        """The ``previews.nginx`` section for this instance."""
        return {
            "sites_dir": str(self.sites),
            "listen": f"127.0.0.1:{self.port}",
            "test": f"{self.base} -t -q",
            "reload": f"{self.base} -s reload",
            **extra,
        }

    def start(self) -> Nginx:
        self.proc = subprocess.Popen(
            [*self.base.split(), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx did not start: {(self.prefix / 'error.log').read_text()}")
            time.sleep(0.02)
        raise RuntimeError("nginx did not answer within 10s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    async def get(self, host: str, path: str = "/") -> tuple[int, str]:
        """An HTTP request to this nginx with ``Host: host``: (status, body)."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{self.port}{path}", headers={"Host": host}) as r,
        ):
            return r.status, await r.text()

    async def status_soon(self, host: str, status: int, within: float = 5.0) -> int:
        """The status nginx answers for ``host`` once it is ``status`` (or the last one after ``within`` seconds):
        ``nginx -s reload`` only signals the master, and old workers answer from the old config until they exit."""
        deadline = time.monotonic() + within
        got = (await self.get(host))[0]
        while got != status and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            got = (await self.get(host))[0]
        return got

    async def page(self, host: str, within: float = 5.0) -> tuple[int, str]:
        """(status, body) for ``host`` once a worker with the reloaded config answers (not 404 or 502)."""
        deadline = time.monotonic() + within
        got = await self.get(host)
        while got[0] in (404, 502) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            got = await self.get(host)
        return got

    def blocks(self) -> list[str]:
        return sorted(p.name for p in self.sites.iterdir())


def processes_under(folder: Path) -> list[int]:
    """Pids of processes whose working directory is inside ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cwd = os.readlink(entry / "cwd")
                if cwd == str(folder) or cwd.startswith(f"{folder}/"):
                    found.append(int(entry.name))
    return found


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    if not os.access(NGINX, os.X_OK):
        pytest.skip("nginx is not installed")
    server = Nginx(tmp_path / "nginx").start()
    yield server
    server.stop()


@pytest.fixture
def preview_repo(tmp_path: Path) -> GitRepo:
    """``main`` and ``demo/xyz``, each a commit of a tiny app."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("first version", {"VERSION": "v1\n", "build.sh": "#!/bin/sh\necho built > BUILT\n"})
    repo.branch("demo/xyz")
    repo.commit("demo change", {"VERSION": "demo\n"})
    repo.checkout("main")
    return repo


@dataclass
class PreviewWorld:
    previews: PreviewRunner
    fleet: SshdFleet
    nginx: Nginx
    repo: GitRepo
    config: dict[str, Any]

    def folder(self, name: str, host: int = 0) -> Path:
        return self.fleet.hosts[host].local_deploy_to / "previews" / name

    def push(self, branch: str, text: str, files: dict[str, str] | None = None) -> str:
        """A new commit on ``branch``; its SHA."""
        self.repo.checkout(branch)
        sha = self.repo.commit(f"change {text}", {"VERSION": f"{text}\n", **(files or {})})
        self.repo.checkout("main")
        return sha


WorldFactory = Callable[..., Awaitable[PreviewWorld]]


def previews_config(fleet: SshdFleet, repo: GitRepo, server: Nginx, ports: str, **keys: Any) -> dict[str, Any]:
    config = fleet.config_yaml(
        repo=repo.path,
        pipeline={"build": ["./build.sh"], "restart": RESTART, **keys.pop("pipeline", {})},
        shared={"dirs": ["log"]},
        timeouts={"restart": "15s", "build": "30s", "transfer": "30s", "command": "15s"},
    )
    host = config["environments"]["staging"]["hosts"][0]
    if "access" in keys:
        config["access"] = keys.pop("access")
    nginx_keys = keys.pop("nginx", {})
    config["previews"] = {
        "branches": "demo/*",
        "hosts": [dict(host)],
        "domain": DOMAIN,
        "ports": ports,
        "ttl": "48h",
        "nginx": server.preview_nginx(**nginx_keys),
        **keys,
    }
    return config


@pytest.fixture
def preview_world(
    tmp_path: Path, sshd_fleet: FleetFactory, nginx: Nginx, preview_repo: GitRepo
) -> Iterator[WorldFactory]:
    """``w = await preview_world(ports=3, **previews keys)``: the previews of an app on one sshd host,
    through the real nginx. Every app process a preview left is killed at teardown."""
    store = Store.in_data_dir(tmp_path / "data")

    async def make(ports: int = 3, **keys: Any) -> PreviewWorld:
        fleet = await sshd_fleet(1)
        first, last = free_range(ports)
        config = previews_config(fleet, preview_repo, nginx, f"{first}-{last}", **keys)
        engine = Engine(parse_config(config, "test.yml"), store, tmp_path / "data", SshConnector)
        return PreviewWorld(build_previews(engine, store), fleet, nginx, preview_repo, config)

    yield make


@pytest.fixture(autouse=True)
def no_stray_apps(tmp_path: Path) -> Iterator[None]:
    """Every app process a preview left under the test's folder is killed at teardown (they run detached)."""
    yield
    for pid in processes_under(tmp_path):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
