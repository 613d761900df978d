"""Put ``deploy/`` in rooms: move its flat modules into sub-packages by concern, and rewrite every reference to them.

Run it once at merge, from the repository's root, after every branch that touches ``deploy/`` is merged::

    .venv/bin/python -m tools.rooms --check   # what would move; exit 2 listing modules no line or rule places
    .venv/bin/python -m tools.rooms           # moves, rewrites, sorts the touched imports (ruff), prints a summary
    make check
    .venv/bin/pytest -q tests/test_layers.py tests/tools/test_rooms.py tests/deploy tests/packaging/test_wheel.py
    git add -A && git commit

What it does, all of it deterministic and idempotent (a second run changes nothing; a run after another branch
merged on top moves only what is new and rewrites only old references):

- moves every ``deploy/*.py`` into its room (:data:`MODULES`: one line per module: room, new name, what it is) and
  ``deploy/migrations/`` into ``deploy/store/``; a module no line names is placed by :func:`by_rule` (its name's
  prefix, an ``asyncssh`` import, a table it declares) or the run stops listing it: add its line and run again;
- renames the confusing pairs elsewhere (:data:`RENAMES`) and the store's ``PushLedger`` class (``PushTable``: the
  Protocol of that name in ``commands.ports`` keeps it);
- rewrites imports (``from deploy import a, b`` split per room), dotted names (docstrings, monkeypatch targets,
  pyproject's contracts, ``"deploy.x"`` strings) and paths (``deploy/x.py``, package data, per-file ignores) in
  every text file git knows, CHANGELOG.md excepted (its entries tell the past);
- routes what ``bot/``, ``commands/``, ``webhooks/`` and ``cli/`` import from the store through its published ports
  module (``deploy/store/ports.py``, re-exports regenerated between markers), adds the import-linter contract that
  keeps it so (``cli.root`` and ``cli.operator_commands``, which has ``shipbot db``, are the exceptions) and the
  checks in ``tests/test_layers.py``: no room over 15 modules, no two modules of one name in a top-level package;
- writes each room's ``__init__.py`` map (one line per module) and ``deploy/__init__.py``'s map of the rooms.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import shutil
import subprocess
import sys
import textwrap
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

MAX_MODULES = 15  # per folder of deploy/, __init__ aside (migration revisions are not counted: they are a history)
PACKAGE = "deploy"

ROOMS: dict[str, str] = {
    "": "shipbot's deploy engine: one pinned commit onto a whole fleet over SSH, or nothing changes.",
    "config": "The config file (``shipbot.yml``): its models, its sections, and the values operators write.",
    "store": "The store: the database behind every table, its schema, its async door, and the ports other layers use.",
    "run": "A run: its plan, the engine facade, the runner and its step sets, strategies, batches, and repair.",
    "hosts": "Hosts and what runs on them: the SSH adapter, every remote command, the journal and release listing.",
    "fleet": "Which hosts an environment has: static and discovered, what each runs, and converging the ones behind.",
    "delivery": "What is delivered: the local mirror of the app's repository, refs, commits and the promotion order.",
    "capistrano": "Capistrano's past on hosts: its revisions.log, its history as entries, the table keeping it.",
    "previews": "Previews per branch: their names and nginx blocks, who may change one, the table, the runner.",
    "flags": "Feature flags: their definitions in flagd's format, their tables, the file written on every host.",
    "notify": "Telling the world: the outbox every sink is fed from, the sinks' config, forge deployments.",
}

# old module name -> (room, new module name, what it is)
MODULES: dict[str, tuple[str, str, str]] = {
    "errors": ("", "errors", "the engine's error tree"),
    "events": ("", "events", "typed progress events the chat side and the CLI render"),
    "records": ("", "records", "plain records the engine returns and the store keeps: runs, locks, host status"),
    "ids": ("", "ids", "run ids, release ids and the one time format"),
    "redact": ("", "redact", "secret values out of output before it is stored, logged or shown (pure)"),
    "processes": ("", "processes", "whether a local process still runs"),
    "summary": ("", "summary", "the one-line messages a run ends with (pure)"),
    "config": ("config", "models", "the config file as pydantic models; errors name file, key path, expectation"),
    "config_sections": ("config", "sections", "pipeline, timeouts, ssh, hosts, blue/green, environments"),
    "config_tasks": ("config", "tasks", "the ``shared`` and ``tasks`` sections"),
    "preview_config": ("config", "preview_section", "the ``previews`` section"),
    "durations": ("config", "durations", '"30s" / "5m" / "1h30m" parsed and shown back (pure)'),
    "database": ("store", "database", "the SQLAlchemy Core facade every table's SQL goes through"),
    "store_door": ("store", "door", "the async door: statements awaited on the store's own threads"),
    "store_clock": ("store", "clock", "the database's time for decisions made in Python"),
    "store": ("store", "tables", "``Store``: runs, host results, run slots, locks, audit, and the tables it holds"),
    "waiting": ("store", "waiting", "requests that wait (approvals, the queue), moved by compare-and-set"),
    "pushes": ("store", "push_table", "``PushTable``: deliveries taken, one auto-deploy per commit, parked pushes"),
    "inbox": ("store", "inbox", "what Slack and the forges sent, written before it is acknowledged"),
    "leases": ("store", "leases", "a run's lease: owner, heartbeat, expiry by the store's clock, generation"),
    "fencing": ("store", "fencing", "a run's writes, each conditional on holding its lease at its generation"),
    "intents": ("store", "intents", "the run ledger: hosts, write-ahead switch intents, process groups, waits"),
    "controls": ("store", "control_requests", "Cancel, Continue and Abort for a run another process holds"),
    "presence": ("store", "presence", "which bot processes serve from this store now"),
    "store_ports": ("store", "ports", "the async ports the use cases, the bot and the webhooks see the store through"),
    "store_fakes": ("store", "fakes", "in-memory fakes of the ports, for the use cases' unit tests"),
    "engine": ("run", "engine", "the facade the CLI and the chat side call: deploy, rollback, status, task, ..."),
    "runner": ("run", "runner", "the one runner: prepare, migrate, batches as the strategy says, undo on failure"),
    "steps": ("run", "steps", "runs and reports every step of a run on its hosts"),
    "plan": ("run", "plan", "per host, the steps of a run and their timeouts, before any connection (pure)"),
    "strategies": ("run", "strategies", "which hosts switch when, and the failure budget (pure)"),
    "batches": ("run", "batches", "batch ramps and pauses of rolling and blue/green deploys (pure)"),
    "hostrun": ("run", "hostrun", "what a run knows about one host while it runs"),
    "switching": ("run", "switching", "how a batch goes live: the step-set interface and the Capistrano switch"),
    "colours": ("run", "colours", "blue/green's step set: stage the idle colour, move traffic, swap back"),
    "sharing": ("run", "sharing", "what an engine does for runs shared with other processes on one store"),
    "run_control": ("run", "control_watch", "the lease holder's side of control requests, and hand-over"),
    "repair": ("run", "repair", "finishing a run whose controller died, from what it wrote down"),
    "colour_repair": ("run", "colour_repair", "repair's blue/green part: colour, upstream and labels back"),
    "dry_run": ("run", "dry_run", "what a deploy would do, from its plan and what the hosts run now (pure)"),
    "ssh": ("hosts", "ssh", "the asyncssh adapter: one connection per host per run, bounded handshakes"),
    "ports": ("hosts", "connector", "the Connector / HostConnection / StepResult ports the runner drives"),
    "remote": ("hosts", "remote", "builders for every command shipbot runs on a host (pure)"),
    "framing": ("hosts", "framing", "markers around sections of a host's output no input can contain (pure)"),
    "guarded": ("hosts", "guarded", "host commands deciding from where ``current`` points; the first exec"),
    "bookkeeping": ("hosts", "bookkeeping", "the last exec per host: journal line, cleanup and retention"),
    "journal": ("hosts", "journal", "the per-host journal lines and the rollback target (pure)"),
    "listing": ("hosts", "listing", "a host's release listing, however long its past (pure)"),
    "probe": ("hosts", "probe", "the one probe of a host, by every run and by ``status`` (pure)"),
    "retention": ("hosts", "retention", "which releases to delete (pure)"),
    "secret_input": ("hosts", "secret_input", "a run's secrets fed to the commands that read them on stdin"),
    "bluegreen": ("hosts", "bluegreen", "blue/green's host layout and the commands it runs (pure)"),
    "fanout": ("run", "fanout", "one coroutine per host, every one waited for"),
    "chain": ("hosts", "chain", "several steps in one SSH session, each with its own status and timeout (pure)"),
    "chained": ("hosts", "chained", "runs a chain of steps over one session and reports each step"),
    "ssh_identity": ("hosts", "ssh_identity", "the SSH key file a config names, checked without asyncssh"),
    "fleet": ("fleet", "members", "an environment's hosts as runs see them: static plus discovered"),
    "fleet_log": ("fleet", "fleet_log", "the hosts each run covered, as discovery resolved them (a table)"),
    "discovery": ("fleet", "discovery", "the I/O behind ``discover:`` (DNS SRV and A lookups)"),
    "inventory": ("fleet", "inventory", "discovered hosts turned into the environment's host list (pure)"),
    "status": ("fleet", "status", "what an environment runs, read from its hosts"),
    "convergence": ("fleet", "drift", "which hosts are behind the live release, and the rollback target (pure)"),
    "converging": ("fleet", "converge", "``converge``: the live release onto exactly the hosts behind it"),
    "mirror": ("delivery", "mirror", "the controller's git mirror: a ref resolved once, the archive made once"),
    "refs": ("delivery", "refs", "git ref-format validation (pure)"),
    "compare": ("delivery", "compare", "the web page comparing two commits, when the repository's host has one"),
    "promotion": ("delivery", "promotion", "the promotion order between environments (pure)"),
    "foresight": ("delivery", "foresight", "a deploy before it runs: what it ships, promotion, its dry run"),
    "revisions_log": ("capistrano", "revisions_log", "Capistrano's revisions.log: line formats, its read (pure)"),
    "cap_entries": ("capistrano", "cap_entries", "Capistrano's lines as ``history`` entries, the timeline (pure)"),
    "cap_history": ("capistrano", "cap_history", "the store's table of the Capistrano lines read from hosts"),
    "previews": ("previews", "layout", "a branch's preview name, its port, its nginx block, its host (pure)"),
    "preview_runner": ("previews", "preview_runner", "makes, updates and removes previews on their hosts"),
    "preview_table": ("previews", "preview_table", "the previews that exist, kept in the store"),
    "preview_lease": ("previews", "preview_lease", "who may change a preview: one lease per (app, branch)"),
    "flag_defs": ("flags", "flag_defs", "flag definitions and the flagd document they make (pure)"),
    "flag_hosts": ("flags", "flag_hosts", "writes an environment's flag file on its hosts and reads back its checksum"),
    "flag_store": ("flags", "flag_store", "the flags' tables: definitions, history, versions, what hosts hold"),
    "flags": ("flags", "app_flags", "an app's flags: change, list, write after runs; the flag-writing engine"),
    "outbox": ("notify", "outbox", "the durable outbox: events for every sink, claimed and retried by the store"),
    "event_documents": ("notify", "event_documents", "the documents sinks receive for each event (pure)"),
    "sink_config": ("notify", "sink_config", "the ``notify:`` entries: Slack, webhooks, Teams, IRC"),
    "forge_config": ("notify", "forge_config", "the ``deployments:`` section: GitHub or GitLab deployments"),
    "forge_runs": ("notify", "forge_runs", "which run a forge's deployment started, and the statuses told"),
}
FOLDERS = {"migrations": ("store", "migrations", "the schema as Alembic revisions (``versions/``)")}
PORTS = "ports"  # the store's module other layers may import (the contract forbids the others)
NEW_MODULES = {("store", PORTS): "the store's published face: what bot/, commands/, webhooks/ and cli/ may import"}

# the confusing pairs outside deploy/: old dotted module -> new
RENAMES: dict[str, str] = {
    "commands.pushes": "commands.push_rules",
    "commands.usecases.pushes": "commands.usecases.push_intake",
    "commands.approvals": "commands.approval_book",
    "commands.usecases.approving": "commands.usecases.approval_service",
    "commands.run_queue": "commands.queue_book",
    "commands.usecases.queueing": "commands.usecases.queue_service",
    "commands.usecases.converging": "commands.usecases.auto_converge",
    "commands.grammar.previews": "commands.grammar.preview_words",
    "commands.grammar.reads": "commands.grammar.read_words",
    "commands.usecases.flags": "commands.usecases.flag_service",
    "commands.usecases.forge_deployments": "commands.usecases.forge_service",
}
CLASS_RENAMES = [("deploy.store.push_table", "PushLedger", "PushTable")]

OUTSIDE = ("bot", "commands", "webhooks", "cli")  # reach the store only through deploy.store.ports
EXCEPTIONS = ("cli.root", "cli.operator_commands")  # the composition root; `shipbot db` (migrates the store)
TOP_PACKAGES = ("bot", "commands", "deploy", "cli", "demo", "slack_emulator", "webhooks")
CONTRACT = "The store is reached only through its ports"
BEGIN, END = "# rooms: begin (written by tools/rooms.py)", "# rooms: end"
TEXT = {".py", ".md", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".txt", ".mako", ".sh", ".json", ""}
SKIP = {"CHANGELOG.md", "uv.lock"}


class Refused(Exception):
    """The tree is not one this script can put in rooms as it is; the message says what to add or undo."""


def by_rule(name: str, source: str) -> str | None:
    """The room of a module no line of :data:`MODULES` names, or None."""
    prefixes = {"store_": "store", "preview": "previews", "config_": "config", "cap_": "capistrano"}
    prefixes |= {"colour": "run", "bluegreen": "hosts", "fleet": "fleet", "converg": "fleet"}
    for prefix, room in prefixes.items():
        if name.startswith(prefix):
            return room
    if re.search(r"^\s*(import asyncssh|from asyncssh)", source, re.M):
        return "hosts"
    if re.search(r"CREATE TABLE|sa\.Table\(|op\.create_table", source):
        return "store"
    return None


@dataclass
class Plan:
    moves: dict[Path, Path] = field(default_factory=dict)  # old path -> new path (files and folders)
    dotted: dict[str, str] = field(default_factory=dict)  # old dotted -> new dotted (whether moved now or before)
    unknown: list[str] = field(default_factory=list)
    ruled: dict[str, str] = field(default_factory=dict)  # module placed by a rule -> room


def plan(root: Path) -> Plan:
    out = Plan()
    deploy = root / PACKAGE
    for old, (room, new, _) in MODULES.items():
        if room or new != old:
            out.dotted[f"{PACKAGE}.{old}"] = ".".join(p for p in (PACKAGE, room, new) if p)
    for old, (room, new, _) in FOLDERS.items():
        out.dotted[f"{PACKAGE}.{old}"] = f"{PACKAGE}.{room}.{new}"
        source, target = deploy / old, deploy / room / new
        if source.is_dir() and not target.exists():
            out.moves[source] = target
        elif source.is_dir():  # merged in after the move (a new revision): file by file into the moved folder
            for path in sorted(f for f in source.rglob("*") if f.is_file() and "__pycache__" not in f.parts):
                out.moves[path] = target / path.relative_to(source)
    for path in sorted(deploy.glob("*.py")):
        name = path.stem
        if name == "__init__":
            continue
        if name in MODULES:
            room, new, _ = MODULES[name]
        elif (ruled := by_rule(name, path.read_text())) is not None:
            room, new = ruled, name
            out.ruled[name] = room
            out.dotted[f"{PACKAGE}.{name}"] = f"{PACKAGE}.{room}.{name}"
        else:
            out.unknown.append(name)
            continue
        if room:
            out.moves[path] = deploy / room / f"{new}.py"
    for old, new in RENAMES.items():
        out.dotted[old] = new
        path = root / Path(*old.split(".")).with_suffix(".py")
        if path.exists():
            out.moves[path] = root / Path(*new.split(".")).with_suffix(".py")
    return out


def check_plan(root: Path, p: Plan) -> None:
    if p.unknown:
        lines = "\n".join(f'    "{n}": ("ROOM", "{n}", "what it is"),' for n in p.unknown)
        raise Refused(f"deploy modules no line or rule places; add to MODULES in tools/rooms.py:\n{lines}")
    taken = [str(new.relative_to(root)) for new in p.moves.values() if new.exists()]
    if taken:
        raise Refused(f"already there, refusing to overwrite: {', '.join(taken)}")


def modules_after(root: Path, p: Plan) -> dict[str, list[str]]:
    """Each folder of deploy/ (relative, "" for the top) -> the module names it will hold."""
    moving = set(p.moves)
    folders: dict[str, list[str]] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        if path not in moving and not any(m in path.parents for m in moving):
            rel = path.parent.relative_to(root / PACKAGE).as_posix()
            folders.setdefault("" if rel == "." else rel, []).append(path.stem)
    for old, new in p.moves.items():
        if new.relative_to(root).parts[0] != PACKAGE:
            continue
        if new.suffix == ".py":
            folders.setdefault(new.parent.relative_to(root / PACKAGE).as_posix(), []).append(new.stem)
            continue
        for path in sorted(old.rglob("*.py")):
            rel = (new / path.relative_to(old)).parent.relative_to(root / PACKAGE).as_posix()
            folders.setdefault(rel, []).append(path.stem)
    for room, name in NEW_MODULES:
        if name not in folders.get(room, []):
            folders.setdefault(room, []).append(name)
    return {k: sorted(n for n in v if n != "__init__") for k, v in folders.items()}


def check_rooms(folders: dict[str, list[str]]) -> None:
    full = {f: n for f, n in folders.items() if len(n) > MAX_MODULES and not f.endswith("versions")}
    if full:
        raise Refused("\n".join(f"deploy/{f}/ would hold {len(n)} modules: {', '.join(n)}" for f, n in full.items()))
    seen: dict[str, str] = {}
    twice = []
    for folder, names in sorted(folders.items()):
        for name in names:
            if name in seen and not folder.endswith("versions"):
                twice.append(f"{name} in deploy/{seen[name]} and deploy/{folder}")
            seen.setdefault(name, folder)
    if twice:
        raise Refused("two modules of one name: " + "; ".join(twice))


# --- rewriting -----------------------------------------------------------------------------------------------------


def children(root: Path, dotted: str) -> set[str]:
    folder = root / Path(*dotted.split("."))
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.iterdir() if p.suffix == ".py" or (p.is_dir() and p.name != "__pycache__")}


class Rewriter:
    def __init__(self, root: Path, dotted: dict[str, str]) -> None:
        self.root = root
        self.dotted = dotted
        # an old module whose new place is a package of its own name (deploy.store -> deploy.store.tables)
        self.ambiguous = {old: children(root, old) for old, new in dotted.items() if new.startswith(old + ".")}
        for room, name in NEW_MODULES:
            self.ambiguous.get(f"{PACKAGE}.{room}", set()).add(name)
        names = "|".join(re.escape(o) for o in sorted(dotted, key=len, reverse=True))
        self.dotted_re = re.compile(rf"(?<![\w.])({names})(?!\w)")
        folders = {f"{PACKAGE}.{old}" for old in FOLDERS}
        self.paths = {f"{self.path(o)}.py": f"{self.path(n)}.py" for o, n in dotted.items() if o not in folders}
        self.paths |= {self.path(o): self.path(dotted[o]) for o in folders}
        self.paths |= {self.path(o): self.path(n) for o, n in dotted.items() if o in RENAMES}
        names = "|".join(re.escape(o) for o in sorted(self.paths, key=len, reverse=True))
        self.path_re = re.compile(rf"(?<![\w/.-])({names})(?!\w)")

    @staticmethod
    def path(dotted: str) -> str:
        return dotted.replace(".", "/")

    def _dotted(self, m: re.Match[str]) -> str:
        old = m.group(1)
        after = m.string[m.end() :]
        if old in self.ambiguous:
            sub = re.match(r"\.(\w+)", after)
            imported = re.match(r"\s+import\s+\(?\s*(\w+)", after)  # from deploy.store import tables, in a string too
            new_place = (sub and sub.group(1) in self.ambiguous[old]) or re.match(r"\.[^\w]", after)
            if new_place or (imported and imported.group(1) in self.ambiguous[old]):
                return old
        return self.dotted[old]

    def text(self, source: str) -> str:
        source = self.dotted_re.sub(self._dotted, source)
        source = self.path_re.sub(lambda m: self.paths[m.group(1)], source)
        # ROOT / "deploy" / "migrations" (tests/packaging) and pyproject's package data
        source = re.sub(r"""(["'])deploy\1 / (["'])migrations\2""", r"\1deploy\1 / \2store\2 / \2migrations\2", source)
        return re.sub(r'^deploy = \["migrations/', 'deploy = ["store/migrations/', source, flags=re.M)

    def imports(self, source: str) -> str:
        """``from X import a, b``: X moved, or a and b are modules that moved (split per new package)."""
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return source
        lines = source.splitlines(keepends=True)
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module]
        for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
            new = self._import(node)
            if new is None:
                continue
            first, last = lines[node.lineno - 1], lines[node.end_lineno - 1]  # type: ignore[operator]
            indent = first[: node.col_offset]
            tail = last[node.end_col_offset :].strip()
            if indent.strip() or (tail and not tail.startswith("#")):
                continue  # not alone on its lines: left to the dotted pass
            comment = f"  {tail}" if tail else ""
            block = "".join(f"{indent}from {m} import {', '.join(names)}{comment}\n" for m, names in new)
            lines[node.lineno - 1 : node.end_lineno] = [block]
        return "".join(lines)

    def _import(self, node: ast.ImportFrom) -> list[tuple[str, list[str]]] | None:
        module = node.module or ""
        names = [a.name for a in node.names]
        target = module
        if module in self.dotted:
            is_package_import = module in self.ambiguous and all(n in self.ambiguous[module] for n in names)
            target = module if is_package_import else self.dotted[module]
        groups: dict[str, list[str]] = {}
        changed = target != module
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if full in self.dotted:
                parent, leaf = self.dotted[full].rsplit(".", 1)
                name = alias.asname or alias.name
                groups.setdefault(parent, []).append(leaf if leaf == name else f"{leaf} as {name}")
                changed = True
            else:
                groups.setdefault(target, []).append(f"{alias.name} as {alias.asname}" if alias.asname else alias.name)
        return list(groups.items()) if changed else None


def rename_class(source: str, is_home: bool, module: str, old: str, new: str) -> str:
    source = source.replace(f"{module}.{old}", f"{module}.{new}")
    source = source.replace(f"{module.rsplit('.', 1)[1]}.{old}", f"{module.rsplit('.', 1)[1]}.{new}")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    imports_it = any(
        isinstance(n, ast.ImportFrom) and n.module == module and any(a.name == old for a in n.names)
        for n in ast.walk(tree)
    )
    if is_home or imports_it:
        source = re.sub(rf"\b{old}\b", new, source)
    return source


# --- the store's ports ---------------------------------------------------------------------------------------------


def route_through_ports(root: Path, files: list[Path]) -> tuple[dict[str, set[str]], set[Path]]:
    """Point what bot/, commands/, webhooks/ and cli/ import from the store's modules at the ports module."""
    ports = f"{PACKAGE}.store.{PORTS}"
    exported: dict[str, set[str]] = {}
    touched: set[Path] = set()
    for path in files:
        rel = path.relative_to(root)
        dotted = ".".join(rel.with_suffix("").parts)
        if path.suffix != ".py" or rel.parts[0] not in OUTSIDE or dotted in EXCEPTIONS:
            continue
        source = path.read_text()
        tree = ast.parse(source)
        lines = source.splitlines(keepends=True)
        for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0), reverse=True):
            if isinstance(node, ast.Import) and any(a.name.startswith(f"{PACKAGE}.store.") for a in node.names):
                raise Refused(f"{rel}:{node.lineno}: import the store's names from {ports}, not its modules")
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(f"{PACKAGE}.store."):
                continue
            if node.module == ports:
                continue
            for alias in node.names:
                exported.setdefault(alias.name, set()).add(node.module or "")
            head = lines[node.lineno - 1]
            lines[node.lineno - 1] = head.replace(f"from {node.module} import", f"from {ports} import", 1)
        if "".join(lines) != source:
            path.write_text("".join(lines))
            touched.add(path)
    return exported, touched


