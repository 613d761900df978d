"""HTTP delivery: the Events API / interactivity request URL mode.

When the emulator is given a request URL it POSTs to the app instead of using Socket Mode,
the way Slack does for apps with a Request URL:

* events as a JSON ``event_callback`` body,
* slash commands as a form-encoded body of the command fields,
* interactions as a form-encoded body with one ``payload`` field holding JSON.

Every request is signed: ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` =
``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the signing secret. A 2xx answer
within the ack window is the acknowledgement (a slash command's response body is its
immediate reply). Re-deliveries carry ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``;
an app answering ``X-Slack-No-Retry: 1`` gets no more retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp

from slack_emulator.delivery import Attempt, Delivery

JSON = dict[str, Any]
AckCallback = Callable[[str, JSON | None], bool]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature for ``body`` sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def encode_body(delivery: Delivery) -> tuple[bytes, str]:
    """The request body and content type Slack uses for this kind of delivery."""
    if delivery.kind == "events_api":
        return json.dumps(delivery.payload).encode(), "application/json"
    if delivery.kind == "slash_commands":
        return urlencode(delivery.payload).encode(), "application/x-www-form-urlencoded"
    return urlencode({"payload": json.dumps(delivery.payload)}).encode(), "application/x-www-form-urlencoded"


def parse_reply(body: bytes, content_type: str) -> JSON | None:
    """An HTTP answer body as an ack payload (JSON object, or plain text as ``{"text": …}``)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {"text": text}
        return data if isinstance(data, dict) else None
    return {"text": text}


class HttpDelivery:
    """The dispatcher's transport in HTTP mode."""

    kind = "http"

    def __init__(self, request_url: str, signing_secret: str, on_ack: AckCallback) -> None:
        self.request_url = request_url
        self.signing_secret = signing_secret
        self.on_ack = on_ack
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def headers(self, body: bytes, content_type: str, attempt: Attempt | None = None) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self.signing_secret, timestamp, body),
        }
        if attempt is not None and attempt.retry_attempt > 0:
            headers["X-Slack-Retry-Num"] = str(attempt.retry_attempt)
            headers["X-Slack-Retry-Reason"] = attempt.retry_reason
        return headers

    async def send(self, delivery: Delivery, attempt: Attempt, deadline: float) -> None:
        body, content_type = encode_body(delivery)
        headers = self.headers(body, content_type, attempt)
        timeout = aiohttp.ClientTimeout(total=max(0.01, deadline - time.monotonic()))
        attempt.sent_at = time.time()
        try:
            async with self._client().post(self.request_url, data=body, headers=headers, timeout=timeout) as resp:
                reply = await resp.read()
                attempt.http_status = resp.status
                if 200 <= resp.status < 300:
                    self.on_ack(attempt.envelope_id, parse_reply(reply, resp.headers.get("Content-Type", "")))
                elif resp.headers.get("X-Slack-No-Retry") == "1":
                    attempt.outcome = "no_retry"
                else:
                    attempt.outcome = "http_error"
        except TimeoutError:
            attempt.outcome = "http_timeout"
        except aiohttp.ClientError:
            attempt.outcome = "connection_failed"

    async def verify_url(self, timeout: float = 3.0) -> bool:
        """Send the ``url_verification`` handshake; True if the app echoes the challenge."""
        challenge = secrets.token_urlsafe(24)
        body = json.dumps({"token": "", "challenge": challenge, "type": "url_verification"}).encode()
        try:
            async with self._client().post(
                self.request_url,
                data=body,
                headers=self.headers(body, "application/json"),
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                text = await resp.text()
        except (TimeoutError, aiohttp.ClientError):
            return False
        if text.strip() == challenge:
            return True
        try:
            return bool(json.loads(text).get("challenge") == challenge)
        except (ValueError, AttributeError):
            return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)
