"""structlog, configured once: JSON lines (or human-readable on a terminal), context bound per run/command.

Context: the chat entry points bind the user and channel, a run's task binds its run id, environment, app and
user (``structlog.contextvars``); :func:`~structlog.contextvars.merge_contextvars` puts them on every line.

Sentry (the optional ``shipbot[sentry]`` extra, on when ``SENTRY_DSN`` is set): structlog prints its lines itself,
so sentry-sdk's logging integration never sees them; :func:`to_sentry` sends each error the bot logs as a Sentry
event instead, with the bound context as tags (run_id, environment, app, user) and the line's fields as context.
"""

from __future__ import annotations

import importlib
import logging
import sys
from types import ModuleType
from typing import Any, TextIO

import structlog

TAGS = ("run_id", "environment", "app", "user", "channel", "kind")
_ERRORS = ("error", "critical", "exception")


def _sentry() -> ModuleType | None:
    """sentry-sdk, once something started it (it is imported only by :func:`init_sentry`: loading it costs a
    command half a second, and a process that never started Sentry has nothing to send)."""
    return sys.modules.get("sentry_sdk")


def init_sentry(dsn: str, **options: Any) -> bool:
    """Start Sentry; False when the extra is not installed."""
    try:
        sentry = importlib.import_module("sentry_sdk")
    except ImportError:  # an optional extra: shipbot[sentry]
        return False
    sentry.init(dsn=dsn, **options)  # no personal data by default
    return True


def to_sentry(_: Any, method_name: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """A structlog processor: an error line becomes a Sentry event carrying the line's context."""
    sentry = _sentry()
    if sentry is None or method_name not in _ERRORS or not sentry.get_client().is_active():
        return event_dict
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    with sentry.new_scope() as scope:
        for key in TAGS:
            if key in event_dict:
                scope.set_tag(key, str(event_dict[key]))
        scope.set_context("log", {k: str(v) for k, v in event_dict.items() if k != "exc_info"})
        if isinstance(exc_info, tuple) and exc_info[0] is not None:
            sentry.capture_exception(exc_info)
        else:
            sentry.capture_message(str(event_dict.get("event", "")), level="error")
    return event_dict


class _Standard:
    """``sys.stdout`` or ``sys.stderr`` as they are when a line is written, not as they were when logging was set
    up: a stream replaced since (and closed, as a test's captured output is) is never written to."""

    def __init__(self, name: str) -> None:
        self._name = name

    def write(self, text: str) -> int:
        return int(getattr(sys, self._name).write(text))

    def flush(self) -> None:
        getattr(sys, self._name).flush()


def configure(fmt: str = "auto", level: str = "INFO", stream: TextIO | None = None) -> None:
    """``fmt``: ``json``, ``console``, or ``auto`` (console when ``stream`` is a terminal)."""
    stream = stream or sys.stdout
    names = {id(sys.stdout): "stdout", id(sys.stderr): "stderr"}
    target: Any = _Standard(names[id(stream)]) if id(stream) in names else stream
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty()) if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            to_sentry,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping().get(level.upper(), 20)),
        logger_factory=structlog.PrintLoggerFactory(target),
        cache_logger_on_first_use=False,
    )
