"""A provider's webhook request (headers and JSON body) into what it is: a :class:`~commands.pushes.Push`, a
:class:`Ping`, or :class:`NotAPush` (another event, ignored). Pure; shapes from the providers' documented examples
(tests/webhooks/payloads).

- GitHub: ``X-GitHub-Event`` (``push``, ``ping``, ...), ``X-GitHub-Delivery``; the repository's ``clone_url``,
  ``ssh_url``, ``git_url``, ``html_url`` and ``full_name``; the pusher's ``pusher.name``.
- GitLab: ``X-Gitlab-Event`` (``Push Hook``, ``Tag Push Hook``), ``X-Gitlab-Event-UUID``; ``project.git_http_url``,
  ``git_ssh_url``, ``web_url`` and ``path_with_namespace``; the pusher's ``user_username`` (or ``user_name``).
- Gitea: ``X-Gitea-Event`` (``push``), ``X-Gitea-Delivery``; like GitHub's, the pusher's ``pusher.login``.

GitHub and Gitea may also send ``application/x-www-form-urlencoded`` with the JSON in the ``payload`` field;
both forms are read. Malformed input raises :class:`PayloadError` with what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from commands.pushes import Push
from deploy.records import Commit

EVENT_HEADER = {"github": "x-github-event", "gitlab": "x-gitlab-event", "gitea": "x-gitea-event"}
DELIVERY_HEADER = {"github": "x-github-delivery", "gitlab": "x-gitlab-event-uuid", "gitea": "x-gitea-delivery"}
_PUSH_EVENTS = {"github": ("push",), "gitlab": ("Push Hook", "Tag Push Hook"), "gitea": ("push",)}
MAX_COMMITS = 20


class PayloadError(ValueError):
    pass


@dataclass(frozen=True)
class Ping:
    delivery: str


@dataclass(frozen=True)
class NotAPush:
    event: str


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _commits(items: Any) -> tuple[Commit, ...]:
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        author = _obj(item.get("author"))
        message = _str(item.get("message")).strip().splitlines()
        out.append(Commit(_str(item.get("id")), _str(author.get("name")), message[0] if message else ""))
    return tuple(out[-MAX_COMMITS:][::-1])  # newest first, like the mirror's commit lists


def parse(provider: str, headers: dict[str, str], body: bytes) -> Push | Ping | NotAPush:
    """``headers`` with lowercased names."""
    event = headers.get(EVENT_HEADER[provider], "").strip()
    delivery = headers.get(DELIVERY_HEADER[provider], "").strip()[:200]
    if provider == "github" and event == "ping":
        return Ping(delivery)
    if event not in _PUSH_EVENTS[provider]:
        return NotAPush(event or "(no event header)")
    if headers.get("content-type", "").split(";")[0].strip() == "application/x-www-form-urlencoded":
        body = "".join(parse_qs(body.decode("utf-8", "replace")).get("payload", [""])[:1]).encode()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    for key in ("ref", "after"):
        if not isinstance(data.get(key), str):
            raise PayloadError(f"the payload has no {key!r} string")
    if provider == "gitlab":
        project = _obj(data.get("project"))
        urls = tuple(_str(project.get(k)) for k in ("git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url"))
        names = (_str(project.get("path_with_namespace")),)
        pusher = _str(data.get("user_username")) or _str(data.get("user_name"))
    else:
        repo = _obj(data.get("repository"))
        urls = tuple(_str(repo.get(k)) for k in ("clone_url", "ssh_url", "git_url", "html_url"))
        names = (_str(repo.get("full_name")),)
        who = _obj(data.get("pusher"))
        pusher = _str(who.get("login")) or _str(who.get("username")) or _str(who.get("name"))
    return Push(
        provider=provider,
        delivery=delivery,
        ref=data["ref"],
        before=_str(data.get("before")),
        after=data["after"].strip().lower(),
        pusher=pusher[:100],
        repository_urls=tuple(u for u in urls if u),
        repository_names=tuple(n for n in names if n),
        commits=_commits(data.get("commits")),
    )
