"""One place where Slack Web API calls are made safely: a failed Slack call is logged and counted, never raised
into a deploy. 429s are retried by slack_sdk's rate-limit retry handler, honouring Retry-After."""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import BotMetrics

log = structlog.get_logger("shipbot.slack")


class _Counting(AsyncRetryHandler):
    """Wraps a retry handler to count the retries it allows."""

    def __init__(self, inner: AsyncRetryHandler, metrics: BotMetrics, reason: str) -> None:
        super().__init__(max_retry_count=inner.max_retry_count)
        self.inner, self.metrics, self.reason = inner, metrics, reason

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        ok = await self.inner._can_retry_async(state=state, request=request, response=response, error=error)
        if ok:
            self.metrics.slack_call_retried(self.reason)
        return ok

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        await self.inner.prepare_for_next_attempt_async(state=state, request=request, response=response, error=error)


def client_options(token: str, base_url: str, metrics: BotMetrics) -> dict[str, Any]:
    """How every Web API client of the bot is made: SLACK_API_URL as its base URL, 429s and dropped connections
    retried (and counted)."""
    return {
        "token": token,
        "base_url": base_url if base_url.endswith("/") else base_url + "/",
        "timeout": 15,
        "retry_handlers": [
            _Counting(AsyncRateLimitErrorRetryHandler(max_retry_count=8), metrics, "ratelimited"),
            _Counting(AsyncConnectionErrorRetryHandler(max_retry_count=3), metrics, "connection"),
        ],
    }


def make_client(token: str, base_url: str, metrics: BotMetrics) -> AsyncWebClient:
    """A plain Web API client (the bot's own, which names people, is :func:`bot.people.naming_client`)."""
    return AsyncWebClient(**client_options(token, base_url, metrics))


async def safe(metrics: BotMetrics, method: str, call: Any) -> dict[str, Any] | None:
    """Await a Web API call; on any failure log it, count it and return None."""
    try:
        response = await call
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"
        metrics.slack_call_failed(method, error)
        log.warning("slack_call_failed", method=method, error=error)
        return None
    except (aiohttp.ClientError, TimeoutError) as exc:
        metrics.slack_call_failed(method, type(exc).__name__)
        log.warning("slack_call_failed", method=method, error=type(exc).__name__)
        return None
    raw = getattr(response, "data", None)
    data: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    return data