def write_ports(root: Path, exported: dict[str, set[str]]) -> None:
    path = root / PACKAGE / "store" / f"{PORTS}.py"
    source = path.read_text() if path.exists() else ""
    if not source:
        source = (
            '"""The store\'s published face: bot/, commands/, webhooks/ and cli/ import the store\'s names from here, '
            "never\nfrom its modules (import-linter's contract in pyproject.toml; the composition root, ``cli.root``, "
            'and\n``shipbot db`` are the exceptions that build or migrate it)."""\n\n'
            "from __future__ import annotations\n"
        )
    inside = re.search(rf"\n{re.escape(BEGIN)}\n(.*?){re.escape(END)}\n", source, re.S)
    if inside:
        for node in ast.parse(inside.group(1)).body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    exported.setdefault(alias.name, set()).add(node.module or "")
        source = source[: inside.start()] + "\n" + source[inside.end() :]
    clash = {n: sorted(m) for n, m in exported.items() if len(m) > 1}
    if clash:
        raise Refused(f"one name from two store modules, cannot publish both: {clash}")
    by_module: dict[str, list[str]] = {}
    for name, (module,) in sorted((n, tuple(m)) for n, m in exported.items()):
        by_module.setdefault(module, []).append(name)
    body = "".join(f"from {m} import {', '.join(sorted(n))}\n" for m, n in sorted(by_module.items()))
    listing = ", ".join(f'"{n}"' for n in sorted(exported))
    has_all = re.search(r"^__all__\s*[:=]", source, re.M)
    body += f"\n__all__ {'+=' if has_all else '='} [{listing}]\n"
    path.write_text(source.rstrip("\n") + f"\n\n{BEGIN}\n{body}{END}\n")


