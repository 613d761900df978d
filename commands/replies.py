"""What the service answers, as typed values the chat side renders (pure data).

Every message gets exactly one :data:`Reply`. Refusals carry the reason and what to do instead. Anything that
happens later (a queued deploy starting, a run ending, an approval expiring) reaches the bot as a
:data:`commands.ports.Notice`. Text fields are safe to show; IDs (``U…``) are plain, for the bot to render as
mentions where it wants to ping someone. ``RunRequest.forced`` and ``overrides`` are to be shown loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.flag_replies import FlagChanged, FlagHistoryShown, FlagShown, FlagsListed
from commands.help_text import CommandHelp
from commands.runs import Busy, RunRequest
from deploy.capistrano.cap_entries import CapEntry, timeline
from deploy.previews.preview_runner import PreviewInfo
from deploy.records import Commit, EnvironmentStatus, LockRecord, RunRecord, Shipment
from deploy.run.dry_run import DryRun


@dataclass(frozen=True)
class Refusal:
    reason: str
    hint: str = ""


@dataclass(frozen=True)
class HelpReply:
    commands: tuple[CommandHelp, ...]
    topic: str | None = None
    allowed_here: bool = True  # for ``help TOPIC``: may the asker use it in this channel


@dataclass(frozen=True)
class EnvironmentView:
    app: str
    environment: str
    status: EnvironmentStatus | None
    error: str = ""  # why status could not be read
    lock: LockRecord | None = None
    running: tuple[RunRequest, ...] = ()
    queued: tuple[RunRequest, ...] = ()
    awaiting_approval: tuple[RunRequest, ...] = ()


@dataclass(frozen=True)
class StatusReply:
    environments: tuple[EnvironmentView, ...]


@dataclass(frozen=True)
class HistoryEntry:
    app: str
    environment: str | None
    runs: tuple[RunRecord, ...]
    capistrano: tuple[CapEntry, ...] = ()  # Capistrano's deploys and rollbacks read from revisions.log

    def timeline(self) -> list[RunRecord | CapEntry]:
        """Both, newest first."""
        return timeline(self.runs, self.capistrano, len(self.runs) + len(self.capistrano))


@dataclass(frozen=True)
class HistoryReply:
    entries: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class WhereEntry:
    app: str
    environment: str
    allowed: bool
    reason: str


@dataclass(frozen=True)
class WhereReply:
    entries: tuple[WhereEntry, ...]


@dataclass(frozen=True)
class Locked:
    app: str
    lock: LockRecord


@dataclass(frozen=True)
class Unlocked:
    app: str
    previous: LockRecord
    forced: bool = False  # someone else's lock removed (recorded)


@dataclass(frozen=True)
class NotLocked:
    app: str
    environment: str


@dataclass(frozen=True)
class RunAccepted:
    """The run started now; its progress goes to the reporter's sink."""

    run: RunRequest
    commits: tuple[Commit, ...] = ()


@dataclass(frozen=True)
class Queued:
    run: RunRequest
    position: int  # 1 = next
    ahead: Busy | None = None


@dataclass(frozen=True)
class AwaitingApproval:
    run: RunRequest
    commits: tuple[Commit, ...]
    approvers: tuple[str, ...]  # principals: user IDs, @groups, "*"
    expires_at: float
    shipment: Shipment | None = None  # the compare page and whether the commit is older than what is live


@dataclass(frozen=True)
class DryRunReply:
    """What a deploy would do (``deploy ... --dry-run``, ``plan``); ``refused``: why the deploy itself would be
    refused (policy, lock or promotion order), shown with the plan; ``forced``: a ``deploy!`` dry run."""

    app: str
    dry: DryRun
    refused: Refusal | None = None
    forced: bool = False
    commands: bool = False  # every host's full commands (asked for with "show commands"), not the summary


@dataclass(frozen=True)
class Cancelled:
    run: RunRequest
    state: str  # running (reverting now) | queued | awaiting approval


@dataclass(frozen=True)
class Approved:
    run: RunRequest
    by: str
    then: RunAccepted | Queued | Refusal | FlagChanged  # a flag change: applied


@dataclass(frozen=True)
class AlreadyDecided:
    """An approve or reject that came second: ``by`` decided ``run_id`` first (``approved``, ``rejected`` or
    ``cancelled``); shown only to the one who came second."""

    run: RunRequest
    by: str
    verdict: str


@dataclass(frozen=True)
class AlreadyStarted:
    """A request picked up after the process that received it stopped, which had already started its run."""

    run_id: str
    state: str  # the run's state now (running, success, failed, waiting for approval...)


@dataclass(frozen=True)
class Rejected:
    run: RunRequest
    by: str
    reason: str


@dataclass(frozen=True)
class Resumed:
    """A person answered a run paused between batches: go on (``go``) or abort and switch back."""

    run: RunRequest
    by: str
    go: bool


@dataclass(frozen=True)
class PreviewStarted:
    """``preview BRANCH``: the preview of ``sha`` is on its way to ``url``; a :class:`PreviewNotice` follows."""

    app: str
    branch: str
    sha: str
    name: str
    url: str
    user: str
    update: bool = False  # the branch already has a preview


@dataclass(frozen=True)
class PreviewsListed:
    previews: tuple[PreviewInfo, ...]
    now: float
    configured: bool = True  # False: no app has a previews section


@dataclass(frozen=True)
class PreviewRemoved:
    info: PreviewInfo
    by: str
    why: str  # "teardown", "branch deleted", "no push for 2d"


@dataclass(frozen=True)
class PreviewNotice:
    """What became of a preview after the reply (or of one a push made): posted in ``channel``. ``kind`` is
    ``live`` (new), ``updated``, ``failed`` (``message`` says why; nothing of a new preview is left),
    ``broken`` (an update failed and going back failed too: the next push rebuilds it), ``refused`` (nothing
    ran) or ``removed`` (``message`` says why). ``by`` is a user id or a pusher's name."""

    channel: str
    app: str
    branch: str
    kind: str
    by: str
    info: PreviewInfo | None = None
    message: str = ""


@dataclass(frozen=True)
class AskedHolder:
    """The run is driven by another shipbot (a replica, the command line): it was asked, through the store, to
    ``action`` (cancel, continue, abort) the run for ``by``; it acts within a couple of seconds."""

    run: RunRequest
    by: str
    action: str


Reply = (
    Refusal
    | HelpReply
    | StatusReply
    | HistoryReply
    | WhereReply
    | Locked
    | Unlocked
    | NotLocked
    | RunAccepted
    | Queued
    | AwaitingApproval
    | Cancelled
    | Approved
    | AlreadyDecided
    | AlreadyStarted
    | Rejected
    | Resumed
    | DryRunReply
    | PreviewStarted
    | PreviewsListed
    | PreviewRemoved
    | AskedHolder
    | FlagChanged
    | FlagsListed
    | FlagShown
    | FlagHistoryShown
)
