"""deploy.store.tables: the run slot, people's locks, recovery after a crash, and run history, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.errors import EnvironmentBusy, EnvironmentLocked
from deploy.processes import pid_alive
from deploy.records import LockRecord, RunRecord
from deploy.store.database import Database
from deploy.store.leases import Lease
from deploy.store.tables import Store
from tests.support.databases import other_process

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "shipbot.sqlite3"


def open_store(url: str, lease_ttl: float = 30.0) -> Store:
    """A store with its own engine and connections: another process, or another replica."""
    return Store(Database(url), lease_ttl)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = open_store(database_url)
    yield s
    s.close()


def run(
    run_id: str,
    environment: str = "production",
    *,
    app: str = "shop",
    user: str = "U0ALICE",
    kind: str = "deploy",
    started_at: float = 1000.0,
) -> RunRecord:
    return RunRecord(
        run_id, kind, app, environment, user, "main", SHA, "20261123090000", "running", started_at, hosts=3
    )


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def execute(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Change the database the way another process would: through its own connection."""
    return other_process(url, sql, *args)


def since_text(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


# -- the run slot ---------------------------------------------------------------------------------------------


def test_a_started_run_is_recorded_as_running_and_holds_the_environment(store: Store) -> None:
    store.start_run(run("r1"), "shop main (0123456)")
    assert (run("r1"), run("r1")) == (store.get_run("r1"), store.active_run("shop", "production"))


def test_a_second_run_in_the_same_environment_is_refused_naming_who_deploys_what(store: Store) -> None:
    store.start_run(run("r1"), "shop main (0123456)")
    with pytest.raises(EnvironmentBusy) as caught:
        store.start_run(run("r2", user="U0BOB"), "shop feature (abcdef0)")
    err = caught.value
    assert (
        "production is busy: U0ALICE is deploying shop main (0123456) (run r1). Try again when it ends.",
        ("production", "r1", "U0ALICE", "shop main (0123456)"),
        None,
        run("r1"),
    ) == (
        str(err),
        (err.environment, err.run_id, err.user, err.what),
        store.get_run("r2"),
        store.active_run("shop", "production"),
    )


def test_another_process_sharing_the_database_sees_the_environment_busy(store: Store, database_url: str) -> None:
    store.start_run(run("r1"), "shop main (0123456)")
    other = open_store(database_url)
    try:
        with pytest.raises(EnvironmentBusy) as caught:
            other.start_run(run("r2", user="U0BOB"), "shop v2")
    finally:
        other.close()
    assert ("r1", "U0ALICE") == (caught.value.run_id, caught.value.user)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(run("r2", "staging"), id="other-environment"),
        pytest.param(run("r2", app="blog"), id="other-app-same-environment-name"),
    ],
)
def test_runs_in_different_environments_or_apps_do_not_block_each_other(store: Store, second: RunRecord) -> None:
    store.start_run(run("r1"), "shop main")
    store.start_run(second, "other")
    assert (run("r1"), second) == (
        store.active_run("shop", "production"),
        store.active_run(second.app, second.environment),
    )


def test_finishing_a_run_records_its_outcome_and_frees_the_environment(store: Store) -> None:
    store.start_run(run("r1"), "shop main")
    before = time.time()
    store.finish_run("r1", "success", "3 hosts on 0123456")
    after = time.time()
    finished = store.get_run("r1")
    assert finished is not None
    assert finished.finished_at is not None
    assert (True, None) == (before <= finished.finished_at <= after, store.active_run("shop", "production"))
    expected = RunRecord(
        "r1", "deploy", "shop", "production", "U0ALICE", "main", SHA, "20261123090000", "success", 1000.0,
        finished.finished_at, "3 hosts on 0123456", 3, False,
    )  # fmt: skip
    assert expected == finished
    store.start_run(run("r2", user="U0BOB"), "shop v2")
    assert run("r2", user="U0BOB") == store.active_run("shop", "production")


def test_a_runs_outcome_is_recorded_once(store: Store) -> None:
    store.start_run(run("r1"), "shop main")
    store.finish_run("r1", "failed", "web2: build failed")
    store.finish_run("r1", "success", "late report")
    record = store.get_run("r1")
    assert ("failed", "web2: build failed") == ((record.state, record.message) if record else None)


