"""The import contracts in pyproject.toml keep up with the code: every deploy module but the SSH adapter is named as
a source of the asyncssh contract (import-linter needs each one named, since the adapter lives in the same package)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _contract(name_start: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"].startswith(name_start))


def test_every_deploy_module_but_the_ssh_adapter_is_kept_from_asyncssh() -> None:
    contract = _contract("asyncssh only in the SSH adapter:")
    modules = {f"deploy.{p.stem}" for p in (ROOT / "deploy").glob("*.py") if p.stem not in ("__init__", "ssh")}
    assert set() == modules - set(contract["source_modules"])  # type: ignore[arg-type]
    assert "deploy.ssh" not in contract["source_modules"]  # type: ignore[operator]
    assert "ignore_imports" not in contract


def test_no_contract_ignores_imports() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert [] == [c["name"] for c in config["tool"]["importlinter"]["contracts"] if "ignore_imports" in c]


def test_layers_run_from_the_cli_down_to_the_engine() -> None:
    assert ["cli", "demo", "bot", "commands", "deploy"] == _contract("cli -> demo")["layers"]
