"""The demo's ``shipbot.yml``: the demo app deployed to the demo fleet, with a chat policy to try.

``write_demo_config(path, repo, fleet)`` writes one config for app ``shop`` (the fleet's app) and returns its path:

- environments ``staging`` (the fleet's 2 hosts) and ``production`` (its 4 hosts; the first has the roles
  ``web`` and ``migrate``, the others ``web``), each host with its own port and ``deploy_to``;
- ``ssh`` logs in as the fleet's user with the fleet's client key, checking host keys against its known_hosts;
- the pipeline uploads the archive, byte-compiles ``app.py``, restarts with ``bin/stop; bin/start`` and checks
  ``bin/health``. Every host serves the app on a port of its own: the port is the shared file ``port``
  (``<deploy_to>/shared/port``, written here for every host) that the restart and healthcheck read into ``PORT``;
  ``run/`` (the pid file) and ``log/`` are shared dirs, so every release stops the app the previous one started;
- tasks ``whoami`` and ``tail-log``;
- ``access``: who may do what from chat (validated by commands/, written here as plain data).

The file is checked with :func:`deploy.config.models.parse_config` before it is written, so a demo never starts on a
config shipbot would refuse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from demo.fleet import DemoFleet, DemoHost
from deploy.config.models import parse_config

APP_PORT_FILE = "port"
SHARED_DIRS = ["run", "log"]

RESTART = 'export PORT="$(cat port)" && { bin/stop; bin/start; }'
HEALTHCHECK = 'PORT="$(cat port)" bin/health'

ACCESS: dict[str, Any] = {
    "admins": ["U0ADMIN"],
    "groups": {"deployers": ["U0ALICE", "U0BOB"], "sre": ["U0CAROL"]},
    "environments": {
        "staging": {"deploy": ["*"], "lock": ["*"], "rollback": ["*"]},
        "production": {
            "deploy": ["@deployers"],
            "rollback": ["@deployers", "@sre"],
            "approve": ["@sre", "@deployers"],
            "lock": ["@sre"],
            "approval": "required",
            "queue": True,
        },
    },
}

_HEADER = """\
# shipbot config for the demo: the app "shop" on local SSH hosts (written by demo/config.py; rewritten on every
# demo start, because the ports change). Every host is an SSH server inside the demo process, on 127.0.0.1.
"""


def _host_entry(host: DemoHost, roles: list[str]) -> dict[str, Any]:
    return {"name": host.name, "address": host.address, "port": host.port, "deploy_to": host.deploy_to, "roles": roles}


def demo_config_data(repo: str | os.PathLike[str], fleet: DemoFleet) -> dict[str, Any]:
    """The config as a mapping (what :func:`write_demo_config` writes)."""
    if not fleet.hosts:
        raise RuntimeError("start the demo fleet first: the config names the hosts' ports")
    staging = fleet.hosts["staging"]
    production = fleet.hosts["production"]
    return {
        "app": fleet.app,
        "repo": str(Path(repo).expanduser().resolve()),
        # every host names its own deploy_to; this one is only the default the schema asks for
        "deploy_to": str(fleet.root / "hosts" / fleet.app),
        "keep_releases": 5,
        "ssh": {
            "user": fleet.user,
            "identity": str(fleet.client_key),
            "known_hosts": str(fleet.known_hosts),
        },
        "environments": {
            "staging": {"ref": "main", "hosts": [_host_entry(h, ["web"]) for h in staging]},
            "production": {
                "ref": "main",
                "hosts": [_host_entry(h, ["web", "migrate"] if i == 0 else ["web"]) for i, h in enumerate(production)],
            },
        },
        "shared": {"files": [APP_PORT_FILE], "dirs": list(SHARED_DIRS)},
        "pipeline": {
            "transfer": "upload",
            "build": ["python3 -m py_compile app.py"],
            "restart": RESTART,
            "healthcheck": {"run": HEALTHCHECK, "retries": 5, "interval": "0.5s", "timeout": "5s"},
        },
        "tasks": {
            "whoami": {"run": 'echo "$(whoami)@${SHIPBOT_DEMO_HOST:-$(hostname)} in $(pwd -P)"'},
            "tail-log": {"run": 'tail -n 20 log/app.log 2>/dev/null || echo "no app log yet"'},
        },
        "timeouts": {"connect": "5s", "build": "60s", "restart": "30s", "task": "60s"},
        "access": ACCESS,
    }


def prepare_hosts(fleet: DemoFleet) -> None:
    """Create each host's shared dirs and its ``shared/port`` (the port its app listens on)."""
    for host in fleet.all_hosts:
        shared = Path(host.deploy_to) / "shared"
        for name in SHARED_DIRS:
            (shared / name).mkdir(parents=True, exist_ok=True)
        (shared / APP_PORT_FILE).write_text(f"{host.app_port}\n")


def write_demo_config(path: str | os.PathLike[str], repo: str | os.PathLike[str], fleet: DemoFleet) -> Path:
    """Write the demo ``shipbot.yml`` for the started ``fleet`` and the demo ``repo``; returns the file's path."""
    data = demo_config_data(repo, fleet)
    parse_config(data, str(path))
    prepare_hosts(fleet)
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(_HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120))
    tmp.replace(target)
    return target