def test_a_run_started_with_force_remembers_it(store: Store) -> None:
    record = RunRecord("r1", "rollback", "shop", "production", "U0ALICE", "", SHA, "r", "running", 5.0, forced=True)
    store.start_run(record, "rollback")
    assert record == store.get_run("r1")


def test_sha_and_release_can_be_filled_in_after_the_run_starts(store: Store) -> None:
    lease = store.start_run(run("r1"), "shop main")
    store.writes(lease).update(sha="f" * 40, release="20261123100000")
    updated = store.get_run("r1")
    assert ("f" * 40, "20261123100000") == ((updated.sha, updated.release) if updated else None)


# -- leases -------------------------------------------------------------------------------------------------


def expire(url: str, run_id: str) -> None:
    """Age a lease the way time would, by the database's clock."""
    execute(url, "UPDATE leases SET expires_at = expires_at - 3600 WHERE run_id = ?", run_id)


def test_a_run_holds_a_lease_and_is_not_dead_while_it_lasts(store: Store) -> None:
    store.start_run(run("r1"), "shop main")
    assert ([], store.owner, "running") == (
        store.dead_runs(),
        store.lease_holder("r1"),
        getattr(store.get_run("r1"), "state", None),
    )


def test_a_run_whose_lease_expired_is_dead_whatever_its_pid_and_is_never_shown_running(
    store: Store, database_url: str
) -> None:
    store.start_run(run("r1"), "shop main")
    expire(database_url, "r1")
    shown = store.list_runs("shop", "production")
    assert (["r1"], None, ["interrupted"], "running") == (
        [r.run_id for r in store.dead_runs("shop", "production")],
        store.lease_holder("r1"),
        [r.state for r in shown],
        execute(database_url, "SELECT state FROM runs")[0][0],
    )


def test_a_dead_run_keeps_its_slot_until_it_is_repaired(store: Store, database_url: str) -> None:
    store.start_run(run("r1"), "shop main")
    expire(database_url, "r1")
    with pytest.raises(EnvironmentBusy):
        store.start_run(run("r2", user="U0BOB"), "shop v2")
    store.finish_run("r1", "interrupted", "repaired")
    store.start_run(run("r2", user="U0BOB"), "shop v2")
    assert "r2" == getattr(store.active_run("shop", "production"), "run_id", None)


def test_of_two_stores_taking_over_a_dead_run_exactly_one_wins(store: Store, database_url: str) -> None:
    store.start_run(run("r1"), "shop main")
    expire(database_url, "r1")
    other = open_store(database_url)
    try:
        assert ([Lease("r1", other.owner, 2), None], other.owner) == (
            [other.take_over("r1"), store.take_over("r1")],
            store.lease_holder("r1"),
        )
    finally:
        other.close()


def test_a_live_lease_is_renewed_only_by_its_owner_and_not_once_expired(store: Store, database_url: str) -> None:
    store.start_run(run("r1"), "shop main")
    other = open_store(database_url)
    try:
        owner_renews, stranger_renews = store.renew_lease("r1"), other.renew_lease("r1")
        expire(database_url, "r1")
        assert (True, False, False, False) == (
            owner_renews,
            stranger_renews,
            store.renew_lease("r1"),
            other.take_over("r1") is None,
        )
    finally:
        other.close()


def test_expiry_is_judged_by_the_database_clock_with_a_short_ttl(database_url: str) -> None:
    quick = open_store(database_url, lease_ttl=0.3)
    try:
        quick.start_run(run("r1"), "shop main")
        alive = [r.run_id for r in quick.dead_runs()]
        time.sleep(0.5)
        assert ([], ["r1"]) == (alive, [r.run_id for r in quick.dead_runs()])
    finally:
        quick.close()


# -- people's locks -------------------------------------------------------------------------------------------


def test_a_lock_is_recorded_with_owner_reason_and_time(store: Store) -> None:
    before = time.time()
    lock = store.lock("shop", "production", "U0ALICE", "release freeze", expires_at=None)
    assert (True, LockRecord("production", "U0ALICE", "release freeze", lock.since, None), lock) == (
        before - 0.01 <= lock.since <= time.time(),  # the database's clock (SQLite's counts milliseconds)
        lock,
        store.get_lock("shop", "production"),
    )