# --- pyproject, tests/test_layers.py, the maps ---------------------------------------------------------------------


def store_contract(root: Path) -> str:
    store = sorted(
        ".".join(p.relative_to(root).with_suffix("").parts)
        for p in (root / PACKAGE / "store").glob("*.py")
        if p.stem not in ("__init__", PORTS)
    )
    folders = sorted((root / PACKAGE / "store").iterdir())
    store += [f"{PACKAGE}.store.{d.name}" for d in folders if (d / "__init__.py").exists()]
    listed = "".join(f'  "{m}",\n' for m in store)
    sources = ", ".join(f'"{m}"' for m in OUTSIDE)
    ignored = ", ".join(f'"{m} -> {PACKAGE}.store.**"' for m in EXCEPTIONS)
    return (
        f"{BEGIN}\n[[tool.importlinter.contracts]]\n"
        "# bot/, commands/, webhooks/ and cli/ use the store through its ports (deploy.store.ports); the composition\n"
        "# root builds it and `shipbot db` (cli.operator_commands) migrates it. Every store module but the ports is\n"
        "# named (tests/test_layers.py checks).\n"
        f'name = "{CONTRACT}"\ntype = "forbidden"\n'
        f"source_modules = [{sources}]\n"
        f"forbidden_modules = [\n{listed}]\nallow_indirect_imports = true\nignore_imports = [{ignored}]\n{END}\n"
    )


