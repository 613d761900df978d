"""The controller's local mirror of the app's repository.

A ref is resolved to one full SHA here, once per run, and every host gets that SHA and no other (Capistrano and
Deployer resolve the branch on each host, so a branch that moves mid-deploy leaves hosts on different commits).
The ``upload`` transfer makes one ``git archive`` of that SHA here and sends the same bytes to every host.

Mirrors live under ``<data_dir>/mirrors/``; a file lock keeps two shipbot processes from fetching into the same
mirror at once. git runs without a shell and without a terminal prompt, and every ref or commit id given to it
follows ``--end-of-options`` (git 2.24 or later) after being checked here (:func:`commit_id`), so nothing from a
webhook, a branch name or a chat message can become an option (``--output=...``).
"""

from __future__ import annotations

import asyncio
import difflib
import fcntl
import hashlib
import os
import re
from pathlib import Path

from deploy.delivery.refs import looks_like_sha, ref_problem
from deploy.errors import RefNotFound, RepositoryError, UsageError
from deploy.records import Commit

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
END = "--end-of-options"


def commit_id(value: str, what: str = "commit id") -> str:
    """``value`` when it is a full commit id (40 hex digits, or 64 in a SHA-256 repository), else UsageError."""
    if not _COMMIT_ID.fullmatch(value):
        raise UsageError(f"{what} {value[:80]!r} is not a full commit id (40 or 64 lowercase hex digits)")
    return value


class Mirror:
    def __init__(self, repo: str, data_dir: Path, app: str) -> None:
        self.repo = repo
        digest = hashlib.sha256(repo.encode()).hexdigest()[:12]
        self.path = data_dir / "mirrors" / f"{app}-{digest}.git"
        self._lock = asyncio.Lock()
        self._fetched = False

    async def _git(self, *args: str, check: bool = True) -> tuple[int, bytes, str]:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **_GIT_ENV},
        )
        out, err = await proc.communicate()
        code = proc.returncode if proc.returncode is not None else -1
        if check and code != 0:
            raise RepositoryError(f"git {args[0]} failed for {self.repo}: {err.decode(errors='replace').strip()}")
        return code, out, err.decode(errors="replace")

    async def fetch(self) -> None:
        """Clone the mirror the first time, fetch every branch and tag after that."""
        async with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.parent / f"{self.path.name}.lock", "w") as lockfile:  # noqa: ASYNC230 (an empty lock file)
                await asyncio.to_thread(fcntl.flock, lockfile, fcntl.LOCK_EX)
                try:
                    if not (self.path / "HEAD").exists():
                        code, _, err = await self._git(
                            "clone", "--quiet", "--mirror", "--", self.repo, str(self.path), check=False
                        )
                        if code != 0:
                            raise RepositoryError(
                                f"cannot clone {self.repo} (config key repo): {err.strip()}. "
                                "Check the URL and that this machine can read it."
                            )
                    else:
                        await self._git("-C", str(self.path), "remote", "set-url", "origin", self.repo)
                        code, _, err = await self._git(
                            "-C", str(self.path), "fetch", "--quiet", "--prune", "origin",
                            "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", check=False,
                        )  # fmt: skip
                        if code != 0:
                            raise RepositoryError(f"cannot fetch {self.repo}: {err.strip()}")
                    self._fetched = True
                finally:
                    fcntl.flock(lockfile, fcntl.LOCK_UN)

    async def _rev(self, spec: str) -> str | None:
        code, out, _ = await self._git("-C", str(self.path), "rev-parse", "--verify", "--quiet", END, spec, check=False)
        return out.decode().strip() if code == 0 else None

    async def resolve(self, ref: str) -> str:
        """The full SHA of ``ref`` (a branch, a tag, or a commit id), fetched fresh from ``repo`` (a full commit id the
        mirror already has is answered without fetching)."""
        problem = ref_problem(ref)
        if problem:
            raise UsageError(f"{ref!r} is not a valid ref: {problem}")
        if _COMMIT_ID.fullmatch(ref) and (self.path / "HEAD").exists():
            known = await self._rev(f"{ref}^{{commit}}")  # a full commit id never moves: no fetch when it is here
            if known == ref:
                return known
        await self.fetch()
        candidates = [f"refs/heads/{ref}^{{commit}}", f"refs/tags/{ref}^{{commit}}"]
        if looks_like_sha(ref):
            candidates.insert(0, f"{ref}^{{commit}}")
        for spec in candidates:
            sha = await self._rev(spec)
            if sha and _COMMIT_ID.fullmatch(sha):
                return sha
        names = await self.ref_names()
        close = difflib.get_close_matches(ref, names, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise RefNotFound(f"{ref!r} is not a branch, tag or commit in {self.repo}.{hint}")

    async def ref_names(self) -> list[str]:
        _, out, _ = await self._git(
            "-C", str(self.path), "for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads", "refs/tags"
        )
        return out.decode().split()

    async def tags(self) -> list[str]:
        """Every tag, highest version first (``v1.10.0`` before ``v1.9.0``), fetched fresh."""
        await self.fetch()
        _, out, _ = await self._git(
            "-C", str(self.path), "for-each-ref", "--sort=-v:refname", "--format=%(refname:lstrip=2)", "refs/tags"
        )
        return out.decode().split()

    async def archive(self, sha: str) -> bytes:
        """A tar of the tree at ``sha``, made once and sent to every host."""
        _, out, _ = await self._git("-C", str(self.path), "archive", "--format=tar", END, commit_id(sha))
        return out

    async def is_ancestor(self, older: str, newer: str) -> bool:
        """Is ``older`` an ancestor of ``newer`` (both commit ids)? False when either is unknown here."""
        if not (_COMMIT_ID.fullmatch(older) and _COMMIT_ID.fullmatch(newer)):
            return False
        if not self._fetched:
            await self.fetch()
        code, _, _ = await self._git(
            "-C", str(self.path), "merge-base", "--is-ancestor", END, older, newer, check=False
        )  # fmt: skip
        return code == 0

    async def commits_between(self, old: str | None, new: str, limit: int = 20) -> list[Commit]:
        """Commits in ``new`` that are not in ``old`` (newest first); the last ``limit`` of ``new`` without ``old``.
        Both are full commit ids (UsageError otherwise); authors and subjects come back as data, never parsed."""
        span = f"{commit_id(old, 'the old commit')}..{commit_id(new)}" if old else commit_id(new)
        if not self._fetched:
            await self.fetch()
        code, out, _ = await self._git(
            "-C", str(self.path), "log", f"--max-count={int(limit)}", "--format=%H%x1f%an%x1f%s", END, span, "--",
            check=False,
        )  # fmt: skip
        if code != 0:
            return []
        commits = []
        for line in filter(None, out.decode(errors="replace").split("\n")):  # one line per commit, whatever it says
            sha, author, subject = [*line.split("\x1f"), "", ""][:3]
            commits.append(Commit(sha, author, subject))
        return commits
