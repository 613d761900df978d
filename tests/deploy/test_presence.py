"""Which bots serve from one store, seen through two connections as two bot processes would."""

from __future__ import annotations

import time
from collections.abc import Callable

from deploy.store.tables import Store


def test_a_bot_sees_another_while_it_beats_and_not_once_it_left_or_went_quiet(stores: Callable[[], Store]) -> None:
    one, two = stores(), stores()
    assert [] == one.presence.others(one.owner, within=10)
    one.presence.beat(one.owner)
    two.presence.beat(two.owner)
    two.presence.beat(two.owner)  # beating again keeps one row

    assert [two.owner] == one.presence.others(one.owner, within=10)
    assert [one.owner] == two.presence.others(two.owner, within=10)
    time.sleep(0.05)
    assert [] == one.presence.others(one.owner, within=0.01), "quiet for longer than the window: gone"
    two.presence.leave(two.owner)
    assert [] == one.presence.others(one.owner, within=10)
