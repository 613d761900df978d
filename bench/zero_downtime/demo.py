"""The demo app's git repository, and a private nginx per simulated host (for the bench and the tests).

``make_repo(path)`` commits the files of ``app/`` (a stdlib web app and its start, stop, reload and health
scripts) as ``main`` (v1), then ``v2`` and ``broken-health`` (its health check fails). ``Nginx`` runs one nginx
master in the foreground under its own prefix (``<deploy_to>/nginx``): its own listen port, pid file, logs and
temp folders, proxying to the upstream in ``<prefix>/upstream.conf`` that a blue/green deploy rewrites.
``nginx_commands(prefix)`` are the ``nginx -t`` / ``nginx -s reload`` lines for that instance.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.gitrepo import GitRepo

APP_DIR = Path(__file__).resolve().parent / "app"
NGINX = "/usr/sbin/nginx"


def app_files() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(APP_DIR.iterdir()) if p.is_file()}


def make_repo(path: Path) -> GitRepo:
    repo = GitRepo(path)
    repo.commit("demo app v1", {**app_files(), "VERSION": "v1\n"})
    repo.branch("v2")
    repo.commit("demo app v2", {"VERSION": "v2\n"})
    repo.branch("broken-health", "main")
    repo.commit("health check fails", {"VERSION": "v3\n", "health.sh": "#!/bin/sh\necho unhealthy >&2\nexit 1\n"})
    repo.checkout("main")
    return repo


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def nginx_available() -> bool:
    return os.access(NGINX, os.X_OK)


def nginx_commands(prefix: str) -> dict[str, str]:
    """The blue_green.nginx test and reload commands for the instance under ``prefix`` (may use $SHIPBOT_*)."""
    base = f'{NGINX} -p "{prefix}/" -c "{prefix}/nginx.conf" -e "{prefix}/error.log"'
    return {"test": f"{base} -t -q", "reload": f"{base} -s reload"}


class Nginx:
    """One nginx master in the foreground, everything under ``prefix``."""

    def __init__(self, prefix: Path, listen: int, upstream: str, first_port: int, config_weight: int = 0) -> None:
        """``config_weight``: entries of a large ``map`` in ``conf.d/weight.conf`` (200000: about 0.2 s to parse),
        so a reload takes as long as one of a production nginx with many sites and certificates: the master is
        still reading its config, and the old workers still proxy to the old upstream, after ``nginx -s reload``
        returned."""
        self.prefix = prefix
        self.listen = listen
        self.upstream = upstream
        self.proc: subprocess.Popen[bytes] | None = None
        (prefix / "conf.d").mkdir(parents=True, exist_ok=True)
        for tmp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / tmp).mkdir(parents=True, exist_ok=True)
        if config_weight:
            (prefix / "conf.d" / "weight.conf").write_text(
                "map_hash_max_size 1048576;\nmap_hash_bucket_size 128;\nmap $uri $shipbot_weight {\n"
                + "".join(f"    /w{i} {i};\n" for i in range(config_weight))
                + "}\n"
            )
        upstream_file = prefix / "upstream.conf"
        if not upstream_file.exists():
            upstream_file.write_text(f"upstream {upstream} {{\n    server 127.0.0.1:{first_port};\n}}\n")
        (prefix / "nginx.conf").write_text(
            f"""worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/upstream.conf;
    include {prefix}/conf.d/*.conf;
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://{upstream};
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen}"

    def start(self) -> Nginx:
        self.proc = subprocess.Popen(
            [NGINX, "-p", f"{self.prefix}/", "-c", f"{self.prefix}/nginx.conf", "-e", f"{self.prefix}/error.log"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # -e: errors go to <prefix>/error.log
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.listen), 0.2):
                return self
            if self.proc.poll() is not None:
                log = self.prefix / "error.log"
                raise RuntimeError(f"nginx did not start: {log.read_text() if log.exists() else ''}")
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
        self.proc = None


def stop_apps(deploy_to: Path) -> None:
    """Kill every demo app a deploy started under ``deploy_to`` (they run detached from SSH sessions)."""
    for pidfile in (deploy_to / "run").glob("app-*.pid"):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
    # a handover may leave a process whose pid file was replaced; find stragglers by their command line
    needle = str(deploy_to).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (entry / "cmdline").read_bytes()
                if b"app.py" in cmd and needle in cmd:
                    os.kill(int(entry.name), signal.SIGKILL)