def edit_pyproject(root: Path) -> None:
    path = root / "pyproject.toml"
    text = wrap(path.read_text(), prose=toml_comments)
    text = re.sub(rf"\n{re.escape(BEGIN)}\n.*?{re.escape(END)}\n", "\n", text, flags=re.S)
    text = text.rstrip("\n") + "\n\n" + store_contract(root)
    # every deploy module but the SSH adapter is a source of the asyncssh contract
    start = text.index('name = "asyncssh only in the SSH adapter:')
    open_at = text.index("source_modules = [", start)
    close_at = text.index("\n]", open_at)
    listed = set(re.findall(r'"([\w.]+)"', text[open_at:close_at]))
    missing = [
        m
        for m in all_modules(root, PACKAGE)
        if m.rsplit(".", 1)[1] != "ssh" and not any(m == s or m.startswith(s + ".") for s in listed)
    ]
    text = text[:close_at] + "".join(f'\n  "{m}",' for m in missing) + text[close_at:]
    path.write_text(text)


def all_modules(root: Path, package: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(root).with_suffix("").parts)
        for p in (root / package).rglob("*.py")
        if p.stem != "__init__" and "__pycache__" not in p.parts
    )


LAYERS_OLD = (
    'modules = {f"deploy.{p.stem}" for p in (ROOT / "deploy").glob("*.py") if p.stem not in ("__init__", "ssh")}'
)
LAYERS_NEW = """modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "deploy").rglob("*.py")
        if p.stem not in ("__init__", "ssh") and "__pycache__" not in p.parts
    }
    sources = set(contract["source_modules"])  # type: ignore[arg-type]
    modules = {m for m in modules if not any(m.startswith(s + ".") for s in sources)}"""
