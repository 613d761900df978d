"""Errors the bot logs reach Sentry with the bound context (sentry-sdk's own client, a capturing transport)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from cli import logs

sentry_sdk = pytest.importorskip("sentry_sdk")
Transport = sentry_sdk.transport.Transport


class Captured(Transport):  # type: ignore[misc]
    """sentry-sdk's transport interface, keeping the envelopes instead of sending them."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Any] = []

    def capture_envelope(self, envelope: Any) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        return [item.payload.json for e in self.envelopes for item in e.items if item.type == "event"]


@pytest.fixture
def sent() -> Iterator[Captured]:
    transport = Captured()
    assert logs.init_sentry("https://key@sentry.invalid/1", transport=transport, default_integrations=False)
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None, default_integrations=False)
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def test_an_error_logged_during_a_run_arrives_in_sentry_with_the_run_context(sent: Captured) -> None:
    stream = io.StringIO()
    logs.configure("json", "INFO", stream)
    log = structlog.get_logger("shipbot.test")

    with structlog.contextvars.bound_contextvars(run_id="r42", environment="production", app="shop", user="U0ALICE"):
        log.info("run_started")
        try:
            raise RuntimeError("the disk is full")
        except RuntimeError:
            log.exception("run_crashed")
    sentry_sdk.flush()

    [event] = sent.events()
    assert {"run_id": "r42", "environment": "production", "app": "shop", "user": "U0ALICE"}.items() <= event[
        "tags"
    ].items()
    assert "the disk is full" == event["exception"]["values"][-1]["value"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert ["run_started", "run_crashed"] == [line["event"] for line in lines]
    assert all(line["run_id"] == "r42" and line["user"] == "U0ALICE" for line in lines)


def test_an_error_without_an_exception_arrives_as_a_message(sent: Captured) -> None:
    logs.configure("json", "INFO", io.StringIO())

    with structlog.contextvars.bound_contextvars(user="U0BOB", channel="C0DEPLOYS"):
        structlog.get_logger("shipbot.test").error("approval_sweep_failed", reason="slack down")
    sentry_sdk.flush()

    [event] = sent.events()
    assert "approval_sweep_failed" == event["message"]
    assert ("U0BOB", "C0DEPLOYS") == (event["tags"]["user"], event["tags"]["channel"])
    assert "slack down" == event["contexts"]["log"]["reason"]
