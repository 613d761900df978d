"""The event documents the sinks are sent: one JSON object per event, described by ``docs/events.schema.json``.

Every document has ``version`` (1: fields are only ever added within a version), ``id`` (``evt_…``, the same for
every sink told of the event), ``type``, ``time`` (RFC 3339, UTC, by the database's clock), ``app`` and
``environment``; the others where they apply: ``run_id``, ``kind`` (deploy, rollback, converge, task), ``sha``,
``ref``, ``user``, ``message``, ``reverted`` (on ``run.failed`` and ``run.cancelled``), ``reason`` (a lock's, a
rejection's, a freeze window's), ``outcome`` and ``requested_by`` (``approval.decided``), ``window_start`` and
``ends_at`` (``freeze.*``), ``url`` (the run message's permalink). Text in them comes from people (commit
subjects, reasons): each sink escapes it for its own format.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

VERSION = 1

RUN_TYPES = {
    "success": "run.succeeded",
    "failed": "run.failed",
    "cancelled": "run.cancelled",
    "interrupted": "run.interrupted",
}
TYPES = (
    "run.started", "run.succeeded", "run.failed", "run.cancelled", "run.interrupted", "approval.requested",
    "approval.decided", "lock.taken", "lock.released", "freeze.started", "freeze.ended", "preview.created",
    "preview.updated", "preview.removed", "flag.changed",
)  # fmt: skip

DEPLOYMENT_STATUS = "deployment.status"  # a row for GitHub alone (never a webhook's event): a status of a deployment
# a GitHub deployment event started (deploy.notify.outbox.Outbox.tell_deployment)


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document(type_: str, at: float, *, app: str, environment: str, **fields: Any) -> dict[str, Any]:
    """The event ``type_`` at ``at`` (epoch seconds); fields that are None are left out."""
    if type_ not in TYPES and type_ != DEPLOYMENT_STATUS:
        raise ValueError(f"unknown event type {type_!r}")
    doc: dict[str, Any] = {
        "version": VERSION,
        "id": f"evt_{uuid.uuid4().hex}",
        "type": type_,
        "time": rfc3339(at),
        "app": app,
        "environment": environment,
    }
    doc.update((k, v) for k, v in fields.items() if v is not None)
    return doc


def headline(doc: dict[str, Any]) -> str:
    """One plain sentence for people (Teams' title, the IRC line): the sinks escape it for their own format."""
    if doc["type"] == "flag.changed":
        return _flag_headline(doc)
    who = doc.get("user", "someone")
    what = {
        "deploy": "deploy",
        "rollback": "rollback",
        "converge": "converge",
        "task": "task",
        "flag": "flag change",
    }.get(str(doc.get("kind", "")), "run")
    where = f"{doc['app']} {doc['environment']}"
    sha = str(doc.get("sha") or "")[:7]
    ref = str(doc.get("ref") or "")
    target = f" {ref}" + (f" ({sha})" if sha and sha != ref[:7] else "") if ref else ""
    run = f" [{doc['run_id']}]" if doc.get("run_id") else ""
    verbs = {
        "run.started": f"{who} started a {what} of {where}{target}",
        "run.succeeded": f"{what} of {where}{target} succeeded",
        "run.failed": f"{what} of {where}{target} failed" + (", reverted" if doc.get("reverted") else ""),
        "run.cancelled": f"{what} of {where}{target} was cancelled" + (", reverted" if doc.get("reverted") else ""),
        "run.interrupted": f"{what} of {where}{target} was interrupted (its controller stopped)",
        "lock.taken": f"{who} locked {where}" + (f": {doc['reason']}" if doc.get("reason") else ""),
        "lock.released": f"{who} unlocked {where}",
        "approval.requested": f"{who} asks for approval of a {what} of {where}{target}",
        "approval.decided": _decided(doc, what, where + target),
        "freeze.started": f"{where} is frozen{_until(doc)}" + (f": {doc['reason']}" if doc.get("reason") else ""),
        "freeze.ended": f"the freeze on {where} ended",
        "preview.created": f"preview {doc['environment']} of {doc['app']} is live{target}",
        "preview.updated": f"preview {doc['environment']} of {doc['app']} is live{target}",
        "preview.removed": f"preview {doc['environment']} of {doc['app']} was removed",
    }
    return verbs.get(str(doc["type"]), f"{doc['type']} in {where}") + run


def _decided(doc: dict[str, Any], what: str, where: str) -> str:
    """``approval.decided``: who approved or rejected whose request (and why), or that it expired."""
    asker = doc.get("requested_by", "someone")
    if doc.get("outcome") == "expired":
        return f"{asker}'s {what} of {where} expired unapproved"
    verb = "approved" if doc.get("outcome") == "approved" else "rejected"
    reason = f": {doc['reason']}" if doc.get("reason") else ""
    return f"{doc.get('user', 'someone')} {verb} {asker}'s {what} of {where}{reason}"


def _until(doc: dict[str, Any]) -> str:
    """`` until 2026-12-11 23:00 UTC`` from a freeze's ``ends_at`` (RFC 3339), or nothing."""
    try:
        end = datetime.fromisoformat(str(doc["ends_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return ""
    return f" until {end.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _flag_headline(doc: dict[str, Any]) -> str:
    """``alice set flag new-login in shop production to 10% (was 0%), forced — why``."""
    before = doc.get("before")
    was = str(before["state"]) if isinstance(before, dict) else "new"
    line = (
        f"{doc.get('user', 'someone')} set flag {doc.get('flag')} in {doc['app']} {doc['environment']} to "
        f"{doc['after']['state']} (was {was})"
    )
    return line + (", forced" if doc.get("forced") else "") + (f" — {doc['reason']}" if doc.get("reason") else "")
