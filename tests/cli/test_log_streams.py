"""Logs written to standard output or error follow the stream as it is now: a command run in-process whose
output stream was replaced and closed since (a test's captured output) leaves logging working for what follows."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from cli import logs


@pytest.mark.parametrize("name", ["stdout", "stderr"])
def test_logging_set_up_on_a_stream_later_closed_writes_to_the_current_one(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, name, first)
    logs.configure("json", "INFO", getattr(sys, name))
    first.close()
    monkeypatch.setattr(sys, name, later)

    structlog.get_logger("shipbot.test").warning("preview_refused", branch="demo/../x")

    assert "preview_refused" == json.loads(later.getvalue())["event"]