IGNORES_OLD = (
    """assert [] == [c["name"] for c in config["tool"]["importlinter"]["contracts"] if "ignore_imports" in c]"""
)
IGNORES_NEW = f"""contracts = config["tool"]["importlinter"]["contracts"]
    assert [] == [c["name"] for c in contracts if "ignore_imports" in c and c["name"] != "{CONTRACT}"]
    store = _contract("{CONTRACT}")
    ignored = sorted(store["ignore_imports"])  # type: ignore[arg-type]
    assert {sorted(f"{m} -> {PACKAGE}.store.**" for m in EXCEPTIONS)!r} == ignored"""
LAYERS_TESTS = f'''

def _modules(package: str) -> dict[Path, list[str]]:
    """Each folder of a package -> its modules' names (``__init__`` and ``__main__`` aside)."""
    found: dict[Path, list[str]] = {{}}
    for p in sorted((ROOT / package).rglob("*.py")):
        if p.stem not in ("__init__", "__main__") and "__pycache__" not in p.parts:
            found.setdefault(p.parent.relative_to(ROOT), []).append(p.stem)
    return found


def test_no_folder_of_deploy_over_{MAX_MODULES}_modules() -> None:
    """deploy/ is in rooms by concern (each __init__.py opens with its map); migration revisions are a history."""
    full = {{str(f): len(n) for f, n in _modules("deploy").items() if len(n) > {MAX_MODULES} and f.name != "versions"}}
    assert {{}} == full


def test_no_two_modules_of_one_name_in_a_top_level_package() -> None:
    twice = {{}}
    for package in {TOP_PACKAGES!r}:
        names = [n for f, ns in _modules(package).items() if f.name != "versions" for n in ns]
        twice |= {{f"{{package}}: {{n}}": names.count(n) for n in names if names.count(n) > 1}}
    assert {{}} == twice


def test_every_room_of_deploy_opens_with_its_map() -> None:
    """One line per module of the room, in its __init__.py's docstring."""
    unmapped = []
    for folder, names in _modules("deploy").items():
        init = ROOT / folder / "__init__.py"
        doc = init.read_text() if init.exists() else ""
        if folder.name not in ("versions", "migrations"):
            unmapped += [f"{{folder}}/{{n}}" for n in names if f"``{{n}}``" not in doc]
    assert [] == unmapped


def test_every_store_module_but_its_ports_is_kept_from_the_other_layers() -> None:
    contract = _contract("{CONTRACT}")
    folder = ROOT / "deploy" / "store"
    store = {{".".join(p.relative_to(ROOT).with_suffix("").parts) for p in folder.glob("*.py")}}
    store |= {{f"deploy.store.{{d.name}}" for d in folder.iterdir() if (d / "__init__.py").exists()}}
    forbidden = set(contract["forbidden_modules"])  # type: ignore[arg-type]
    assert store - {{"deploy.store.__init__", "deploy.store.{PORTS}"}} == forbidden
'''


