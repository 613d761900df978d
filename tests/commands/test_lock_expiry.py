"""The one rule for when a lock has ended (``LockRecord.expired``), which the chat side and the store both use."""

from __future__ import annotations

import pytest

from deploy.records import LockRecord

NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("expires_at", "expected"),
    [
        (None, False),  # a lock without an end lasts until someone unlocks it
        (NOW + 60, False),
        (NOW + 0.001, False),
        (NOW, True),  # the moment it ends it is gone
        (NOW - 0.001, True),
        (NOW - 86_400, True),
    ],
)
def test_a_lock_has_expired_once_its_end_is_reached(expires_at: float | None, expected: bool) -> None:
    lock = LockRecord("production", "U0ALICE", "release freeze", NOW - 3600, expires_at)
    assert lock.expired(NOW) is expected
