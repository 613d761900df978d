"""The web page comparing two commits of the app's repository, when its host has one (pure).

``repo`` is the config's ``repo``: an ssh (``git@host:owner/name.git``, ``ssh://git@host[:port]/owner/name``) or
https URL. github.com gets ``https://github.com/OWNER/NAME/compare/A...B``; gitlab.com, or any host with
``gitlab`` in its name, gets GitLab's ``https://HOST/OWNER/NAME/-/compare/A...B``; any other host reached over
https or ssh gets Gitea's (and Forgejo's) ``https://HOST/OWNER/NAME/compare/A...B``. A local path, a ``file://``
URL, or a path that is not ``OWNER/NAME`` (GitLab's subgroups are kept: ``group/sub/name``) gets no link.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SCP = re.compile(r"(?:[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>[^\\]+)")
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_SHA = re.compile(r"[0-9a-f]{7,40}")


def repository_page(repo: str) -> tuple[str, str, str] | None:
    """``(kind, host, owner/name)`` of ``repo`` (kind: github, gitlab or gitea), or ``None`` for no web page."""
    repo = repo.strip()
    if "://" in repo:
        parts = urlsplit(repo)
        if parts.scheme not in ("https", "http", "ssh", "git+ssh") or not parts.hostname:
            return None
        host, path = parts.hostname.lower(), parts.path
    else:
        match = _SCP.fullmatch(repo)
        if match is None or "/" in match.group("host"):
            return None
        host, path = match.group("host").lower(), match.group("path")
    path = path.strip("/").removesuffix(".git").strip("/")
    segments = path.split("/")
    if len(segments) < 2 or not all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments):
        return None
    if "." not in host:  # a short name like ``gitserver`` or ``localhost``: nothing a browser elsewhere could open
        return None
    if host == "github.com":
        return ("github", host, path) if len(segments) == 2 else None
    if "gitlab" in host:
        return "gitlab", host, path
    return ("gitea", host, path) if len(segments) == 2 else None


def compare_url(repo: str, old: str, new: str) -> str | None:
    """The page showing what ``new`` adds to ``old`` (both commit ids), or ``None``."""
    if not (_SHA.fullmatch(old) and _SHA.fullmatch(new)):
        return None
    page = repository_page(repo)
    if page is None:
        return None
    kind, host, path = page
    middle = "/-/compare/" if kind == "gitlab" else "/compare/"
    return f"https://{host}/{path}{middle}{old}...{new}"
