"""One HTTP request of a sink, its failures mapped to an :data:`~sinks.attempts.Attempt` at this one boundary."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from sinks.attempts import TIMEOUT, Attempt, Delivered, Retry, answer

USER_AGENT = "shipbot"


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> tuple[Attempt, Any]:
    """The attempt's outcome and, when delivered, the JSON the receiver answered (None when it sent none)."""
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    try:
        async with session.request(
            method, url, data=body, headers=sent, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
        ) as response:
            text = await response.text(errors="replace")
            outcome = answer(response.status, text, response.headers)
    except TimeoutError:
        return Retry(f"no answer within {timeout:g}s"), None
    except aiohttp.ClientSSLError as exc:
        return Retry(f"TLS refused: {type(exc).__name__}"), None
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
        return Retry(f"connection failed: {type(exc).__name__}"), None
    if not isinstance(outcome, Delivered):
        return outcome, None
    try:
        return outcome, json.loads(text) if text.strip() else None
    except ValueError:
        return outcome, None
