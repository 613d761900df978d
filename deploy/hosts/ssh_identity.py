"""The SSH key a config names, checked without the SSH library (pure but for one file test): ``shipbot check``
answers from it, and :class:`deploy.hosts.ssh.SshConnector` refuses to start a run on the same rule."""

from __future__ import annotations

import os
from pathlib import Path

from deploy.config.models import Ssh


def identity(ssh: Ssh) -> str | None:
    """``ssh.identity`` with ``~`` expanded, or None (the agent and the default keys are offered)."""
    return None if ssh.identity is None else os.path.expanduser(ssh.identity)


def identity_problems(ssh: Ssh) -> list[str]:
    """What in ``ssh`` keeps a connection from being tried: a named key file that does not exist."""
    key = identity(ssh)
    if key is not None and not Path(key).is_file():
        return [f"ssh.identity: the key file {key} does not exist"]
    return []
