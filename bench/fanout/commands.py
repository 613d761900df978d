"""The remote command sequence of one deploy, built with shipbot's own builders so every tool runs the same
shell commands on every host.

The sequence is what a shipbot deploy runs per host (see ``deploy/run/runner.py``): the first exec (probe and release
listing, setup, upload with the archive on standard input or git fetch, link), build, switch (verify, the
write-ahead journal line, rename), restart, healthcheck, the last exec (journal line and retention).
Every host of the fleet has the same ``deploy_to`` (a private mount per host), so one list serves every host.
Peers that transfer a file instead of streaming standard input copy the archive to ``UPLOAD_TMP`` and run
``file_command``, which unpacks it and removes it.
"""

from __future__ import annotations

import shlex
from typing import Any

from deploy.config.models import Config
from deploy.hosts import guarded, journal, remote
from deploy.run.plan import plan_deploy


def upload_tmp(deploy_to: str, release: str) -> str:
    return f"{deploy_to}/.shipbot/upload-{release}.tar"


def deploy_steps(config: Config, environment: str, sha: str, release: str, user: str) -> list[dict[str, Any]]:
    """``[{"name", "command", "stdin", "file_command"?, "tmp"?}]`` for one host, in order."""
    plan = plan_deploy(config, environment, sha, release, user)
    hp = plan.hosts[0]
    d = hp.host.deploy_to
    steps: list[dict[str, Any]] = []
    for step in hp.prepare:
        entry: dict[str, Any] = {"name": step.name, "command": step.command, "stdin": step.stdin_archive}
        if step.stdin_archive:
            tmp = upload_tmp(d, release)
            rel = shlex.quote(remote.release_dir(d, release))
            entry["tmp"] = tmp
            from_file = f"mkdir -p {rel} && tar -x -f {shlex.quote(tmp)} -C {rel} && rm -f {shlex.quote(tmp)}"
            entry["file_command"] = step.command.replace(remote.unpack(d, release), from_file)
        steps.append(entry)
    switch = guarded.switch(d, "rbench0", None, release, sha)
    steps.append({"name": "switch", "command": switch, "stdin": False})
    if hp.restart is not None:
        steps.append({"name": "restart", "command": hp.restart.command, "stdin": False})
    if hp.healthcheck is not None:
        hc = remote.in_release(d, release, {}, hp.healthcheck.run)
        steps.append({"name": "healthcheck", "command": hc, "stdin": False})
    line = journal.entry(
        action="deploy", run="rbench0", user=user, sha=sha, release=release, previous=None, outcome="success"
    ).to_line()
    steps.append({"name": "finish", "command": guarded.finish(d, line, []), "stdin": False})
    return steps
