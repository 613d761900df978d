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
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "deploy").rglob("*.py")
        if p.stem not in ("__init__", "ssh") and "__pycache__" not in p.parts
    }
    sources = set(contract["source_modules"])  # type: ignore[arg-type]
    modules = {m for m in modules if not any(m.startswith(s + ".") for s in sources)}
    assert set() == modules - set(contract["source_modules"])  # type: ignore[arg-type]
    assert "deploy.hosts.ssh" not in contract["source_modules"]  # type: ignore[operator]
    assert "ignore_imports" not in contract


def test_no_contract_ignores_imports() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    assert [] == [
        c["name"]
        for c in contracts
        if "ignore_imports" in c and c["name"] != "The store is reached only through its ports"
    ]
    store = _contract("The store is reached only through its ports")
    ignored = sorted(store["ignore_imports"])  # type: ignore[arg-type]
    assert [
        "cli.operator_commands -> deploy.store.**",
        "cli.reading -> deploy.store.**",
        "cli.root -> deploy.store.**",
    ] == ignored  # the composition roots (the read-only commands' reads a SQLite store file itself)


def test_layers_run_from_the_cli_down_to_the_engine() -> None:
    """The Slack adapter, the push webhooks and the outbound sinks sit side by side (none imports another)."""
    assert ["cli", "demo", "bot | webhooks | sinks", "commands", "deploy"] == _contract("cli -> demo")["layers"]


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


def _modules(package: str) -> dict[Path, list[str]]:
    """Each folder of a package -> its modules' names (``__init__`` and ``__main__`` aside)."""
    found: dict[Path, list[str]] = {}
    for p in sorted((ROOT / package).rglob("*.py")):
        if p.stem not in ("__init__", "__main__") and "__pycache__" not in p.parts:
            found.setdefault(p.parent.relative_to(ROOT), []).append(p.stem)
    return found


def test_no_folder_of_deploy_over_15_modules() -> None:
    """deploy/ is in rooms by concern (each __init__.py opens with its map); migration revisions are a history."""
    full = {str(f): len(n) for f, n in _modules("deploy").items() if len(n) > 15 and f.name != "versions"}
    assert {} == full


def test_no_two_modules_of_one_name_in_a_top_level_package() -> None:
    twice = {}
    for package in ("bot", "commands", "deploy", "cli", "demo", "slack_emulator", "webhooks"):
        names = [n for f, ns in _modules(package).items() if f.name != "versions" for n in ns]
        twice |= {f"{package}: {n}": names.count(n) for n in names if names.count(n) > 1}
    assert {} == twice


def test_every_room_of_deploy_opens_with_its_map() -> None:
    """One line per module of the room, in its __init__.py's docstring."""
    unmapped = []
    for folder, names in _modules("deploy").items():
        init = ROOT / folder / "__init__.py"
        doc = init.read_text() if init.exists() else ""
        if folder.name not in ("versions", "migrations"):
            unmapped += [f"{folder}/{n}" for n in names if f"``{n}``" not in doc]
    assert [] == unmapped


def test_every_store_module_but_its_ports_is_kept_from_the_other_layers() -> None:
    contract = _contract("The store is reached only through its ports")
    folder = ROOT / "deploy" / "store"
    store = {".".join(p.relative_to(ROOT).with_suffix("").parts) for p in folder.glob("*.py")}
    store |= {f"deploy.store.{d.name}" for d in folder.iterdir() if (d / "__init__.py").exists()}
    forbidden = set(contract["forbidden_modules"])  # type: ignore[arg-type]
    assert store - {"deploy.store.__init__", "deploy.store.ports"} == forbidden
