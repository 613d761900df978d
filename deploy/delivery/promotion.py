"""The promotion order between environments (pure).

An environment with ``promote_from: staging`` only takes a commit that had a successful deploy (or rollback) on
staging, as the store's run history records it. :func:`order_problem` checks the order when the config is loaded
(``promote_from`` names another environment of the app, and following it never comes back to where it started);
:func:`promotion_block` decides one deploy: ``None`` when it may go, else a :class:`PromotionBlock` saying which
rule it breaks and where the commit has been. The words people read are the chat side's and the CLI's.
Rollbacks are not subject to the order: they put back what was live before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PromotionBlock:
    """``environment`` only takes commits that passed ``source``; ``sha`` did not. ``seen_on``: the environments
    where ``sha`` had a successful deploy (sorted; empty when nowhere)."""

    environment: str
    source: str
    sha: str
    seen_on: tuple[str, ...] = ()


def order_problem(sources: Mapping[str, str | None]) -> tuple[str, str] | None:
    """The first environment whose ``promote_from`` is wrong and why, or ``None``. ``sources`` maps each
    environment to its ``promote_from``."""
    for name, source in sources.items():
        if source is None:
            continue
        if source == name:
            return name, f"{name!r} cannot promote from itself; name the environment its commits must pass first"
        if source not in sources:
            known = ", ".join(sorted(sources))
            return name, f"{source!r} is not an environment of this app (environments: {known})"
    for start in sources:
        path = [start]
        step = sources[start]
        while step is not None:
            if step in path:
                cycle = " -> ".join([*path[path.index(step) :], step])
                return start, f"the promotion order goes round in a circle ({cycle}); one of them must take any commit"
            path.append(step)
            step = sources[step]
    return None


def promotion_block(
    environment: str, source: str | None, sha: str, succeeded_on: Iterable[str]
) -> PromotionBlock | None:
    """May ``sha`` go to ``environment`` whose ``promote_from`` is ``source``? ``succeeded_on``: every environment
    of the app where ``sha`` had a successful deploy or rollback."""
    seen = tuple(sorted(set(succeeded_on)))
    if source is None or source in seen:
        return None
    return PromotionBlock(environment, source, sha, seen)