def test_someone_else_cannot_take_a_lock_and_is_told_who_holds_it(store: Store) -> None:
    lock = store.lock("shop", "production", "U0ALICE", "release freeze")
    with pytest.raises(EnvironmentLocked) as caught:
        store.lock("shop", "production", "U0BOB", "my turn")
    expected = f"production is locked by U0ALICE since {since_text(lock.since)}: release freeze. Ask them to unlock it."
    assert (expected, lock) == (str(caught.value), store.get_lock("shop", "production"))


def test_relocking_your_own_lock_updates_the_reason_and_keeps_the_time(store: Store) -> None:
    first = store.lock("shop", "production", "U0ALICE", "release freeze")
    second = store.lock("shop", "production", "U0ALICE", "still frozen", expires_at=9e9)
    expected = LockRecord("production", "U0ALICE", "still frozen", first.since, 9e9)
    assert (expected, expected) == (second, store.get_lock("shop", "production"))


def test_the_owner_unlocks_without_an_audit_entry(store: Store) -> None:
    lock = store.lock("shop", "production", "U0ALICE", "release freeze")
    assert (lock, None, []) == (
        store.unlock("shop", "production", "U0ALICE"),
        store.get_lock("shop", "production"),
        store.audit(),
    )


def test_someone_else_cannot_unlock_without_force(store: Store) -> None:
    lock = store.lock("shop", "production", "U0ALICE", "")
    with pytest.raises(EnvironmentLocked) as caught:
        store.unlock("shop", "production", "U0BOB")
    expected = (
        f"production is locked by U0ALICE since {since_text(lock.since)}: no reason given. Ask them to unlock it."
    )
    assert (expected, lock) == (str(caught.value), store.get_lock("shop", "production"))


def test_a_forced_unlock_by_someone_else_is_recorded_in_the_audit(store: Store) -> None:
    lock = store.lock("shop", "production", "U0ALICE", "release freeze")
    removed = store.unlock("shop", "production", "U0ADMIN", force=True)
    audit = [(actor, action, env, json.loads(detail)) for _, actor, action, env, detail in store.audit()]
    expected_audit = [("U0ADMIN", "force-unlock", "production", {"owner": "U0ALICE", "reason": "release freeze"})]
    assert (lock, None, expected_audit) == (removed, store.get_lock("shop", "production"), audit)


def test_unlocking_an_environment_nobody_locked_is_nothing(store: Store) -> None:
    assert (None, []) == (store.unlock("shop", "production", "U0ALICE", force=True), store.audit())


def test_locks_are_per_environment(store: Store) -> None:
    store.lock("shop", "production", "U0ALICE", "freeze")
    staging = store.lock("shop", "staging", "U0BOB", "testing")
    assert staging == store.get_lock("shop", "staging")


@pytest.mark.parametrize(
    ("expires_in", "still_locked"),
    [
        pytest.param(-1.0, False, id="expired"),
        pytest.param(3600.0, True, id="not-yet-expired"),
    ],
)
def test_an_expired_lock_is_gone(store: Store, expires_in: float, still_locked: bool) -> None:
    lock = store.lock("shop", "production", "U0ALICE", "short freeze", expires_at=time.time() + expires_in)
    assert (lock if still_locked else None) == store.get_lock("shop", "production")


def test_someone_else_may_lock_once_a_lock_has_expired(store: Store) -> None:
    store.lock("shop", "production", "U0ALICE", "short freeze", expires_at=time.time() - 1)
    lock = store.lock("shop", "production", "U0BOB", "my turn")
    assert ("U0BOB", lock) == (lock.owner, store.get_lock("shop", "production"))


def test_unlocking_an_expired_lock_is_nothing(store: Store) -> None:
    store.lock("shop", "production", "U0ALICE", "short freeze", expires_at=time.time() - 1)
    assert (None, []) == (store.unlock("shop", "production", "U0BOB", force=True), store.audit())


def test_locking_one_apps_environment_leaves_another_apps_environment_of_that_name_alone(store: Store) -> None:
    store.lock("shop", "staging", "U0ALICE", "demo")
    billing = store.lock("billing", "staging", "U0BOB", "load test")
    assert (None, billing) == (store.get_lock("catalog", "staging"), store.get_lock("billing", "staging"))
    store.unlock("shop", "staging", "U0ALICE")
    assert (None, billing) == (store.get_lock("shop", "staging"), store.get_lock("billing", "staging"))


OLD_LOCKS = """
CREATE TABLE locks (
    environment TEXT PRIMARY KEY, owner TEXT NOT NULL, reason TEXT NOT NULL, since REAL NOT NULL, expires_at REAL
);
INSERT INTO locks VALUES ('staging', 'U0ALICE', 'taken before locks were per app', 1000.0, NULL);
"""


