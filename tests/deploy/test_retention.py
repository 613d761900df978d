"""deploy.hosts.retention: which old releases a deploy deletes."""

from __future__ import annotations

import pytest

from deploy.hosts.retention import releases_to_delete

R1, R2, R3, R4, R5 = (f"2026112{i}090000" for i in range(1, 6))


@pytest.mark.parametrize(
    ("releases", "keep", "protected", "expected"),
    [
        pytest.param([], 5, [], [], id="no-releases"),
        pytest.param([R1, R2, R3], 5, [], [], id="fewer-than-keep"),
        pytest.param([R1, R2, R3, R4, R5], 5, [R5], [], id="exactly-keep"),
        pytest.param([R1, R2, R3, R4, R5], 2, [R5], [R1, R2, R3], id="keeps-newest-deletes-oldest-first"),
        pytest.param([R4, R1, R5, R3, R2], 2, [], [R1, R2, R3], id="input-order-does-not-matter"),
        pytest.param([R1, R2, R3, R4, R5], 2, [R1], [R2, R3], id="current-outside-window-kept"),
        pytest.param([R1, R2, R3, R4, R5], 2, [R5, R2], [R1, R3], id="rollback-target-outside-window-kept"),
        pytest.param([R1, R2, R3, R4, R5], 1, [R1, R3], [R2, R4], id="both-protected-outside-window"),
        pytest.param([R1, R2, R3], 1, [None, None], [R1, R2], id="no-current-no-target"),
        pytest.param([R1, R2, R3], 0, [R2], [R1, R3], id="keep-zero-still-protects"),
        pytest.param([R1, R1, R2, R2, R3], 1, [], [R1, R2], id="duplicates-listed-once"),
        pytest.param(
            [R1, R2, ".current.x.tmp", "", ".shipbot-failed"], 1, [], [R1], id="hidden-and-empty-names-never-deleted"
        ),
        pytest.param([R1, R2], 1, ["20261201090000"], [R1], id="protected-release-not-on-disk"),
    ],
)
def test_old_releases_are_deleted_but_never_current_or_the_rollback_target(
    releases: list[str], keep: int, protected: list[str | None], expected: list[str]
) -> None:
    assert expected == releases_to_delete(releases, keep, protected)
