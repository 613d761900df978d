"""A real git repository of a tiny app, for deploy tests: branches and tags made with the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ENV = {
    "GIT_AUTHOR_NAME": "Ada Dev",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Dev",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    """A working repository at ``path`` (hosts and the controller clone it by path)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=self.path, env={**os.environ, **_ENV}, check=True, capture_output=True, text=True
        )
        return out.stdout.strip()

    def commit(self, message: str, files: dict[str, str]) -> str:
        for name, content in files.items():
            f = self.path / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(content)
            if name.endswith(".sh"):
                f.chmod(0o755)
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "--quiet", "-B", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "--quiet", name)

    def sha(self, ref: str) -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")


def make_app_repo(path: Path) -> GitRepo:
    """``main`` (v1), ``feature/new-login`` (v2), ``broken-health`` (health check fails), tag ``v1.0.0``."""
    repo = GitRepo(path)
    repo.commit(
        "first version",
        {"VERSION": "v1\n", "health.sh": "#!/bin/sh\nexit 0\n", "build.sh": "#!/bin/sh\necho built > BUILT\n"},
    )
    repo.git("tag", "v1.0.0")
    repo.branch("feature/new-login")
    repo.commit("new login page", {"VERSION": "v2\n"})
    repo.branch("broken-health", "main")
    repo.commit(
        "break the health check", {"VERSION": "v3-broken\n", "health.sh": "#!/bin/sh\necho unhealthy >&2\nexit 1\n"}
    )
    repo.checkout("main")
    return repo
