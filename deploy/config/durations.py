"""Durations as operators write them: ``30s``, ``5m``, ``1h30m``, ``500ms`` or a bare number of seconds (pure)."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``; raises ``ValueError`` with the accepted forms when it is not a duration."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 1h, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration; write it like 30s, 5m, 1h30m or 500ms")
        if value < 0:
            raise ValueError("a duration may not be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like 30s, 5m or 1h, not {type(value).__name__}")
    text = value.strip().lower().replace(" ", "")
    if not text:
        raise ValueError("expected a duration like 30s, 5m or 1h")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"{value!r} is not a duration; write it like 30s, 5m, 1h30m or 500ms")
        if seconds < 0:
            raise ValueError("a duration may not be negative")
        return seconds
    pos = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"{value!r} is not a duration; write it like 30s, 5m, 1h30m or 500ms")
    return total


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``1m15s``; under a minute keeps one decimal."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
