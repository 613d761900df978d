"""``shipbot import capistrano [DIR]``: a shipbot.yml from a Capistrano project, printed on stdout.

Ruby's own parser reads the project: ``cap STAGE doctor:variables`` and ``cap STAGE doctor:servers`` print what
Capistrano resolved for each stage of ``config/deploy/*.rb`` (:mod:`cli.cap_doctor` reads them). The config has
the app, repo, ``deploy_to``, ``keep_releases``, linked files and folders, one environment per stage with its
servers and roles and its branch as ``ref``, and comments for what it could not translate (custom tasks, hooks,
plugins), naming the shipbot feature that replaces each. Every refusal is one :class:`ImportRefused` line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from cli.cap_doctor import Custom, Raw, Server, Symbol, parse_servers, parse_variables, scan
from deploy.errors import UsageError

CAP_TIMEOUT = 120.0  # seconds one ``cap`` run may take
INSTALL = "install Capistrano (Debian: apt-get install capistrano; elsewhere: gem install capistrano)"


class ImportRefused(UsageError):
    """The project cannot be read: one line saying what, where and what to do (exit 2)."""


def stages(folder: Path) -> list[str]:
    deploy_rb = folder / "config" / "deploy.rb"
    if not deploy_rb.is_file():
        raise ImportRefused(f"{folder} has no config/deploy.rb: pass the folder of a Capistrano project")
    found = sorted(p.stem for p in (folder / "config" / "deploy").glob("*.rb"))
    if not found:
        raise ImportRefused(f"{folder} has no stages (config/deploy/*.rb): add one per environment")
    return found


def run_cap(folder: Path, stage: str, *tasks: str) -> str:
    cap = shutil.which("cap")
    if cap is None:
        raise ImportRefused(f"cap is not installed: {INSTALL} so Ruby reads config/deploy.rb, or write shipbot.yml "
                            "by hand (README: Coming from Capistrano)")  # fmt: skip
    env = {**os.environ, "SSHKIT_COLOR": "0"}
    task = " ".join(tasks)
    try:
        done = subprocess.run(
            [cap, stage, *tasks], check=False, cwd=folder, env=env, capture_output=True, text=True, timeout=CAP_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise ImportRefused(f"cap {stage} {task} did not finish within {CAP_TIMEOUT:g}s in {folder}") from exc
    if done.returncode != 0:
        raise ImportRefused(f"cap {stage} {task} failed in {folder}: {cap_failure(done.stderr + done.stdout)}")
    return done.stdout


def cap_failure(output: str) -> str:
    """What went wrong, in one line: a plugin gem that is not installed is named."""
    missing = re.search(r"cannot load such file -- (\S+)", output)
    if missing:
        gem = missing[1].split("/")
        name = "-".join(gem[:2]) if gem[0] == "capistrano" else gem[0]
        return f"it needs {missing[1]}, which is not installed: gem install {name} (or bundle install), then again"
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith(("\t", " "))]
    return (lines[0] if lines else "no output")[:300]


def read_project(folder: Path) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, list[Server]]]:
    names = stages(folder)
    printed = {s: run_cap(folder, s, "doctor:variables", "doctor:servers") for s in names}  # one cap run a stage
    return names, {s: parse_variables(printed[s]) for s in names}, {s: parse_servers(printed[s]) for s in names}


def _text(value: Any) -> str | None:
    if isinstance(value, Symbol):
        return value.name
    return value if isinstance(value, str) else None


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []


def build(
    names: list[str], variables: dict[str, dict[str, Any]], servers: dict[str, list[Server]], files: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The config and the comments for what was not translated (pure)."""
    first = variables[names[0]]
    notes: list[str] = []
    deploy_to = _text(first.get("deploy_to")) or f"/var/www/{_text(first.get('application')) or 'app'}"
    config: dict[str, Any] = {
        "app": re.sub(r"[^a-z0-9-]+", "-", (_text(first.get("application")) or "app").lower()).strip("-") or "app",
        "repo": _text(first.get("repo_url")) or "REPLACE-ME",
        "deploy_to": deploy_to,
        "keep_releases": first.get("keep_releases") if isinstance(first.get("keep_releases"), int) else 5,
        "layout": "capistrano",
    }
    if config["repo"] == "REPLACE-ME":
        notes.append("repo_url is not a plain string in Capistrano's config: set repo by hand")
    shared = {"files": _strings(first.get("linked_files")), "dirs": _strings(first.get("linked_dirs"))}
    if shared["files"] or shared["dirs"]:
        config["shared"] = {k: v for k, v in shared.items() if v}
    options = first.get("ssh_options")
    ssh: dict[str, Any] = options if isinstance(options, dict) else {}
    users = {s.user for stage in names for s in servers[stage] if s.user}
    config["ssh"] = {"user": users.pop() if len(users) == 1 else "deploy"}
    keys = _strings(ssh.get("keys"))
    if keys:
        config["ssh"]["identity"] = keys[0]
    if _text(ssh.get("user_known_hosts_file")):
        config["ssh"]["known_hosts"] = _text(ssh.get("user_known_hosts_file"))
    environments: dict[str, Any] = {}
    for stage in names:
        v = variables[stage]
        branch = _text(v.get("branch"))
        if branch is None:
            notes.append(f"{stage}: the branch is computed by Ruby ({_shown(v.get('branch'))}): set ref by hand")
        hosts = []
        for s in servers[stage]:
            host: dict[str, Any] = {"address": s.address, "roles": list(s.roles)}
            if s.port:
                host["port"] = s.port
            if s.user and len(users) > 1:
                host["user"] = s.user
            if (_text(v.get("deploy_to")) or deploy_to) != deploy_to:
                host["deploy_to"] = _text(v.get("deploy_to"))
            hosts.append(host)
        if not hosts:
            notes.append(f"{stage}: Capistrano lists no servers: add its hosts by hand")
        environments[stage] = {"ref": branch or "main", "hosts": hosts}
    config["environments"] = environments
    notes += [_note(c) for c in scan(files)]
    return config, notes


def _shown(value: Any) -> str:
    return value.text[:60] if isinstance(value, Raw) else repr(value)


def _note(c: Custom) -> str:
    return f"{c.kind} {c.name} ({c.where}): {c.replacement()}"


def ruby_files(folder: Path) -> dict[str, str]:
    paths = [folder / "Capfile", folder / "config" / "deploy.rb", *sorted((folder / "config" / "deploy").glob("*.rb"))]
    paths += sorted((folder / "lib" / "capistrano" / "tasks").glob("*.rake"))
    return {str(p.relative_to(folder)): p.read_text(errors="replace") for p in paths if p.is_file()}


def render(config: dict[str, Any], notes: list[str], folder: Path, names: list[str]) -> str:
    head = [
        f"# shipbot.yml from the Capistrano project in {folder} (stages: {', '.join(names)})",
        "# layout: capistrano keeps revisions.log and the release folders as cap expects, so cap still works",
    ]
    body = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    tail = []
    if notes:
        tail = ["", "# Not translated; each is done in shipbot by:", *(f"# - {n}" for n in notes)]
    return "\n".join([*head, body.rstrip("\n"), *tail]) + "\n"


def import_capistrano(folder: Path) -> str:
    folder = folder.resolve()
    names, variables, servers = read_project(folder)
    config, notes = build(names, variables, servers, ruby_files(folder))
    return render(config, notes, folder, names)
