"""A push as the use cases see it, whichever provider sent it, and the pure decisions about it.

:class:`Push` is what the webhook adapter (``webhooks/``) parses a provider's payload into, and what the branch
poller makes of a moved branch. The decisions here are pure and table-tested:

- :func:`normalise_repo` and :func:`apps_for`: which apps a push belongs to, by the repository URLs the payload
  names (``https://host/owner/name.git``, ``git@host:owner/name``, ``ssh://git@host:22/owner/name`` and a local
  path all compare by host and path, the host's case and the port ignored) or by the config's ``source:
  owner/name``;
- :func:`plan_push`: what a push means for one app: the environments whose ``auto_deploy`` follows that branch or
  tag, release notes (``release_tags``), a preview (``previews.branches``, when the config has previews);
- :func:`admission_for`: what to do with one auto-deploy now: hold it (frozen), refuse it (locked), park it
  behind the run going on (coalesce), ask for approval, or start it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase

from deploy.config.models import Config
from deploy.delivery.refs import ref_problem
from deploy.previews.layout import matches_branches
from deploy.records import Commit

ZERO_SHA = "0" * 40
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 repositories
_SCP = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")  # git@host:owner/name (scp-like)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]+@)?([^/:]+)(?::\d*)?(/.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Push:
    """One pushed ref. ``after`` is the commit the ref points to now (all zeros when it was deleted)."""

    provider: str  # github | gitlab | gitea | poll
    delivery: str  # the provider's delivery id ('' when it sends none)
    ref: str  # refs/heads/main, refs/tags/v1.2.0
    before: str
    after: str
    pusher: str
    repository_urls: tuple[str, ...] = ()
    repository_names: tuple[str, ...] = ()  # owner/name as the provider spells it
    commits: tuple[Commit, ...] = ()
    received_at: float = 0.0  # when it arrived (set by the push use case): the newest push is the last to arrive

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def tag(self) -> str | None:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else None

    @property
    def deleted(self) -> bool:
        return bool(self.after) and set(self.after) == {"0"}

    @property
    def requester(self) -> str:
        """Who a run started by this push is recorded for: ``alice (push)``, ``Ada Dev (poll)``."""
        return f"{self.pusher or 'someone'} ({'poll' if self.provider == 'poll' else 'push'})"


def from_push(user: str) -> bool:
    """Whether a run's requester is a push (``alice (push)``, ``Ada Dev (poll)``): people are Slack user ids."""
    return user.endswith((" (push)", " (poll)"))


def push_problem(push: Push) -> str | None:
    """Why a push cannot be acted on (a ref git would refuse, a commit id that is not one), or ``None``."""
    name = push.branch if push.branch is not None else push.tag
    if name is None:
        return f"{push.ref!r} is neither a branch (refs/heads/...) nor a tag (refs/tags/...)"
    problem = ref_problem(name)
    if problem:
        return f"the pushed ref {name!r} is not valid: {problem}"
    if not _SHA.fullmatch(push.after):
        return f"the pushed commit {push.after[:80]!r} is not a full commit id (40 or 64 hex digits)"
    return None


def normalise_repo(url: str) -> str:
    """``host/owner/name`` (host lowercased, no scheme, user, port or ``.git``); a local path stays a path."""
    text = url.strip().rstrip("/")
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    elif (m := _URL.match(text)) is not None:
        text = m.group(1).lower() + (m.group(2) or "")
    elif not text.startswith("/") and (m := _SCP.match(text)) is not None:
        text = f"{m.group(1).lower()}/{m.group(2).lstrip('/')}"
    return text.rstrip("/").removesuffix(".git")


def _owner_name(normalised: str) -> str:
    """``owner/name`` of a normalised ``host/owner/name`` (GitLab subgroups kept: ``group/sub/name``)."""
    return normalised.split("/", 1)[1] if "/" in normalised and not normalised.startswith("/") else ""


def apps_for(push: Push, configs: list[Config]) -> list[str]:
    """The apps whose ``repo`` (or ``source: owner/name``) is the pushed repository."""
    urls = {normalise_repo(u) for u in push.repository_urls if u}
    names = {n.strip("/").lower() for n in push.repository_names if n} | {_owner_name(u).lower() for u in urls}
    names.discard("")
    return [
        c.app for c in configs if normalise_repo(c.repo) in urls or (c.source is not None and c.source.lower() in names)
    ]


def is_preview_branch(config: Config, branch: str) -> bool:
    """Does a push of ``branch`` make (or a deletion remove) a preview: one of ``previews.branches`` matches it."""
    return config.previews is not None and matches_branches(config.previews, branch)


@dataclass(frozen=True)
class PushPlan:
    """What one push means for one app."""

    app: str
    deploy: tuple[str, ...] = ()  # environments that auto-deploy it
    release: bool = False  # a tag matching release_tags: post release notes
    preview: str | None = None  # "pushed" or "deleted": a branch matching previews.branches

    @property
    def ignored(self) -> bool:
        return not (self.deploy or self.release or self.preview)


def plan_push(config: Config, push: Push) -> PushPlan:
    branch, tag = push.branch, push.tag
    deploy: list[str] = []
    if not push.deleted:
        for name, env in config.environments.items():
            auto = env.auto_deploy
            if auto is None:
                continue
            if (branch is not None and auto.branch == branch) or (
                tag is not None and auto.tags is not None and fnmatchcase(tag, auto.tags)
            ):
                deploy.append(name)
    release = (
        not push.deleted
        and tag is not None
        and config.release_tags is not None
        and fnmatchcase(tag, config.release_tags)
    )
    preview = None
    if branch is not None and is_preview_branch(config, branch):
        preview = "deleted" if push.deleted else "pushed"
    return PushPlan(config.app, tuple(deploy), release, preview)


def ignored_note(push: Push, config: Config) -> str:
    """Why nothing follows this push, for the webhook's answer."""
    if push.deleted:
        return f"{push.ref} was deleted; nothing in {config.app} follows deletions"
    followed = sorted(
        f"{name} ({env.auto_deploy.branch or 'tags ' + str(env.auto_deploy.tags)})"
        for name, env in config.environments.items()
        if env.auto_deploy is not None
    )
    follows = ", ".join(followed) if followed else "no environment has auto_deploy"
    return f"no environment of {config.app} follows {push.ref}: {follows}"


class AutoAdmission(Enum):
    HOLD = "hold"  # frozen: kept, deployed when the freeze ends
    REFUSE = "refuse"  # someone's lock
    COALESCE = "coalesce"  # a run is going on or people wait in line: the newest push waits for it
    ASK = "ask"  # approval required
    START = "start"


def admission_for(*, frozen: bool, locked: bool, busy: bool, approval: bool) -> AutoAdmission:
    """A freeze first (held, whatever else), then a lock (refused), then a busy environment (coalesced), then
    approval, else start."""
    if frozen:
        return AutoAdmission.HOLD
    if locked:
        return AutoAdmission.REFUSE
    if busy:
        return AutoAdmission.COALESCE
    return AutoAdmission.ASK if approval else AutoAdmission.START