def edit_layers_test(root: Path) -> None:
    path = root / "tests" / "test_layers.py"
    text = path.read_text()
    done = ('for p in (ROOT / "deploy").rglob("*.py")', f'store = _contract("{CONTRACT}")')  # once formatted
    for old, new, applied in ((LAYERS_OLD, LAYERS_NEW, done[0]), (IGNORES_OLD, IGNORES_NEW, done[1])):
        if old in text:
            text = text.replace(old, new)
        elif applied not in text:
            raise Refused(f"tests/test_layers.py changed; its line is gone, edit by hand:\n{old}")
    if "def _modules(package: str)" not in text:
        text = text.rstrip("\n") + "\n" + LAYERS_TESTS
    path.write_text(text)


def edit_readme(root: Path) -> None:
    """README's layout: its ``deploy/`` paragraph names the rooms (each folder's map has the modules)."""
    path = root / "README.md"
    text = path.read_text() if path.exists() else ""
    found = re.search(r"^- `deploy/`: the engine.*?(?=^- |^$|\Z)", text, re.M | re.S)
    if not found:
        return
    said = {r: ROOMS[r].rstrip(".") for r in ROOMS if r}
    rooms = "; ".join(f"`{r}/` ({t if t.startswith('Capistrano') else t[0].lower() + t[1:]})" for r, t in said.items())
    top = ", ".join(f"`{n}`" for n, (room, _, _) in MODULES.items() if not room)
    paragraph = (
        "- `deploy/`: the engine, knowing nothing of chat, in rooms by concern; each folder's `__init__.py` opens with "
        f"its map, one line per module: {rooms}. At the top, what every room uses: {top}."
    )
    lines = textwrap.wrap(paragraph, width=118, subsequent_indent="  ", break_on_hyphens=False)
    text = text[: found.start()] + "\n".join(lines) + "\n" + text[found.end() :]
    # the commands/ paragraph names its modules bare: the renamed ones by their new names
    for start, end in (("`grammar/`:", "`usecases/`"), ("`usecases/`:", "\n- `")):
        a = text.find(start, text.find("- `commands/`:"))
        b = text.find(end, a + 1)
        if a < 0 or b < 0:
            continue
        part = text[a:b]
        for old, new in RENAMES.items():
            if old.rsplit(".", 1)[0] == ("commands.grammar" if start == "`grammar/`:" else "commands.usecases"):
                part = part.replace(f"`{old.rsplit('.', 1)[1]}`", f"`{new.rsplit('.', 1)[1]}`")
        text = text[:a] + part + text[b:]
    path.write_text(text)


