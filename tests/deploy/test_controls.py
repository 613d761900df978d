"""Control requests in a real SQLite file, seen through two connections as a replica and a lease holder would."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from deploy.store.control_requests import ABORT, CANCEL, CONTINUE
from deploy.store.tables import Store


def test_a_request_written_by_one_process_is_seen_by_the_holder_and_taken_once(stores: Callable[[], Store]) -> None:
    clicked, holder = stores(), stores()
    clicked.controls.ask("r0001", CANCEL, "U0BOB")
    clicked.controls.ask("r0002", CONTINUE, "U0CAROL")

    [request] = holder.controls.pending(["r0001"])
    assert (request.run_id, request.action, request.who) == ("r0001", CANCEL, "U0BOB")
    assert holder.controls.take(request)
    assert not clicked.controls.take(request), "a request is acted on once"
    assert [] == holder.controls.pending(["r0001"])
    assert ["r0002"] == [r.run_id for r in clicked.controls.pending(["r0001", "r0002"])]


@pytest.mark.parametrize("action", [CANCEL, CONTINUE, ABORT])
def test_each_action_is_kept_in_order_of_arrival(stores: Callable[[], Store], action: str) -> None:
    store = stores()
    store.controls.ask("r0001", action, "U0BOB")
    store.controls.ask("r0001", CANCEL, "U0DAVE")
    assert [(action, "U0BOB"), (CANCEL, "U0DAVE")] == [(r.action, r.who) for r in store.controls.pending(["r0001"])]


def test_an_unknown_action_is_refused_naming_the_known_ones(stores: Callable[[], Store]) -> None:
    with pytest.raises(ValueError, match="cancel, continue, abort"):
        stores().controls.ask("r0001", "restart", "U0BOB")


def test_many_takers_at_once_take_a_request_once(stores: Callable[[], Store]) -> None:
    stores().controls.ask("r0001", CANCEL, "U0BOB")
    [request] = stores().controls.pending(["r0001"])
    wins: list[int] = []

    def take(n: int) -> None:
        if stores().controls.take(request):
            wins.append(n)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 == len(wins)


def test_old_requests_are_pruned_handled_or_not_and_recent_ones_kept(stores: Callable[[], Store]) -> None:
    store = stores()
    store.controls.ask("r0001", CANCEL, "U0BOB")
    store.controls.ask("r0002", CANCEL, "U0BOB")
    [first] = store.controls.pending(["r0001"])
    store.controls.take(first)
    store.controls.prune()
    assert ["r0002"] == [r.run_id for r in store.controls.pending(["r0001", "r0002"])], "recent: kept"
    store.controls.prune(keep=-1)
    assert [] == store.controls.pending(["r0001", "r0002"])
