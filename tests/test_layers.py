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
    """The Slack adapter and the push webhooks sit side by side (independent: neither imports the other)."""
    assert ["cli", "demo", "bot | webhooks", "commands", "deploy"] == _contract("cli -> demo")["layers"]


def _cycles(adjacency: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(adjacency[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(adjacency):
        if module not in index:
            visit(module)
    return found


def test_cycles_finds_a_circle_and_only_a_circle() -> None:
    assert [["a", "b"]] == _cycles({"a": {"b"}, "b": {"a", "c"}, "c": set()})
    assert [] == _cycles({"a": {"b"}, "b": {"c"}, "c": set()})


def test_no_import_circle_in_the_product() -> None:
    import grimp

    graph = grimp.build_graph("bot", "commands", "deploy", "cli", "demo", "slack_emulator", "webhooks")
    adjacency = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    assert [] == _cycles(adjacency)


def test_no_product_module_over_450_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for package in ("bot", "commands", "deploy", "cli", "demo", "webhooks")
        for p in (ROOT / package).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 450
    }
    assert {} == long