def describe(path: Path) -> str:
    for room, new, what in MODULES.values():
        if path.stem == new and path.parent.name == (room or PACKAGE):
            return what
    for (room, name), what in NEW_MODULES.items():
        if path.stem == name and path.parent.name == room:
            return what
    for room, name, what in FOLDERS.values():
        if path.name == name and path.parent.name == room:
            return what
    doc = ast.get_docstring(ast.parse(path.read_text())) if path.suffix == ".py" else None
    if path.is_dir() and (path / "__init__.py").exists():
        doc = ast.get_docstring(ast.parse((path / "__init__.py").read_text()))
    first = (doc or "").split("\n\n")[0].replace("\n", " ").rstrip(".")
    return first if len(first) <= 90 else first[:87].rsplit(" ", 1)[0] + " ..."


def write_map(init: Path, title: str, entries: Iterable[Path], rooms: Iterable[str] = ()) -> None:
    short = {r: ROOMS[r].split(":")[0].rstrip(".") for r in rooms}
    items = [(f"{r}/", s if s.startswith("Capistrano") else s[0].lower() + s[1:]) for r, s in short.items()]
    items += [(p.stem, describe(p)) for p in entries]
    width = max((len(n) for n, _ in items), default=0) + 5
    lines = [title, ""]
    if rooms:
        lines += ["Its rooms, then the modules every room uses:", ""]
    lines += [f"- {'``' + n + '``':<{width}}{w}" for n, w in items]
    doc = '"""' + "\n".join(lines) + '\n"""\n'
    source = init.read_text() if init.exists() else ""
    tree = ast.parse(source)
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        rest = "".join(source.splitlines(keepends=True)[body[0].end_lineno or 0 :])
    else:
        rest = "\n" + source if source else ""
    init.write_text(doc + rest)


def write_maps(root: Path) -> list[Path]:
    deploy = root / PACKAGE
    written = []
    for room, title in sorted(ROOMS.items()):
        folder = deploy / room if room else deploy
        if not folder.is_dir():
            continue
        entries = sorted(p for p in folder.iterdir() if p.suffix == ".py" and p.stem != "__init__")
        entries += sorted(
            p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name not in ROOMS
        )
        write_map(folder / "__init__.py", title, entries, [r for r in sorted(ROOMS) if r and not room])
        written.append(folder / "__init__.py")
    return written


# --- the run -------------------------------------------------------------------------------------------------------


