"""A provider's webhook request (headers and JSON body) into what it is: a :class:`~commands.push_rules.Push`, a
:class:`Ping`, or :class:`NotAPush` (another event, ignored). Pure; shapes from the providers' documented examples
(tests/webhooks/payloads).

- GitHub: ``X-GitHub-Event`` (``push``, ``ping``, ...), ``X-GitHub-Delivery``; the repository's ``clone_url``,
  ``ssh_url``, ``git_url``, ``html_url`` and ``full_name``; the pusher's ``pusher.name``.
- GitLab: ``X-Gitlab-Event`` (``Push Hook``, ``Tag Push Hook``), ``X-Gitlab-Event-UUID``; ``project.git_http_url``,
  ``git_ssh_url``, ``web_url`` and ``path_with_namespace``; the pusher's ``user_username`` (or ``user_name``).
- Gitea: ``X-Gitea-Event`` (``push``), ``X-Gitea-Delivery``; like GitHub's, the pusher's ``pusher.login``.

GitHub and Gitea may also send ``application/x-www-form-urlencoded`` with the JSON in the ``payload`` field;
both forms are read. The body is parsed into pydantic models before any of it is used: ``ref`` must be a branch
or tag git would take (``refs/heads/...``, ``refs/tags/...``, :func:`deploy.delivery.refs.ref_problem`), ``before``,
``after`` and every commit's ``id`` full commit ids (40 or 64 hex digits); author names, commit subjects and the
pusher are kept as capped text, data only. Malformed input raises :class:`PayloadError` naming the field
(``status`` 422), a body that is not a push payload at all with ``status`` 400.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from commands.push_rules import Push
from deploy.delivery.refs import ref_problem
from deploy.records import Commit

EVENT_HEADER = {"github": "x-github-event", "gitlab": "x-gitlab-event", "gitea": "x-gitea-event"}
DELIVERY_HEADER = {"github": "x-github-delivery", "gitlab": "x-gitlab-event-uuid", "gitea": "x-gitea-delivery"}
_PUSH_EVENTS = {"github": ("push",), "gitlab": ("Push Hook", "Tag Push Hook"), "gitea": ("push",)}
MAX_COMMITS = 20
MAX_NAME, MAX_SUBJECT = 200, 300  # an author's or pusher's name, a commit subject: kept as text, this long at most
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


class PayloadError(ValueError):
    """What is wrong with a payload, for the sender: ``status`` 400 (not a push payload) or 422 (a field fails
    its rules; ``field`` names it)."""

    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.status, self.field = status, field


@dataclass(frozen=True)
class Ping:
    delivery: str


@dataclass(frozen=True)
class NotAPush:
    event: str


def _commit_id(value: str) -> str:
    if not _COMMIT_ID.fullmatch(value):
        raise ValueError("is not a full commit id (40 or 64 hex digits)")
    return value.lower()


def _git_ref(value: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if value.startswith(prefix):
            problem = ref_problem(value.removeprefix(prefix))
            if problem:
                raise ValueError(f"is not a ref git would take: {problem}")
            return value
    raise ValueError("is neither a branch (refs/heads/...) nor a tag (refs/tags/...)")


def _text(limit: int) -> BeforeValidator:
    """Any JSON value as text: a string cut to ``limit`` characters, anything else empty (never an error)."""
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else "")


def _object(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Any:
    return tuple(item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


CommitId = Annotated[str, AfterValidator(_commit_id)]
GitRef = Annotated[str, AfterValidator(_git_ref)]
Name = Annotated[str, _text(MAX_NAME)]
Url = Annotated[str, _text(2000)]
Message = Annotated[str, _text(100_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class _Author(_Model):
    name: Name = ""


class _Commit(_Model):
    id: CommitId
    author: Annotated[_Author, BeforeValidator(_object)] = _Author()
    message: Message = ""

    def to_commit(self) -> Commit:
        lines = self.message.strip().split("\n")
        return Commit(self.id, self.author.name, lines[0].strip()[:MAX_SUBJECT])


class _Push(_Model):
    ref: GitRef
    before: CommitId | None = None
    after: CommitId
    commits: Annotated[tuple[_Commit, ...], BeforeValidator(_items)] = ()

    def commit_list(self) -> tuple[Commit, ...]:
        return tuple(c.to_commit() for c in self.commits[-MAX_COMMITS:][::-1])  # newest first, like the mirror's


class _Repository(_Model):
    clone_url: Url = ""
    ssh_url: Url = ""
    git_url: Url = ""
    html_url: Url = ""
    full_name: Name = ""


class _Pusher(_Model):
    login: Name = ""
    username: Name = ""
    name: Name = ""


class HubPush(_Push):
    """A GitHub or Gitea push event."""

    repository: Annotated[_Repository, BeforeValidator(_object)] = _Repository()
    pusher: Annotated[_Pusher, BeforeValidator(_object)] = _Pusher()


class _Project(_Model):
    git_http_url: Url = ""
    git_ssh_url: Url = ""
    web_url: Url = ""
    http_url: Url = ""
    ssh_url: Url = ""
    path_with_namespace: Name = ""


class GitLabPush(_Push):
    """A GitLab push or tag push event."""

    project: Annotated[_Project, BeforeValidator(_object)] = _Project()
    user_username: Name = ""
    user_name: Name = ""


def _where(loc: tuple[int | str, ...]) -> str:
    """``commits[2].id`` from pydantic's location of an error."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _refusal(err: ValidationError) -> PayloadError:
    first = err.errors()[0]
    field = _where(first["loc"])
    if first["type"] in ("missing", "string_type"):
        return PayloadError(f"the payload has no {field!r} string", 400, field)
    shown = repr(first.get("input"))[:80]
    message = str(first["msg"]).removeprefix("Value error, ")
    return PayloadError(f"the payload's {field!r} {message}: {shown}", 422, field)


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
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError(f"the body is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    for key in ("ref", "after"):  # checked first, whatever else is wrong: the request is not a push at all
        if not isinstance(data.get(key), str):
            raise PayloadError(f"the payload has no {key!r} string")
    parsed: _Push
    try:
        if provider == "gitlab":
            lab = GitLabPush.model_validate(data)
            p = lab.project
            urls: tuple[str, ...] = (p.git_http_url, p.git_ssh_url, p.web_url, p.http_url, p.ssh_url)
            names, pusher, parsed = (p.path_with_namespace,), lab.user_username or lab.user_name, lab
        else:
            hub = HubPush.model_validate(data)
            r, who = hub.repository, hub.pusher
            urls = (r.clone_url, r.ssh_url, r.git_url, r.html_url)
            names, pusher, parsed = (r.full_name,), who.login or who.username or who.name, hub
    except ValidationError as err:
        raise _refusal(err) from None
    return Push(
        provider=provider,
        delivery=delivery,
        ref=parsed.ref,
        before=parsed.before or "",
        after=parsed.after,
        pusher=pusher[:100],
        repository_urls=tuple(u for u in urls if u),
        repository_names=tuple(n for n in names if n),
        commits=parsed.commit_list(),
    )
