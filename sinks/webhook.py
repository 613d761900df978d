"""Standard Webhooks (standardwebhooks.com, spec v1.0.0): the event document POSTed as JSON with

- ``webhook-id``: the notification's id, the same on every retry (receivers de-duplicate on it);
- ``webhook-timestamp``: the attempt's time, integer seconds since the epoch;
- ``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(key, ``{id}.{timestamp}.{body}``)), where the key is the
  base64 after ``whsec_`` in the configured secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from sinks import http
from sinks.attempts import Attempt, Refused, secret

PREFIX = "whsec_"


class BadSecret(ValueError):
    """The secret is not ``whsec_`` followed by base64."""


def key_of(whsec: str) -> bytes:
    try:
        key = base64.b64decode(whsec.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSecret("the webhook secret is not whsec_ followed by base64") from exc
    if not key:
        raise BadSecret("the webhook secret is empty")
    return key


def sign(whsec: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    mac = hmac.new(key_of(whsec), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def body_of(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def headers(whsec: str, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(whsec, msg_id, timestamp, body),
    }


async def deliver(
    session: aiohttp.ClientSession, msg_id: str, target: Mapping[str, Any], document: Mapping[str, Any]
) -> Attempt:
    try:
        signing = headers(secret(str(target["secret_env"])), msg_id, body := body_of(document))
    except BadSecret as exc:
        return Refused(f"{target['secret_env']}: {exc}")
    outcome, _ = await http.send(session, "POST", str(target["url"]), body=body, headers=signing)
    return outcome
