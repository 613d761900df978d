"""Feature flags as values, and the flagd flag-definition document they become on the hosts (pure).

A flag of one app in one environment is a :class:`FlagDef`: how much of the traffic sees it (``tenths``, a
percentage in tenths of a percent: 0 is off, 1000 is on for everyone) and an allow list of targeting keys that see
it whatever the ramp. :func:`document` turns an environment's flags into flagd's flag-definition format (OpenFeature;
schema ``https://flagd.dev/schema/v0/flags.json``), the one every flagd provider reads:

- every flag is boolean with the variants ``on: true`` and ``off: false`` and ``state: "ENABLED"``; a flag that is
  off serves ``defaultVariant: "off"`` (never ``DISABLED``, which makes an app fall back to its code default);
- a ramp is flagd's ``fractional`` on the evaluation's ``targetingKey`` (salted with the flag's key, as flagd does
  by default, so two flags at 10% reach different people), ``on`` first with integer weights: 10% is ``10:90``,
  0.5% is ``5:995``. A key lands on the same point of the range at every ramp, so a key that was on at 10% stays on
  at 20%;
- an allow list is ``in`` on ``targetingKey``, checked before the ramp;
- ``metadata.flagSetId`` is ``APP/ENV`` and ``metadata.version`` the set's version, an integer written as a string.

:func:`render` is the file's exact bytes (sorted keys, a final newline), so its sha256 names one content.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

FLAG_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NAME_RULE = "a flag name is 1 to 64 of a-z, 0-9, `.`, `_`, `-`, starting with a letter or digit"
RESERVED = frozenset({"on", "off", "to", "for", "drop", "history", "revert", "in"})
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}")  # a targeting key: a plain token, never markup
KEY_RULE = "a targeting key is a plain token of letters, digits and . _ : @ + - (at most 128)"
FULL = 1000  # tenths of a percent


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a flag's name, or ``None``."""
    if name.lower() in RESERVED:
        return f"`{name}` is a reserved word ({', '.join(sorted(RESERVED))}), not a flag name"
    if not FLAG_NAME.fullmatch(name):
        return NAME_RULE
    return None


def parse_percent(text: str) -> int | None:
    """``10``, ``10%``, ``0.5%`` -> tenths of a percent (100, 5); ``None`` outside 0-100 or with more than one
    decimal."""
    raw = text.removesuffix("%")
    if not re.fullmatch(r"\d{1,3}(\.\d)?", raw):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None
    tenths = int(value * 10)
    return tenths if 0 <= tenths <= FULL else None


def percent_text(tenths: int) -> str:
    """100 -> ``10%``, 5 -> ``0.5%``."""
    return f"{tenths // 10}%" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}%"


@dataclass(frozen=True)
class FlagDef:
    """One flag's definition: ``tenths`` of traffic on (0 off, 1000 on for everyone) and the keys always on."""

    tenths: int = 0
    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.tenths <= FULL:
            raise ValueError(f"a ramp is 0 to {FULL} tenths of a percent, not {self.tenths}")

    @property
    def on(self) -> bool:
        return self.tenths == FULL

    def describe(self) -> str:
        """``on``, ``off``, ``10%``, ``off, on for U1, U2``."""
        state = "on" if self.on else "off" if self.tenths == 0 else percent_text(self.tenths)
        if self.allow and not self.on:
            return f"{state}, on for {', '.join(self.allow)}"
        return state

    def with_keys(self, keys: tuple[str, ...]) -> FlagDef:
        return replace(self, allow=tuple(sorted(set(self.allow) | set(keys))))

    def without_keys(self, keys: tuple[str, ...]) -> FlagDef:
        return replace(self, allow=tuple(k for k in self.allow if k not in set(keys)))

    def raises(self, before: FlagDef) -> bool:
        """Does going from ``before`` to this expose the flag to anyone who did not see it?"""
        return self.tenths > before.tenths or bool(set(self.allow) - set(before.allow) and not self.on)

    def as_json(self) -> str:
        return json.dumps({"tenths": self.tenths, "allow": list(self.allow)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> FlagDef:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(int(data.get("tenths", 0)), tuple(str(k) for k in data.get("allow", ())))


def weights(tenths: int) -> tuple[int, int]:
    """Relative integer weights of ``on`` and ``off``: 10% -> (10, 90), 0.5% -> (5, 995)."""
    if tenths % 10 == 0:
        return tenths // 10, 100 - tenths // 10
    return tenths, FULL - tenths


def targeting(flag: FlagDef) -> dict[str, Any] | None:
    """flagd JsonLogic for a flag neither fully on nor fully off without keys, else ``None``."""
    if flag.on:
        return None
    ramp: Any = "off"
    if flag.tenths > 0:
        on, off = weights(flag.tenths)
        bucket = {"cat": [{"var": "$flagd.flagKey"}, {"var": "targetingKey"}]}
        ramp = {"fractional": [bucket, ["on", on], ["off", off]]}
    if flag.allow:
        return {"if": [{"in": [{"var": "targetingKey"}, list(flag.allow)]}, "on", ramp]}
    return ramp if isinstance(ramp, dict) else None


def flag_entry(flag: FlagDef) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on" if flag.on else "off",
    }
    rule = targeting(flag)
    if rule is not None:
        entry["targeting"] = rule
    return entry


def document(app: str, environment: str, version: int, flags: dict[str, FlagDef]) -> dict[str, Any]:
    """The flagd flag-definition document of one app and environment."""
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "metadata": {"flagSetId": f"{app}/{environment}", "version": str(version)},
        "flags": {name: flag_entry(flags[name]) for name in sorted(flags)},
    }


def render(app: str, environment: str, version: int, flags: dict[str, FlagDef]) -> bytes:
    """The file's exact bytes."""
    return (json.dumps(document(app, environment, version, flags), indent=2, sort_keys=True) + "\n").encode()


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
