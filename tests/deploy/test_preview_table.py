"""The previews kept in the store, on SQLite and on PostgreSQL: one port and one branch per preview, whoever asks."""

from __future__ import annotations

from collections.abc import Callable

from deploy.previews.preview_table import LIVE, PreviewTable
from deploy.store.database import Database


def test_a_port_or_a_branch_is_held_by_one_preview_and_a_lost_race_changes_nothing(
    databases: Callable[[], Database],
) -> None:
    one, two = PreviewTable(databases()), PreviewTable(databases())
    assert one.reserve("shop", "demo-a", "demo/a", 9000, ["h1"], "alice")
    assert not two.reserve("shop", "demo-b", "demo/b", 9000, ["h1"], "bob"), "the port is taken"
    assert not two.reserve("shop", "demo-a2", "demo/a", 9001, ["h1"], "bob"), "the branch has its preview"
    assert two.reserve("shop", "demo-b", "demo/b", 9001, ["h1", "h2"], "bob"), "a refused insert left no mess"
    two.live("shop", "demo-b", "b" * 40, "bob")

    rows = one.of_app("shop")
    assert [("demo-a", 9000, ""), ("demo-b", 9001, "b" * 40)] == [(r.name, r.port, r.sha) for r in rows]
    assert (LIVE, ("h1", "h2")) == (rows[1].state, rows[1].hosts)
    assert [] == one.of_app("billing") and 2 == len(one.of_app())
    assert {9000, 9001} == two.ports()
    assert ["demo-a", "demo-b"] == [r.name for r in one.due("shop", rows[1].updated_at + 1)]
    assert one.remove("shop", "demo-a") and not two.remove("shop", "demo-a")
    by_branch = two.by_branch("shop", "demo/b")
    assert by_branch is not None and "demo-b" == by_branch.name
