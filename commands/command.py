"""The commands a message can be, as frozen dataclasses that carry only validated text (pure data).

Every string field holds either a name taken from the config (app, environment, task, role or host), a ref
that passed :func:`deploy.delivery.refs.ref_problem`, a run id or release id matching a strict pattern, or a free-text
reason that passed :func:`commands.grammar.reason_problem`. Nothing a person typed reaches a field unchecked.

``Command.verb`` is the command's name in replies, ``shipbot parse --json`` and help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Deploy:
    """``deploy [APP] [REF] [to] ENV[/ROLE-OR-HOST]``; ``default_ref`` when the environment's ref was used.

    ``note`` says how an ambiguous word was read (with one app, ``deploy shop to staging`` names the app, not a
    branch called ``shop``), for the reply to show; empty when the message read one way only. ``dry_run``
    (``deploy ... --dry-run``, ``plan ...``): show what the deploy would do and change nothing.
    """

    verb: ClassVar[str] = "deploy"
    app: str
    environment: str
    ref: str
    target: str | None = None
    force: bool = False
    default_ref: bool = False
    note: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class Rollback:
    """``rollback[!] [APP] ENV [to RELEASE|SHA]``; ``to`` is ``None`` for the previous good release.

    ``force`` (``rollback!``) only comes with a chosen release: that rollback passes the gates of a deploy.
    """

    verb: ClassVar[str] = "rollback"
    app: str
    environment: str
    to: str | None = None
    force: bool = False


@dataclass(frozen=True)
class Converge:
    """``converge [APP] ENV``: the environment's live release on the hosts that are behind it."""

    verb: ClassVar[str] = "converge"
    app: str
    environment: str


@dataclass(frozen=True)
class Cancel:
    """``cancel [RUN-ID|[APP] ENV]``; all ``None`` means "my run, if I have exactly one"."""

    verb: ClassVar[str] = "cancel"
    run_id: str | None = None
    app: str | None = None
    environment: str | None = None


@dataclass(frozen=True)
class Status:
    verb: ClassVar[str] = "status"
    app: str | None = None
    environment: str | None = None


@dataclass(frozen=True)
class History:
    verb: ClassVar[str] = "history"
    app: str | None = None
    environment: str | None = None
    limit: int = 10


@dataclass(frozen=True)
class Lock:
    verb: ClassVar[str] = "lock"
    app: str
    environment: str
    reason: str = ""


@dataclass(frozen=True)
class Unlock:
    verb: ClassVar[str] = "unlock"
    app: str
    environment: str
    force: bool = False


@dataclass(frozen=True)
class WhereCanIDeploy:
    verb: ClassVar[str] = "where"
    app: str | None = None


@dataclass(frozen=True)
class RunTask:
    """``run [APP] TASK on ENV[/ROLE]``."""

    verb: ClassVar[str] = "run"
    app: str
    task: str
    environment: str
    target: str | None = None


@dataclass(frozen=True)
class Approve:
    verb: ClassVar[str] = "approve"
    run_id: str


@dataclass(frozen=True)
class Reject:
    verb: ClassVar[str] = "reject"
    run_id: str
    reason: str = ""


@dataclass(frozen=True)
class Help:
    """``help [COMMAND]``; ``topic`` is a command word from :data:`commands.help_text.SYNTAX`."""

    verb: ClassVar[str] = "help"
    topic: str | None = None


@dataclass(frozen=True)
class Preview:
    """``preview [APP] BRANCH``: a preview of the branch's current head; ``app`` None when not named."""

    verb: ClassVar[str] = "preview"
    branch: str
    app: str | None = None


@dataclass(frozen=True)
class Teardown:
    """``teardown [APP] BRANCH``: remove the branch's preview."""

    verb: ClassVar[str] = "teardown"
    branch: str
    app: str | None = None


@dataclass(frozen=True)
class ListPreviews:
    """``previews [APP]``."""

    verb: ClassVar[str] = "previews"
    app: str | None = None


@dataclass(frozen=True)
class ListFlags:
    """``flags [[APP] ENV]``: every flag of the environment (every environment when ``None``)."""

    verb: ClassVar[str] = "flags"
    app: str | None = None
    environment: str | None = None


@dataclass(frozen=True)
class ShowFlag:
    """``flag NAME``: that flag in every environment."""

    verb: ClassVar[str] = "flag"
    name: str


@dataclass(frozen=True)
class FlagHistory:
    """``flag history NAME [in [APP] ENV]``."""

    verb: ClassVar[str] = "flag"
    name: str
    app: str | None = None
    environment: str | None = None


@dataclass(frozen=True)
class ChangeFlag:
    """``flag[!] on|off NAME [for KEYS] in ENV``, ``flag NAME to N% in ENV``, ``flag NAME drop KEYS in ENV``,
    ``flag revert NAME in ENV``. ``action``: on, off, ramp, allow, drop or revert; ``tenths`` the ramp in tenths of
    a percent; ``keys`` the targeting keys of allow and drop; ``force`` (``flag!``) past freezes and promotion."""

    verb: ClassVar[str] = "flag"
    action: str
    name: str
    app: str
    environment: str
    tenths: int | None = None
    keys: tuple[str, ...] = ()
    force: bool = False
    reason: str = ""


Command = (
    Deploy
    | Rollback
    | Converge
    | Cancel
    | Status
    | History
    | Lock
    | Unlock
    | WhereCanIDeploy
    | RunTask
    | Approve
    | Reject
    | Help
    | Preview
    | Teardown
    | ListPreviews
    | ListFlags
    | ShowFlag
    | FlagHistory
    | ChangeFlag
)
