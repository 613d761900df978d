"""What the drain relies on, checked against a real nginx: ``nginx -s reload`` signals the master and returns
at once, and a worker from before the reload lives on while it holds a connection."""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench.zero_downtime import demo
from deploy.hosts import bluegreen
from tests.support.ports import free_port

pytestmark = pytest.mark.nginx


@pytest.fixture
def slow_upstream() -> Iterator[int]:
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(1.5)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def workers(pid_file: Path) -> tuple[int, ...]:
    listed = subprocess.run(
        ["sh", "-c", f"{bluegreen.nginx_workers(str(pid_file))}; echo {bluegreen.WORKERS}$old"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return bluegreen.parse_workers(listed.stdout)


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_reload_returns_while_a_worker_from_before_it_still_serves(tmp_path: Path, slow_upstream: int) -> None:
    if not demo.nginx_available():
        pytest.skip("nginx is not installed")
    nginx = demo.Nginx(tmp_path / "nginx", free_port(), "shop", slow_upstream).start()
    try:
        before = workers(nginx.prefix / "nginx.pid")
        assert 1 == len(before), "worker_processes 1"
        answers: list[int] = []
        slow = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(nginx.url, timeout=10).status))
        slow.start()
        time.sleep(0.3)  # the request is in the old worker, waiting on the upstream

        reload = subprocess.run(demo.nginx_commands(str(nginx.prefix))["reload"], shell=True, check=True)

        assert 0 == reload.returncode
        assert alive(before[0]), "nginx -s reload returned; the old worker still holds its request"
        slow.join()
        deadline = time.monotonic() + 5
        while alive(before[0]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [200] == answers
        assert not alive(before[0]), "the old worker exits once its request is done"
        assert before[0] not in workers(nginx.prefix / "nginx.pid")
    finally:
        nginx.stop()
