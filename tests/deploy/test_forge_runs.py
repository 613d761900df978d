"""deploy.notify.forge_runs: which GitHub deployment a run answers to, written once per deployment, and its reported
state moved by compare-and-set (never twice to one state, never on from a final one), on SQLite and PostgreSQL, each
``ForgeRuns`` on a connection of its own as another replica has."""

from __future__ import annotations

from collections.abc import Callable

from deploy.notify.forge_runs import DeploymentTarget, ForgeRuns
from deploy.store.database import Database

TARGET = DeploymentTarget("github", "acme/shop", "9876543210123", "shop", "production")


def test_a_deployment_answers_to_one_run_whichever_process_writes_it(databases: Callable[[], Database]) -> None:
    one, two = ForgeRuns(databases()), ForgeRuns(databases())
    assert [True, False, True] == [one.record("r-1", TARGET), two.record("r-2", TARGET), two.record("r-1", TARGET)]
    assert (TARGET, None) == (two.target_of("r-1"), two.target_of("r-2"))  # r-1 asking again keeps it
    assert ("r-1", None) == (
        one.run_for("github", "acme/shop", TARGET.deployment_id),
        one.run_for("github", "x/y", "1"),
    )
    other = DeploymentTarget("github", "Acme/Shop", "5", "shop", "staging")  # GitHub's spelling may vary in case
    assert two.record("r-3", other) and not one.record("r-4", DeploymentTarget("github", "ACME/shop", "5", "", ""))
    assert ("r-3", "acme/shop") == (one.run_for("github", "acme/SHOP", "5"), one.target_of("r-3").repo)  # type: ignore[union-attr]


def test_states_only_move_forward_once_each_and_nothing_follows_a_final_one(databases: Callable[[], Database]) -> None:
    one, two = ForgeRuns(databases()), ForgeRuns(databases())
    one.record("r-1", TARGET)
    moves = [
        one.advance("r-1", "queued"), two.advance("r-1", "queued"), two.advance("r-1", "in_progress"),
        one.advance("r-1", "queued"),  # a late "waiting in line" after the run started: never back
        one.advance("r-1", "success"), two.advance("r-1", "in_progress"), two.advance("r-1", "error"),
    ]  # fmt: skip
    assert [True, False, True, False, True, False, False] == moves
    assert "success" == one.state("r-1")
    assert not one.advance("r-unknown", "queued") and one.state("r-unknown") is None
