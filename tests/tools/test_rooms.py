"""tools/rooms.py, run on a copy of this repository: deploy/ ends in rooms of at most 15 modules, each opening with
its map, no two modules of one name, every module still imports, the import contracts hold, a second run changes
nothing, and a module nobody placed stops the run naming it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GIT = ["git", "-c", "user.email=rooms@example.invalid", "-c", "user.name=rooms", "-c", "commit.gpgsign=false"]
TOP = {"__init__", "errors", "events", "records", "ids", "redact", "processes", "summary"}


def _copy(to: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True)
    for name in listed.stdout.splitlines():
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            (to / name).write_bytes(source.read_bytes())
    subprocess.run([*GIT, "init", "-q"], cwd=to, check=True)
    _commit(to)
    return to


def _commit(repo: Path) -> None:
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", "state"], cwd=repo, check=True)


def _rooms(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.rooms", *args], cwd=repo, capture_output=True, text=True, env=_env(repo)
    )


def _env(repo: Path) -> dict[str, str]:
    return {"PATH": f"{BIN}:/usr/bin:/bin", "PYTHONPATH": str(repo), "HOME": str(repo)}


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = _copy(tmp_path_factory.mktemp("repo"))
    done = _rooms(repo)
    assert 0 == done.returncode, done.stderr
    _commit(repo)
    return repo


def _folders(repo: Path, package: str) -> dict[Path, list[str]]:
    found: dict[Path, list[str]] = {}
    for p in sorted((repo / package).rglob("*.py")):
        if p.stem not in ("__init__", "__main__") and "__pycache__" not in p.parts and p.parent.name != "versions":
            found.setdefault(p.parent.relative_to(repo), []).append(p.stem)
    return found


def test_deploy_keeps_only_its_shared_vocabulary_at_the_top_and_rooms_of_at_most_15(moved: Path) -> None:
    assert TOP == {p.stem for p in (moved / "deploy").glob("*.py")}
    assert {} == {str(f): len(n) for f, n in _folders(moved, "deploy").items() if len(n) > 15}
    rooms = {p.name for p in (moved / "deploy").iterdir() if (p / "__init__.py").exists()}
    assert {
        "capistrano",
        "config",
        "delivery",
        "fleet",
        "flags",
        "hosts",
        "notify",
        "previews",
        "run",
        "store",
    } == rooms


def test_no_two_modules_of_one_name_and_the_confusing_pairs_are_gone(moved: Path) -> None:
    for package in ("bot", "commands", "deploy", "cli", "demo", "slack_emulator", "webhooks"):
        names = [n for ns in _folders(moved, package).values() for n in ns]
        assert [] == sorted({n for n in names if names.count(n) > 1}), package
    gone = ["deploy/pushes.py", "commands/pushes.py", "commands/usecases/pushes.py", "deploy/converging.py"]
    gone += ["deploy/controls.py", "commands/approvals.py", "commands/run_queue.py", "commands/usecases/queueing.py"]
    assert [] == [g for g in gone if (moved / g).exists()]
    assert "class PushTable" in (moved / "deploy/store/push_table.py").read_text()


def test_every_room_opens_with_a_map_naming_each_of_its_modules(moved: Path) -> None:
    for folder, names in _folders(moved, "deploy").items():
        if folder.name == "migrations":
            continue
        doc = ast.get_docstring(ast.parse((moved / folder / "__init__.py").read_text())) or ""
        assert [] == [n for n in names if f"- ``{n}``" not in doc], folder


def test_no_reference_to_an_old_module_path_is_left(moved: Path) -> None:
    old = re.compile(r"(?<![\w.])deploy\.(engine|runner|ssh|waiting|pushes|controls|store_door|database|plan)\b")
    old_path = re.compile(r"(?<![\w/.-])deploy/(engine|runner|ssh|database|store)\.py")
    listed = subprocess.run(["git", "ls-files"], cwd=moved, capture_output=True, text=True, check=True).stdout
    left = []
    for name in listed.splitlines():
        if name in ("CHANGELOG.md", "tools/rooms.py", "tests/tools/test_rooms.py") or not name.endswith(
            (".py", ".toml")
        ):
            continue
        text = (moved / name).read_text()
        left += [f"{name}: {m.group(0)}" for m in [*old.finditer(text), *old_path.finditer(text)]]
    assert [] == left


def test_every_module_imports_and_the_import_contracts_hold(moved: Path) -> None:
    modules = sorted(
        ".".join(p.relative_to(moved).with_suffix("").parts).removesuffix(".__init__")
        for package in ("deploy", "commands", "bot", "cli", "webhooks")
        for p in (moved / package).rglob("*.py")
        if "versions" not in p.parts and p.name != "env.py"  # Alembic's env.py runs only inside a migration
    )
    program = f"import importlib\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
    imported = subprocess.run(
        [sys.executable, "-c", program], cwd=moved, capture_output=True, text=True, env=_env(moved)
    )
    assert 0 == imported.returncode, imported.stderr
    contracts = subprocess.run([BIN / "lint-imports"], cwd=moved, capture_output=True, text=True, env=_env(moved))
    assert 0 == contracts.returncode, contracts.stdout[-3000:]
    assert "The store is reached only through its ports KEPT" in contracts.stdout


def test_a_second_run_changes_nothing(moved: Path) -> None:
    again = _rooms(moved)
    assert 0 == again.returncode, again.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=moved, capture_output=True, text=True, check=True)
    assert "" == status.stdout
    assert 0 == _rooms(moved, "--check").returncode


def test_a_module_no_line_places_stops_the_run_naming_it_and_a_rule_places_the_others(tmp_path: Path) -> None:
    repo = _copy(tmp_path)
    (repo / "deploy" / "preview_outage.py").write_text('"""How long the previews have not answered."""\n')
    (repo / "deploy" / "weather.py").write_text('"""Whether it rains on the hosts."""\n')
    refused = _rooms(repo)
    assert 2 == refused.returncode
    assert '"weather": ("ROOM", "weather", "what it is"),' in refused.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    assert "?? deploy/preview_outage.py\n?? deploy/weather.py\n" == status.stdout  # nothing moved, nothing rewritten
    (repo / "deploy" / "weather.py").unlink()
    done = _rooms(repo)
    assert 0 == done.returncode, done.stderr
    assert (repo / "deploy" / "previews" / "preview_outage.py").exists()  # a room with space (store/ is full)
    assert "- ``preview_outage``" in (repo / "deploy" / "previews" / "__init__.py").read_text()
    _commit(repo)
    late = repo / "deploy" / "migrations" / "versions" / "0099_late.py"  # a branch merged after the move
    late.parent.mkdir(parents=True)
    late.write_text('"""A late revision."""\n\nrevision = "0099"\ndown_revision = "0007"\n')
    assert 0 == _rooms(repo).returncode
    assert (repo / "deploy" / "store" / "migrations" / "versions" / "0099_late.py").exists()
    assert not (repo / "deploy" / "migrations").exists()
