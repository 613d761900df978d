"""The emulated workspace: team, bot, users, user groups, channels and messages.

Seed data (a dict or a JSON file) describes the directory; anything left out falls back to
:data:`DEFAULT_SEED` (a ``#deploys`` and a ``#general`` channel, users alice, bob, carol and
an admin, a ``deployers`` user group). Every user gets a DM channel with the bot.

Messages are kept per channel in posting order. Thread replies are ordinary messages with a
``thread_ts``; ephemeral messages carry ``ephemeral_to`` and are only shown to that user.
Every ``chat.update`` is kept in :attr:`Message.edits`, so tests can count and inspect edits.
Each change stamps the message with the :class:`~slack_emulator.changes.ChangeFeed` sequence
number, which is what ``since`` cursors compare against.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_emulator.changes import ChangeFeed

JSON = dict[str, Any]

DEFAULT_SEED: JSON = {
    "team": {"id": "T0SHIPBOT", "name": "Shipbot Dev", "domain": "shipbot-dev"},
    "bot": {"user_id": "U0SHIPBOT", "bot_id": "B0SHIPBOT", "app_id": "A0SHIPBOT", "name": "shipbot"},
    "users": [
        {"id": "U0ALICE", "name": "alice", "real_name": "Alice Archer"},
        {"id": "U0BOB", "name": "bob", "real_name": "Bob Baker"},
        {"id": "U0CAROL", "name": "carol", "real_name": "Carol Cruz"},
        {"id": "U0ADMIN", "name": "admin", "real_name": "Ada Admin", "is_admin": True},
    ],
    "usergroups": [
        {"id": "S0DEPLOYERS", "handle": "deployers", "name": "Deployers", "members": ["alice", "bob"]},
        {"id": "S0ONCALL", "handle": "oncall", "name": "On call", "members": ["carol"]},
    ],
    "channels": [
        {"id": "C0DEPLOY", "name": "deploys", "topic": "Deploys happen here"},
        {"id": "C0GENERAL", "name": "general", "is_general": True},
    ],
}

_AVATAR = "https://avatars.slack-edge.example/"  # users.info's profile image_* URLs (the page draws initials)
MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass
class Team:
    id: str
    name: str
    domain: str


@dataclass
class Bot:
    user_id: str
    bot_id: str
    app_id: str
    name: str


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    display_name: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    email: str = ""
    tz: str = "Europe/London"

    def to_api(self, team_id: str) -> JSON:
        """The ``user`` object of ``users.info``."""
        real = self.real_name or self.name
        display = self.display_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "color": "9f69e7",
            "real_name": real,
            "tz": self.tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {
                "avatar_hash": "g" + self.id.lower()[-10:],
                "status_text": "",
                "status_emoji": "",
                "real_name": real,
                "display_name": display,
                "real_name_normalized": real,
                "display_name_normalized": display,
                "email": self.email or f"{self.name}@example.com",
                **{f"image_{size}": f"{_AVATAR}{self.id}.png" for size in ("original", 24, 32, 48, 72, 192, 512)},
                "team": team_id,
            },
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "updated": 1700000000,
            "is_app_user": False,
            "has_2fa": False,
        }


@dataclass
class UserGroup:
    id: str
    handle: str
    name: str
    members: list[str] = field(default_factory=list)


@dataclass
class Channel:
    id: str
    name: str
    is_im: bool = False
    is_private: bool = False
    is_general: bool = False
    user: str | None = None  # the other party of a DM
    topic: str = ""

    @property
    def channel_type(self) -> str:
        """``channel_type`` of message events: ``im``, ``group`` or ``channel``."""
        if self.is_im:
            return "im"
        return "group" if self.is_private else "channel"

    def to_api(self) -> JSON:
        """The ``channel`` object of ``conversations.info``."""
        data: JSON = {
            "id": self.id,
            "created": 1700000000,
            "is_archived": False,
            "is_im": self.is_im,
            "is_org_shared": False,
            "context_team_id": None,
            "updated": 1700000000000,
        }
        if self.is_im:
            data.update({"user": self.user, "is_user_deleted": False, "priority": 0})
        else:
            data.update(
                {
                    "name": self.name,
                    "name_normalized": self.name,
                    "is_channel": not self.is_private,
                    "is_group": self.is_private,
                    "is_private": self.is_private,
                    "is_general": self.is_general,
                    "is_mpim": False,
                    "is_shared": False,
                    "is_ext_shared": False,
                    "is_member": True,
                    "topic": {"value": self.topic, "creator": "", "last_set": 0},
                    "purpose": {"value": "", "creator": "", "last_set": 0},
                }
            )
        return data


@dataclass
class Edit:
    """One ``chat.update`` (or response_url replacement) of a message: the content it set."""

    text: str
    blocks: list[JSON] | None
    at: float
    via: str


@dataclass
class Message:
    ts: str
    channel: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    blocks: list[JSON] | None = None
    attachments: list[JSON] | None = None
    files: list[JSON] | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    ephemeral_to: str | None = None
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False
    seq: int = 0
    posted_at: float = field(default_factory=time.time)
    client_msg_id: str | None = None
    team: str = ""
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> JSON:
        """The message object as the Web API and interaction payloads show it."""
        data: JSON = {"type": "message", "text": self.text, "ts": self.ts}
        if self.user:
            data["user"] = self.user
        if self.bot_id:
            data["bot_id"] = self.bot_id
        if self.app_id:
            data["app_id"] = self.app_id
        if self.subtype:
            data["subtype"] = self.subtype
        if self.team:
            data["team"] = self.team
        if self.blocks is not None:
            data["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments is not None:
            data["attachments"] = copy.deepcopy(self.attachments)
        if self.files is not None:
            data["files"] = copy.deepcopy(self.files)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.edits:
            data["edited"] = {"user": self.user or "", "ts": f"{self.edits[-1].at:.6f}"}
        return data

    def to_control(self) -> JSON:
        """Everything the control API shows about a message, edits included."""
        data = self.to_api()
        data.update(
            {
                "channel": self.channel,
                "ephemeral_to": self.ephemeral_to,
                "update_count": len(self.edits),
                "edits": [{"text": e.text, "blocks": e.blocks, "at": e.at, "via": e.via} for e in self.edits],
                "seq": self.seq,
                "deleted": self.deleted,
                "unfurl_links": self.unfurl_links,
                "unfurl_media": self.unfurl_media,
            }
        )
        return data


class Workspace:
    """Directory plus message store of one emulated Slack workspace."""

    def __init__(self, seed: Mapping[str, Any] | None = None, feed: ChangeFeed | None = None) -> None:
        self.feed = feed or ChangeFeed()
        merged: JSON = {**DEFAULT_SEED, **(dict(seed) if seed else {})}
        self.team = Team(**merged["team"])
        self.bot = Bot(**merged["bot"])
        self.users: dict[str, User] = {}
        for raw in merged["users"]:
            user = User(**raw)
            self.users[user.id] = user
        bot_user = User(id=self.bot.user_id, name=self.bot.name, real_name=self.bot.name, is_bot=True)
        self.users[bot_user.id] = bot_user
        self.users["USLACKBOT"] = User(id="USLACKBOT", name="slackbot", real_name="Slackbot", is_bot=True)
        self.channels: dict[str, Channel] = {}
        for raw in merged["channels"]:
            channel = Channel(**raw)
            self.channels[channel.id] = channel
        self.usergroups: dict[str, UserGroup] = {}
        for raw in merged["usergroups"]:
            group = UserGroup(**raw)
            group.members = [self._require_user(m).id for m in group.members]
            self.usergroups[group.id] = group
        self.messages: dict[str, list[Message]] = {cid: [] for cid in self.channels}
        for user in list(self.users.values()):
            if not user.is_bot:
                self.dm_for(user.id)
        self._last_ts = 0

    @classmethod
    def from_file(cls, path: str | Path, feed: ChangeFeed | None = None) -> Workspace:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), feed)

    # -- directory -------------------------------------------------------------------------

    def find_user(self, ref: str) -> User | None:
        """A user by id, name, ``@name`` or display name."""
        ref = ref.removeprefix("@")
        if ref in self.users:
            return self.users[ref]
        for user in self.users.values():
            if ref in (user.name, user.display_name):
                return user
        return None

    def _require_user(self, ref: str) -> User:
        user = self.find_user(ref)
        if user is None:
            raise KeyError(f"no such user: {ref}")
        return user

    def find_channel(self, ref: str) -> Channel | None:
        """A channel by id, name or ``#name``; a user reference resolves to that user's DM."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if not channel.is_im and channel.name == name:
                return channel
        user = self.find_user(ref)
        if user is not None and not user.is_bot:
            return self.dm_for(user.id)
        return None

    def find_usergroup(self, ref: str) -> UserGroup | None:
        ref = ref.removeprefix("@")
        for group in self.usergroups.values():
            if ref in (group.id, group.handle):
                return group
        return None

    def dm_for(self, user_id: str) -> Channel:
        """The DM channel between ``user_id`` and the bot, created on first use."""
        for channel in self.channels.values():
            if channel.is_im and channel.user == user_id:
                return channel
        channel = Channel(id="D" + user_id[1:], name=user_id, is_im=True, user=user_id)
        self.channels[channel.id] = channel
        self.messages.setdefault(channel.id, [])
        return channel

    def directory(self) -> JSON:
        """Team, bot, users, user groups and channels for the control API and the web page."""
        return {
            "team": vars(self.team),
            "bot": vars(self.bot),
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "real_name": u.real_name,
                    "display_name": u.display_name,
                    "is_admin": u.is_admin,
                    "is_bot": u.is_bot,
                }
                for u in self.users.values()
            ],
            "usergroups": [vars(g) for g in self.usergroups.values()],
            "channels": [
                {"id": c.id, "name": c.name, "is_im": c.is_im, "user": c.user, "channel_type": c.channel_type}
                for c in self.channels.values()
            ],
        }

    # -- messages --------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message timestamp, unique and increasing like Slack's."""
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def add_message(self, message: Message) -> Message:
        if not message.ts:
            message.ts = self.next_ts()
        message.team = message.team or self.team.id
        message.seq = self.feed.bump()
        self.messages.setdefault(message.channel, []).append(message)
        if message.is_reply and message.thread_ts:
            parent = self.get_message(message.channel, message.thread_ts)
            if parent is not None:
                parent.seq = message.seq
        return message

    def post_as_bot(
        self,
        channel: str,
        text: str,
        blocks: list[JSON] | None = None,
        thread_ts: str | None = None,
        ephemeral_to: str | None = None,
        **extra: Any,
    ) -> Message:
        """Store a message from the app's bot user."""
        return self.add_message(
            Message(
                ts="",
                channel=channel,
                text=text,
                user=self.bot.user_id,
                bot_id=self.bot.bot_id,
                app_id=self.bot.app_id,
                blocks=blocks,
                thread_ts=thread_ts,
                ephemeral_to=ephemeral_to,
                **extra,
            )
        )

    def get_message(self, channel: str, ts: str) -> Message | None:
        for message in self.messages.get(channel, []):
            if message.ts == ts and not message.deleted:
                return message
        return None

    def update_message(self, message: Message, text: str | None, blocks: list[JSON] | None, via: str) -> None:
        """Replace a message's content, keeping the edit in its history."""
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = blocks
        message.edits.append(Edit(text=message.text, blocks=copy.deepcopy(message.blocks), at=time.time(), via=via))
        message.seq = self.feed.bump()

    def delete_message(self, message: Message) -> None:
        message.deleted = True
        message.seq = self.feed.bump()

    def visible(self, message: Message, as_user: str | None) -> bool:
        if message.deleted:
            return False
        return message.ephemeral_to is None or as_user is None or message.ephemeral_to == as_user

    def thread(self, channel: str, thread_ts: str, as_user: str | None = None) -> list[Message]:
        return [
            m
            for m in self.messages.get(channel, [])
            if m.thread_ts == thread_ts and m.ts != thread_ts and self.visible(m, as_user)
        ]

    def read(self, channel: str, as_user: str | None = None) -> list[JSON]:
        """Top-level messages of a channel, each with its thread ``replies`` nested.

        Replies sent with ``reply_broadcast`` show both in their thread and in the channel.
        """
        out: list[JSON] = []
        for message in self.messages.get(channel, []):
            broadcast = message.subtype == "thread_broadcast"
            if (message.is_reply and not broadcast) or not self.visible(message, as_user):
                continue
            data = message.to_control()
            replies = self.thread(channel, message.ts, as_user)
            data["replies"] = [r.to_control() for r in replies]
            data["reply_count"] = len(replies)
            out.append(data)
        return out

    def all_messages(self) -> list[Message]:
        return [m for msgs in self.messages.values() for m in msgs if not m.deleted]

    def clear_messages(self) -> None:
        self.messages = {cid: [] for cid in self.channels}
        self.feed.bump()

    @staticmethod
    def mentions(text: str) -> list[str]:
        """User ids mentioned as ``<@U…>`` in ``text``."""
        return MENTION_RE.findall(text)

    @staticmethod
    def new_client_msg_id() -> str:
        return str(uuid.uuid4())
