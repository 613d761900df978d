"""What the service answers to ``flags`` and ``flag`` (pure data, rendered by the bot and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from deploy.flags.app_flags import Listing, Written
from deploy.flags.flag_store import FlagChange, FlagRow


@dataclass(frozen=True)
class FlagChanged:
    """A change recorded and written; ``written.behind`` names the hosts that did not take the file (yet)."""

    change: FlagChange
    written: Written
    overrides: tuple[str, ...] = ()  # what a forced change went past (audited, shown loudly)


@dataclass(frozen=True)
class FlagsListed:
    listings: tuple[Listing, ...]  # each names its app
    errors: tuple[tuple[str, str, str], ...] = ()  # (app, environment, why its hosts could not be read)


@dataclass(frozen=True)
class FlagShown:
    app: str
    name: str
    rows: tuple[FlagRow, ...]


@dataclass(frozen=True)
class FlagHistoryShown:
    app: str
    name: str
    environment: str | None
    changes: tuple[FlagChange, ...]


@dataclass(frozen=True)
class FlagNotice:
    """A change, for the environment's notify channels: one line, who, what, from what."""

    channels: tuple[str, ...]
    changed: FlagChanged


FlagReply = FlagChanged | FlagsListed | FlagShown | FlagHistoryShown
