"""A waiting request as the payload of its store row, and back (pure).

The store (:mod:`deploy.store.waiting`) keeps a request's state, place in line and expiry in columns of its own; what
the chat side needs to start the request later (the :class:`~commands.runs.RunRequest`, the command it came from,
who may approve it, the commits it ships, whether it queues) travels as one JSON object::

    {"v": 1, "run": {RunRequest fields}, "command": {"verb": "deploy" | "rollback" | "flag", fields} | null,
     "approvers": [...], "commits": [[sha, author, subject], ...], "queue": true | false}

Every field was validated when the request was asked for; decoding rebuilds the same frozen values. A feature flag
change waiting for approval (``"verb": "flag"``, a :class:`~commands.command.ChangeFlag`) has a run of kind ``flag``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from commands.command import ChangeFlag, Deploy, Rollback
from commands.runs import RunRequest
from deploy.records import Commit

VERSION = 1


@dataclass(frozen=True)
class RequestRow:
    """What a waiting request's payload holds."""

    run: RunRequest
    command: Deploy | Rollback | ChangeFlag | None = None
    approvers: tuple[str, ...] = ()
    commits: tuple[Commit, ...] = ()
    queue: bool = False


def encode(row: RequestRow) -> str:
    command: dict[str, Any] | None = None
    if row.command is not None:
        command = {"verb": row.command.verb, **asdict(row.command)}
    return json.dumps(
        {
            "v": VERSION,
            "run": asdict(row.run),
            "command": command,
            "approvers": list(row.approvers),
            "commits": [[c.sha, c.author, c.subject] for c in row.commits],
            "queue": row.queue,
        },
        sort_keys=True,
    )


def decode(payload: str) -> RequestRow:
    data = json.loads(payload)
    run = RunRequest(**{**data["run"], "overrides": tuple(data["run"]["overrides"])})
    raw = data.get("command")
    command: Deploy | Rollback | ChangeFlag | None = None
    if raw is not None:
        fields = {k: v for k, v in raw.items() if k != "verb"}
        if raw["verb"] == ChangeFlag.verb:
            command = ChangeFlag(**{**fields, "keys": tuple(fields.get("keys", ()))})
        else:
            command = Deploy(**fields) if raw["verb"] == Deploy.verb else Rollback(**fields)
    return RequestRow(
        run,
        command,
        tuple(data.get("approvers", ())),
        tuple(Commit(sha, author, subject) for sha, author, subject in data.get("commits", ())),
        bool(data.get("queue", False)),
    )