def text_files(root: Path) -> list[Path]:
    """Every file git knows or would add (tracked, and untracked but not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True
    )
    found = [root / f for f in listed.stdout.splitlines()]
    return sorted(
        p for p in found if p.is_file() and p.suffix in TEXT and p.name not in SKIP and not p.name.startswith(".")
    )


def apply(root: Path, say: Callable[[str], None] = print) -> None:
    p = plan(root)
    check_plan(root, p)
    check_rooms(modules_after(root, p))
    for old, new in sorted(p.moves.items()):
        new.parent.mkdir(parents=True, exist_ok=True)
        if new.parent != root / PACKAGE and not (new.parent / "__init__.py").exists():
            (new.parent / "__init__.py").write_text('"""."""\n')
        old.rename(new)
        say(f"moved {old.relative_to(root)} -> {new.relative_to(root)}")
    for name in FOLDERS:  # what is left of a folder merged into its moved self: caches and empty folders
        left = root / PACKAGE / name
        if left.is_dir() and not [f for f in left.rglob("*") if f.is_file() and "__pycache__" not in f.parts]:
            shutil.rmtree(left)
    for name, room in sorted(p.ruled.items()):
        say(f"placed by a rule: {name} -> {room}/ (add a line to MODULES to describe it)")
    rewriter = Rewriter(root, p.dotted)
    changed: set[Path] = set()
    own = {root / "tools" / "rooms.py", root / "tests" / "tools" / "test_rooms.py"}
    for path in [f for f in text_files(root) if f not in own]:
        try:
            source = path.read_text()
        except UnicodeDecodeError:
            continue
        text = rewriter.imports(source) if path.suffix == ".py" else source
        text = rewriter.text(text)
        for module, old_name, new_name in CLASS_RENAMES:
            home = path == root / Path(*module.split(".")).with_suffix(".py")
            if path.suffix == ".py":
                text = rename_class(text, home, module, old_name, new_name)
        if text != source:
            path.write_text(text)
            changed.add(path)
    (root / PACKAGE / "store").mkdir(exist_ok=True)
    exported, routed = route_through_ports(root, [f for f in text_files(root) if f.suffix == ".py"])
    changed |= routed
    write_ports(root, exported)
    edit_pyproject(root)
    edit_layers_test(root)
    edit_readme(root)
    changed |= set(write_maps(root))
    changed |= {root / PACKAGE / "store" / f"{PORTS}.py", root / "tests" / "test_layers.py"}
    tidy(root, sorted(f for f in changed if f.suffix == ".py" and f.exists()))
    say(f"rewrote {len(changed)} files (or left them as they were); the store's ports publish {len(exported)} names")


def tidy(root: Path, files: list[Path]) -> None:
    """Imports sorted, code formatted and prose lines wrapped as ``make check`` wants, in the files this run touched."""
    if not files:
        return
    names = [str(f.relative_to(root)) for f in files]
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", "--quiet", "--fix", "--select", "I,RUF022", *names], cwd=root, check=False)
    subprocess.run([*ruff, "format", "--quiet", *names], cwd=root, check=True)
    for path in files:
        source = path.read_text()
        wrapped = wrap(source)
        if wrapped != source:
            path.write_text(wrapped)


def prose_lines(source: str) -> dict[int, str]:
    """Line index -> "doc" (inside a triple-quoted string) or "comment" (a line that is only a comment)."""
    kinds: dict[int, str] = {}
    statement_starts = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, None)
    before: int | None = None  # the token before, comments and blank lines aside
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and tok.string.endswith(('"""', "'''")) and before in statement_starts:
                kinds |= dict.fromkeys(range(tok.start[0] - 1, tok.end[0]), "doc")  # a docstring, not a value
            elif tok.type == tokenize.COMMENT and not tok.line[: tok.start[1]].strip():
                kinds[tok.start[0] - 1] = "comment"
            if tok.type not in (tokenize.COMMENT, tokenize.NL):
                before = tok.type
    except (tokenize.TokenError, SyntaxError):
        return {}
    return kinds


def toml_comments(source: str) -> dict[int, str]:
    return {i: "comment" for i, line in enumerate(source.split("\n")) if line.lstrip().startswith("#")}


def wrap(source: str, limit: int = 120, prose: Callable[[str], dict[int, str]] = prose_lines) -> str:
    """Prose lines (docstrings, comments) a longer module path pushed past the limit, broken at a space; the rest
    goes to the start of the next line when that line goes on with the same paragraph."""
    lines = source.split("\n")
    for _ in range(200):
        kinds = prose("\n".join(lines))
        over = next((i for i, line in enumerate(lines) if len(line) > limit and i in kinds), None)
        if over is None:
            break
        line = lines[over]
        indent = len(line) - len(line.lstrip())
        prefix = line[:indent] + ("# " if kinds[over] == "comment" else "")
        start = len(prefix) + (2 if line[len(prefix) :].startswith(("- ", "* ")) else 0)
        cut = line.rfind(" ", start + 1, limit + 1)
        if cut <= start:
            break  # one word longer than the line: left for a person
        head, rest = line[:cut].rstrip(), line[cut + 1 :]
        follow = prefix + " " * (start - len(prefix))
        nxt = lines[over + 1] if over + 1 < len(lines) else ""
        goes_on = (
            kinds.get(over + 1) == kinds[over]
            and nxt.startswith(follow)
            and nxt[len(follow) :][:1] not in ("", " ", "-", "*", '"', ">", ":", "#")
        )
        if goes_on and not rest.rstrip().endswith(('"""', "'''")):
            lines[over : over + 2] = [head, follow + rest + " " + nxt[len(follow) :]]
        else:
            lines[over : over + 1] = [head, follow + rest]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: here)")
    parser.add_argument("--check", action="store_true", help="list what would move; change nothing")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.check:
            p = plan(root)
            check_plan(root, p)
            check_rooms(modules_after(root, p))
            for old, new in sorted(p.moves.items()):
                print(f"{old.relative_to(root)} -> {new.relative_to(root)}")
            return 1 if p.moves else 0
        apply(root)
    except Refused as exc:
        print(f"tools/rooms.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
