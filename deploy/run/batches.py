"""Batches of a rolling or blue/green deploy, and pauses between them (pure).

``batches`` is a ramp: each entry says how many hosts have the new version *once that batch is done*, as a count
(``1``) or a percentage of the environment's hosts (``"10%"``). ``[1, 10%, 100%]`` over 50 hosts is three batches:
1 host (the canary), 4 more (10% of 50 = 5 in all), then the other 45. Percentages round up, so a batch never
gets fewer hosts than asked for; a count larger than the environment means "every host".

What does not add up is an error that names the entry (``environments.production.batches[1]``):

- an entry that is not a whole number >= 1 or a percentage in (0%, 100%];
- a ramp that goes down (``[10, 5]``, ``[50%, 10%]``; with mixed counts and percentages this is checked once the
  number of hosts is known, when the deploy is planned);
- entries after ``100%``;
- a ramp that ends before every host: the last entry must be ``100%`` or a count that reaches the host count.
  Nothing is silently added: the operator writes where the ramp ends.

A ramp step that rounds to no new host (``10%`` of 3 hosts after a canary of 1) is skipped, not an error: the
same config works for a 3-host staging and a 300-host production.

``pause`` is ``false`` (go straight on), ``true`` (wait for a person between batches) or a duration (wait that
long, then go on).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from deploy.config.durations import parse_duration

T = TypeVar("T")

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")

BatchEntry = int | str  # a count, or a percentage written like "10%"


@dataclass(frozen=True)
class BatchProblem:
    """What is wrong with one entry of a batch list (``index`` is its position in the list)."""

    index: int
    message: str


def parse_entry(value: object) -> BatchEntry:
    """One entry as written in YAML -> a count (int >= 1) or a normalised percentage string like ``"10%"``."""
    if isinstance(value, bool):
        raise ValueError("expected a host count like 1 or a percentage like 10%, not a boolean")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("a batch needs at least 1 host")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_entry(int(text))
        match = _PERCENT.fullmatch(text)
        if match:
            pct = float(match.group(1))
            if pct <= 0:
                raise ValueError("a percentage batch must be more than 0%")
            if pct > 100:
                raise ValueError("a percentage batch may not be over 100%")
            return f"{pct:g}%"
    raise ValueError("expected a host count like 1 or a percentage like 10%")


def percent_of(entry: BatchEntry) -> float | None:
    return float(entry[:-1]) if isinstance(entry, str) else None


def static_problems(entries: Sequence[BatchEntry]) -> list[BatchProblem]:
    """Problems visible without knowing the host count: a ramp that goes down, entries after 100%, a
    percentage ramp that stops short of 100%."""
    problems = []
    last_count = last_pct = 0.0
    for i, entry in enumerate(entries):
        pct = percent_of(entry)
        if i > 0 and percent_of(entries[i - 1]) == 100:
            problems.append(BatchProblem(i, "nothing is left after a 100% batch; end the list there"))
            continue
        if pct is None:
            count = float(entry)
            if count <= last_count:
                problems.append(
                    BatchProblem(i, f"the ramp goes down or stays put ({int(count)} after {int(last_count)})")
                )
            last_count = count
        else:
            if pct <= last_pct:
                problems.append(BatchProblem(i, f"the ramp goes down or stays put ({pct:g}% after {last_pct:g}%)"))
            last_pct = pct
    if entries and (pct := percent_of(entries[-1])) is not None and pct < 100:
        problems.append(
            BatchProblem(len(entries) - 1, f"the ramp ends at {pct:g}% of the hosts; end the list with 100%")
        )
    if not entries:
        problems.append(BatchProblem(0, "the list is empty; write at least [100%]"))
    return problems


def cumulative(entry: BatchEntry, hosts: int) -> int:
    """How many hosts have the new version once a batch with this entry is done."""
    pct = percent_of(entry)
    if pct is None:
        return min(int(entry), hosts)
    return min(hosts, math.ceil(round(pct * hosts / 100, 9)))


def split(items: Sequence[T], entries: Sequence[BatchEntry]) -> tuple[list[list[T]], list[BatchProblem]]:
    """``items`` cut into batches by the ramp ``entries``; or the problems, each naming its entry."""
    problems = static_problems(entries)
    if problems:
        return [], problems
    n = len(items)
    batches: list[list[T]] = []
    done = 0
    for i, entry in enumerate(entries):
        upto = cumulative(entry, n)
        if upto < done:
            return [], [BatchProblem(i, f"{entry} is {upto} of {n} hosts, fewer than the {done} already done")]
        if upto > done:
            batches.append(list(items[done:upto]))
            done = upto
    if done < n:
        last = entries[-1]
        return [], [
            BatchProblem(
                len(entries) - 1,
                f"the ramp ends at {last} = {done} of {n} hosts; end the list with 100% so every host is deployed",
            )
        ]
    return batches, []


def parse_pause(value: object) -> bool | float:
    """``false`` / ``true`` / a duration (seconds as a float; ``0`` means no pause)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "false", "no", "off"):
        return value.strip().lower() in ("true", "yes", "on")
    if isinstance(value, int | float | str):
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"expected true, false or a duration like 5m: {exc}") from None
        return seconds if seconds > 0 else False
    raise ValueError("expected true, false or a duration like 5m")
