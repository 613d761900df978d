"""Which releases to delete after a deploy (pure).

Keep the newest ``keep`` releases by release id (ids sort by time), and never delete the release ``current``
points to or the one a rollback would go to, even when they fall outside the window.
"""

from __future__ import annotations

from collections.abc import Iterable


def releases_to_delete(releases: Iterable[str], keep: int, protected: Iterable[str | None]) -> list[str]:
    """Release ids to remove, oldest first."""
    ordered = sorted({r for r in releases if r and not r.startswith(".")})
    keep_set = set(ordered[-keep:]) if keep > 0 else set()
    keep_set |= {p for p in protected if p}
    return [r for r in ordered if r not in keep_set]
