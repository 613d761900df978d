"""The image is built from the folders the Dockerfile copies: every package pyproject.toml installs must be one.
It runs under tini, keeps its data in a volume, checks health on the ops port the environment names, and installs
the Sentry extra when the build argument asks (read from the Dockerfile and run piecewise: no Docker engine here)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.packaging.dockerfile import build_stage_copies, instructions, packaged_roots


def test_the_build_stage_copies_every_packaged_package_and_the_project_files() -> None:
    copied = set(build_stage_copies())
    assert [] == [p for p in [*packaged_roots(), "pyproject.toml", "README.md"] if p not in copied]


def test_the_packages_are_the_product_and_the_emulator() -> None:
    assert ["bot", "cli", "commands", "demo", "deploy", "sinks", "slack_emulator", "webhooks"] == packaged_roots()


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        pytest.param("FROM a\nCOPY x ./x\n", ["x"], id="one-copy"),
        pytest.param(
            "FROM a AS b\nCOPY p.toml README.md ./\nCOPY bot/ ./bot\n", ["p.toml", "README.md", "bot"], id="several"
        ),
        pytest.param("FROM a\nCOPY x ./x\nFROM b\nCOPY y ./y\n", ["x"], id="first-stage-only"),
        pytest.param("FROM a\nCOPY --chown=1:1 x ./x  # the code\n", ["x"], id="flags-and-comments"),
        pytest.param("FROM a\nCOPY --from=other /x ./x\n", [], id="copies-from-another-stage"),
    ],
)
def test_build_stage_copies_reads_copy_lines(tmp_path: Path, dockerfile: str, expected: list[str]) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    assert expected == build_stage_copies(path)


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        pytest.param('["bot", "bot.*", "cli", "cli.*"]', ["bot", "cli"], id="package-and-subpackages"),
        pytest.param('["deploy*"]', ["deploy"], id="glob"),
    ],
)
def test_packaged_roots_reads_the_find_include_list(tmp_path: Path, include: str, expected: list[str]) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.setuptools.packages.find]\ninclude = {include}\n")
    assert expected == packaged_roots(path)


def final_stage(keyword: str) -> list[str]:
    every = instructions()
    last = max(stage for stage, _, _ in every)
    return [args for stage, kw, args in every if stage == last and kw == keyword]


def test_the_bot_runs_under_tini_installed_from_debian() -> None:
    [entrypoint] = final_stage("ENTRYPOINT")
    assert ["/usr/bin/tini", "--"] == json.loads(entrypoint)
    assert any("apt-get install" in run and " tini" in run for run in final_stage("RUN"))
    assert [["shipbot", "run"]] == [json.loads(cmd) for cmd in final_stage("CMD")]


def test_the_data_dir_is_a_volume() -> None:
    env = " ".join(final_stage("ENV"))
    data_dir = env.split("SHIPBOT_DATA_DIR=", 1)[1].split()[0]
    volumes = [v for spec in final_stage("VOLUME") for v in json.loads(spec)]
    assert data_dir in volumes


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_the_healthcheck_asks_the_ops_port_from_the_environment(status: int, exit_code: int) -> None:
    [healthcheck] = final_stage("HEALTHCHECK")
    command = shlex.split(healthcheck.split(" CMD ", 1)[1])
    handler = type("Health", (_Health,), {"status": status})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = str(server.server_address[1])
        assert "9102" not in healthcheck.replace("'9102'", ""), "no port but the documented default"
        env = {**os.environ, "SHIPBOT_OPS_PORT": port}
        done = subprocess.run([sys.executable if command[0] == "python" else command[0], *command[1:]],
                              env=env, capture_output=True, timeout=30, check=False)  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert exit_code == done.returncode


@pytest.mark.parametrize(("value", "extra"), [("1", ["--extra", "sentry"]), ("0", [])])
def test_the_image_installs_the_locked_dependencies_with_the_sentry_extra_when_asked(
    value: str, extra: list[str]
) -> None:
    build = [args for stage, kw, args in instructions() if stage == 1]
    args = {a.split("=")[0]: a.split("=", 1)[1] for stage, kw, a in instructions() if stage == 1 and kw == "ARG"}
    assert {"WITH_SENTRY", "UV_VERSION"} <= set(args)
    [install] = [run for run in build if "pip install" in run]
    # pip and uv replaced by functions printing their arguments, one call a line
    shell = f'pip() {{ echo "pip $*"; }}; uv() {{ echo "uv $*"; }}; {install}'
    env = {"WITH_SENTRY": value, "UV_VERSION": args["UV_VERSION"], "PATH": os.defpath}
    done = subprocess.run(["sh", "-c", shell], env=env, capture_output=True, text=True, check=True)
    calls = [line.split() for line in done.stdout.splitlines()]
    assert [
        ["pip", "install", "--no-cache-dir", f"uv=={args['UV_VERSION']}"],
        ["uv", "export", "--frozen", "--no-emit-project", "--no-header", *extra, "-o", "/tmp/requirements.txt"],
        ["pip", "install", "--no-cache-dir", "--require-hashes", "--prefix=/install", "-r", "/tmp/requirements.txt"],
        ["pip", "install", "--no-cache-dir", "--no-deps", "--prefix=/install", "."],
    ] == calls
    assert "uv.lock" in build_stage_copies()
