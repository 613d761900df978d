"""The wheel alone carries the product: built from what the Dockerfile copies, installed into a fresh venv.

The fresh venv gets the third-party dependencies pinned by ``uv.lock`` (exported without hashes' extras and without
the project, exactly what ``make install`` and the Dockerfile install), then the wheel with ``--no-deps``: what a
user's ``pip install`` of the release would run, on the versions the tests ran with. Its ``shipbot`` console script
runs with Python's default warning settings, as a user's shell has them. Under ``make test-latest``
(``TESTS_UNLOCKED=1``) the fresh venv resolves the wheel's dependencies anew instead: the newest releases, as a user's
``pip install shipbot`` on the day would get them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.dockerfile import ROOT, build_stage_copies, packaged_roots

CONFIG = """\
app: shop
repo: /srv/git/shop.git
deploy_to: /srv/shop
environments:
  staging:
    hosts: [{address: 10.0.0.1}, {address: 10.0.0.2}]
"""


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built (without network) from a copy of exactly what the Dockerfile's build stage copies."""
    work = tmp_path_factory.mktemp("wheel")
    context = work / "context"
    context.mkdir()
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in build_stage_copies():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=ignored)
        else:
            shutil.copy2(source, context / name)
    out = work / "dist"
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, context,
        cwd=work,
    )  # fmt: skip
    assert 0 == built.returncode, built.stdout + built.stderr
    return next(out.glob("shipbot-*.whl"))


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new venv holding the locked dependencies (or the newest, unlocked) and the wheel."""
    home = tmp_path_factory.mktemp("fresh")
    venv = home / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=home)
    assert 0 == made.returncode, made.stderr
    python = venv / "bin" / "python"
    uv = Path(sys.executable).parent / "uv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    exported = run(
        uv, "export", "--frozen", "--no-emit-project", "--no-header", "--format", "requirements-txt",
        "-o", home / "requirements.txt", cwd=ROOT, env=env,
    )  # fmt: skip
    assert 0 == exported.returncode, exported.stderr
    steps = [("-r", home / "requirements.txt"), ("--no-deps", wheel)]
    if os.environ.get("TESTS_UNLOCKED") == "1":
        steps = [("--upgrade", wheel)]
    for argv in steps:
        installed = run(uv, "pip", "install", "--quiet", "--python", python, *argv, cwd=home, env=env)
        assert 0 == installed.returncode, installed.stdout + installed.stderr
    yield venv


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SHIPBOT_", "VIRTUAL_ENV"))}
    return {**env, "PATH": os.defpath}


def test_the_wheel_holds_the_product_and_the_emulators_page_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = sorted({n.split("/")[0] for n in names if not n.startswith("shipbot-")})
    static = sorted(n for n in names if n.startswith("slack_emulator/static/"))
    expected_static = sorted(f"slack_emulator/static/{p.name}" for p in (ROOT / "slack_emulator" / "static").iterdir())
    assert (packaged_roots(), expected_static, True) == (tops, static, "bot/manifest.yml" in names)


def test_every_product_module_the_fresh_venv_imports_comes_from_the_wheel(fresh: Path, tmp_path: Path) -> None:
    probe = (
        "import json, bot.app, cli.main, cli.root, commands.usecases, demo.launch, deploy.run.engine, slack_emulator.server\n"
        "import sys\n"
        "print(json.dumps({n: m.__file__ for n, m in sys.modules.items()"
        " if n.split('.')[0] in {'bot', 'cli', 'commands', 'demo', 'deploy', 'slack_emulator', 'tools', 'tests'}}))"
    )
    result = run(fresh / "bin" / "python", "-c", probe, cwd=tmp_path, env=clean_env())
    assert 0 == result.returncode, result.stderr
    files = json.loads(result.stdout)
    site = fresh / "lib"
    assert [] == [f for f in files.values() if not Path(f).is_relative_to(site)]
    assert [] == [n for n in files if n.split(".")[0] in {"tools", "tests"}]


def test_the_installed_shipbot_prints_its_help(fresh: Path, tmp_path: Path) -> None:
    result = run(fresh / "bin" / "shipbot", "--help", cwd=tmp_path, env=clean_env())
    assert (0, "usage: shipbot [-h] COMMAND ...") == (result.returncode, result.stdout.splitlines()[0])
    assert all(word in result.stdout for word in ("deploy", "rollback", "status", "check", "run", "demo"))


def test_the_installed_shipbot_checks_a_config(fresh: Path, tmp_path: Path) -> None:
    (tmp_path / "shipbot.yml").write_text(CONFIG)
    result = run(fresh / "bin" / "shipbot", "check", "--config", "shipbot.yml", cwd=tmp_path, env=clean_env())
    assert (0, "shipbot.yml: ok (shop, 1 environment, 2 hosts)\n", "") == (
        result.returncode,
        result.stdout,
        result.stderr,
    )


def test_the_wheel_carries_the_migrations_and_the_installed_shipbot_migrates_a_database(
    wheel: Path, fresh: Path, tmp_path: Path
) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n for n in names if n.startswith("deploy/store/migrations/") and not n.endswith("__init__.py"))
    expected = sorted(
        f"deploy/store/migrations/{p.relative_to(ROOT / 'deploy' / 'store' / 'migrations')}"
        for p in (ROOT / "deploy" / "store" / "migrations").rglob("*")
        if p.is_file() and p.suffix in (".py", ".mako") and p.name != "__init__.py"
    )
    assert expected == shipped
    env = {**clean_env(), "SHIPBOT_DATA_DIR": str(tmp_path / "data")}
    result = run(fresh / "bin" / "shipbot", "db", "upgrade", cwd=tmp_path, env=env)
    newest = max(
        p.name.split("_")[0] for p in (ROOT / "deploy" / "store" / "migrations" / "versions").glob("[0-9]*.py")
    )
    assert (0, f"{tmp_path / 'data' / 'shipbot.sqlite3'}: upgraded from revision none to {newest}\n") == (
        result.returncode,
        result.stdout,
    ), result.stderr


def test_the_installed_shipbot_prints_no_dependency_warning_a_user_cannot_act_on(fresh: Path, tmp_path: Path) -> None:
    """With Python's default warning settings (nothing in PYTHONWARNINGS), as a user's shell runs it: ``--help`` and a
    passing ``check`` say nothing on stderr, a failing ``status`` says only shipbot's own lines."""
    (tmp_path / "shipbot.yml").write_text(CONFIG)
    env = {**clean_env(), "SHIPBOT_DATA_DIR": str(tmp_path / "data")}
    shipbot = fresh / "bin" / "shipbot"
    helped = run(shipbot, "--help", cwd=tmp_path, env=env)
    checked = run(shipbot, "check", "--config", "shipbot.yml", cwd=tmp_path, env=env)
    failed = run(shipbot, "status", "nowhere", "--config", "missing.yml", cwd=tmp_path, env=env)
    assert ("", 0, "", 0) == (helped.stderr, helped.returncode, checked.stderr, checked.returncode)
    assert (2, "shipbot: ") == (failed.returncode, failed.stderr[: len("shipbot: ")]), failed.stderr
    assert [] == [line for line in failed.stderr.splitlines() if not line.startswith(("shipbot: ", "  - "))]