def test_a_lock_from_a_file_written_before_locks_were_per_app_holds_that_environment_of_every_app(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    old = sqlite3.connect(db_path)
    old.executescript(OLD_LOCKS)
    old.close()
    store = Store(db_path)
    try:
        expected = LockRecord("staging", "U0ALICE", "taken before locks were per app", 1000.0, None)
        assert [expected, expected] == [store.get_lock(app, "staging") for app in ("shop", "billing")]
        with pytest.raises(EnvironmentLocked, match="staging is locked by U0ALICE"):
            store.lock("billing", "staging", "U0BOB", "my turn")
        assert expected == store.unlock("billing", "staging", "U0ALICE"), "its owner unlocks it from any app"
        assert [None, None] == [store.get_lock(app, "staging") for app in ("shop", "billing")]
        store.lock("shop", "staging", "U0BOB", "per app now")
        assert None is store.get_lock("billing", "staging")
    finally:
        store.close()
    Store(db_path).close()  # opening a migrated file again changes nothing


# -- history --------------------------------------------------------------------------------------------------


def finished(store: Store, record: RunRecord, state: str) -> None:
    store.start_run(record, "x")
    store.finish_run(record.run_id, state, "")


def test_history_lists_newest_first_filtered_and_limited(store: Store) -> None:
    finished(store, run("r1", started_at=100.0), "success")
    finished(store, run("r2", "staging", started_at=300.0), "failed")
    finished(store, run("r3", started_at=200.0), "failed")
    finished(store, run("r4", app="blog", started_at=400.0), "success")
    assert (
        ["r4", "r2", "r3", "r1"],
        ["r3", "r1"],
        ["r2"],
        ["r3", "r1"],
        ["r4", "r2"],
    ) == (
        [r.run_id for r in store.list_runs()],
        [r.run_id for r in store.list_runs("shop", "production")],
        [r.run_id for r in store.list_runs("shop", "staging")],
        [r.run_id for r in store.list_runs(environment="production", app="shop")],
        [r.run_id for r in store.list_runs(limit=2)],
    )


def test_the_last_success_is_the_newest_successful_deploy_or_rollback(store: Store) -> None:
    finished(store, run("r1", started_at=100.0), "success")
    finished(store, run("r2", kind="rollback", started_at=200.0), "success")
    finished(store, run("r3", started_at=300.0), "failed")
    finished(store, run("r4", kind="task", started_at=400.0), "success")
    finished(store, run("r5", "staging", started_at=500.0), "success")
    last = store.last_success("shop", "production")
    last_deploy = store.last_success("shop", "production", kinds=("deploy",))
    assert ("r2", "r1", None) == (
        last.run_id if last else None,
        last_deploy.run_id if last_deploy else None,
        store.last_success("blog", "production"),
    )


def test_step_results_are_kept_per_run_in_order(store: Store) -> None:
    first, second = (
        store.writes(store.start_run(run("r1"), "x")),
        store.writes(store.start_run(run("r2", "staging"), "x")),
    )
    first.step("web1", "setup", True, 0, 0.1, "", "")
    first.step("web1", "build", False, 2, 1.5, "make: *** Error 2", "web1: build failed: exit 2")
    second.step("web1", "setup", True, 0, 0.1, "", "")
    expected = [
        {"host": "web1", "step": "setup", "ok": 1, "exit_status": 0, "duration": 0.1, "output_tail": "", "error": ""},
        {
            "host": "web1",
            "step": "build",
            "ok": 0,
            "exit_status": 2,
            "duration": 1.5,
            "output_tail": "make: *** Error 2",
            "error": "web1: build failed: exit 2",
        },
    ]
    assert expected == store.host_steps("r1")


def test_the_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path / "state")
    try:
        assert tmp_path / "state" / "shipbot.sqlite3" == s.path
    finally:
        s.close()


def test_pid_alive_answers_for_a_running_process_a_zombie_and_a_reaped_one() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        assert pid_alive(proc.pid)
        proc.kill()
        deadline = time.monotonic() + 5
        while pid_alive(proc.pid) and time.monotonic() < deadline:  # killed, not reaped: a zombie
            time.sleep(0.05)
        assert not pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not pid_alive(proc.pid)
