"""Fencing tokens on SQLite and PostgreSQL: a takeover gives the lease a new generation, and not one write of the
holding it replaced lands after it: not from another store, not from the same owner's older holding, not from
writers racing it in threads, and not from a real process stopped past its lease (SIGSTOP) and resumed while
another store took the run over."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from deploy.errors import EnvironmentBusy, LeaseLost
from deploy.records import RunRecord
from deploy.store.control_requests import CANCEL, ControlRequest
from deploy.store.fencing import RunWrites
from deploy.store.intents import RESTORED, SWITCHED
from deploy.store.leases import Lease, LeaseGuard
from deploy.store.tables import Store
from tests.support.databases import other_process
from tests.support.run_rows import rows_of

ROOT = Path(__file__).parents[2]


def run(run_id: str = "r1", user: str = "U0ALICE") -> RunRecord:
    return RunRecord(run_id, "deploy", "shop", "staging", user, "main", "0" * 40, "r1rel", "running", time.time())


def expire(url: str, run_id: str = "r1") -> None:
    """Age a lease past its expiry, by the database's clock, as a frozen owner's would."""
    other_process(url, "UPDATE leases SET expires_at = expires_at - 3600, heartbeat_at = heartbeat_at - 3600 "
                  "WHERE run_id = ?", run_id)  # fmt: skip


def every_write(writes: RunWrites, request: ControlRequest) -> dict[str, Callable[[], object]]:
    return {
        "step": lambda: writes.step("web1", "build", True, 0, 0.5, "ok", ""),
        "step with no exit status": lambda: writes.step("web1", "build", False, None, 0.5, "", "timed out"),
        "hosts": lambda: writes.hosts(["web1", "web3"]),
        "switching": lambda: writes.switching("web1", "r0", "a" * 40, "r1rel", "b" * 40),
        "mark": lambda: writes.mark("web1", SWITCHED),
        "process started": lambda: writes.process_started("web1", 4242),
        "process ended": lambda: writes.process_ended("web1", 4141),
        "forget processes": lambda: writes.forget_processes("web1"),
        "wait": lambda: writes.wait(2, "r1rel", "b" * 40),
        "resumed": writes.resumed,
        "update": lambda: writes.update(sha="c" * 40, release="r9"),
        "take a control request": lambda: writes.take(request),
        "finish": lambda: writes.finish("success", "done", [("web1", "done", "r1rel", "b" * 40, None, "")]),
    }


def test_every_write_of_a_holding_another_store_took_over_is_refused_and_changes_nothing(
    stores: Callable[[], Store], database_url: str
) -> None:
    frozen, replica = stores(), stores()
    lease = frozen.start_run(run(), "shop main")
    old = frozen.writes(lease)
    old.hosts(["web1", "web2"])
    old.switching("web1", "r0", "a" * 40, "r1rel", "b" * 40)
    old.process_started("web1", 4141)
    old.wait(2, "r1rel", "b" * 40)
    replica.controls.ask("r1", CANCEL, "U0BOB")
    [request] = replica.controls.pending(["r1"])
    expire(database_url)
    taken = replica.take_over("r1")
    assert taken == Lease("r1", replica.owner, lease.generation + 1)
    replica.writes(taken).mark("web1", RESTORED)
    before = rows_of(replica, "r1")

    refused = []
    for name, write in every_write(old, request).items():
        with pytest.raises(LeaseLost):
            write()
        refused.append(name)

    assert (len(every_write(old, request)), before) == (len(refused), rows_of(replica, "r1"))
    assert (replica.owner, "waiting") == (replica.lease_holder("r1"), getattr(replica.get_run("r1"), "state", None))


def test_every_write_of_the_holding_lands(stores: Callable[[], Store]) -> None:
    """The same writes, from the holder: each lands (the fence lets the holder through on both engines)."""
    store = stores()
    lease = store.start_run(run(), "shop main")
    store.controls.ask("r1", CANCEL, "U0BOB")
    [request] = store.controls.pending(["r1"])
    writes = store.writes(lease)
    for write in every_write(writes, request).values():
        write()
    rows = rows_of(store, "r1")
    finished = store.get_run("r1")
    assert finished is not None
    assert ([(0, ""), (None, "timed out")], [("web1", SWITCHED)], "success", "c" * 40, [], []) == (
        [(s["exit_status"], s["error"]) for s in store.host_steps("r1")],
        [(r[1], r[6]) for r in rows["run_hosts"] if r[1] == "web1"],
        finished.state,
        finished.sha,
        rows["leases"],
        rows["active_runs"],
    )
    assert rows["control_requests"][0][1] is not None, "the request was taken"


def test_the_same_owner_taking_its_own_run_over_fences_its_older_holding(
    stores: Callable[[], Store], database_url: str
) -> None:
    """A process frozen past its lease whose own sweeper takes the run over on waking: the run's older holding
    (same owner id) writes nothing more; the new one does."""
    store = stores()
    first = store.start_run(run(), "shop main")
    expire(database_url)
    second = store.take_over("r1")
    assert second is not None and (second.owner, second.generation) == (first.owner, first.generation + 1)
    with pytest.raises(LeaseLost):
        store.writes(first).step("web1", "switch", True, 0, 0.1, "", "")
    store.writes(second).step("web1", "revert", True, 0, 0.1, "", "")
    assert ["revert"] == [s["step"] for s in store.host_steps("r1")]


def test_finish_run_ends_only_a_lease_it_holds(stores: Callable[[], Store], database_url: str) -> None:
    frozen, replica = stores(), stores()
    frozen.start_run(run(), "shop main")
    expire(database_url)
    assert replica.take_over("r1") is not None
    with pytest.raises(LeaseLost):
        frozen.finish_run("r1", "success", "late")
    assert (replica.owner, "running", "r1") == (
        replica.lease_holder("r1"),
        getattr(replica.get_run("r1"), "state", None),
        getattr(replica.active_run("shop", "staging"), "run_id", None),
    )
    replica.finish_run("r1", "interrupted", "repaired")
    assert ("interrupted", None) == (
        getattr(replica.get_run("r1"), "state", None),
        replica.active_run("shop", "staging"),
    )


def test_a_refused_write_tells_the_runs_guard_once(stores: Callable[[], Store], database_url: str) -> None:
    frozen, replica = stores(), stores()
    lease = frozen.start_run(run(), "shop main")
    told: list[str] = []
    guard = LeaseGuard(partial(frozen.door, frozen.renew_lease, lease), 30.0, lease, lambda: told.append("lost"))
    expire(database_url)
    assert replica.take_over("r1") is not None
    writes = frozen.writes(lease, guard)
    for _ in range(2):
        with pytest.raises(LeaseLost):
            writes.step("web1", "build", True, 0, 0.1, "", "")
    assert (["lost"], True, False) == (told, guard.lost, asyncio.run(guard.valid()))


def test_writers_racing_a_takeover_land_before_it_or_not_at_all(stores: Callable[[], Store], database_url: str) -> None:
    """Four threads write as fast as they can for the holder while another store takes the run over: every write
    a thread saw succeed is in the store, none that was refused is, and nothing lands once the takeover returned."""
    holder, replica = stores(), stores()
    lease = holder.start_run(run(), "shop main")
    writes = holder.writes(lease)
    landed: list[int] = []
    by_thread: dict[int, list[int]] = {n: [] for n in range(4)}
    start = threading.Barrier(5)

    def write(n: int) -> None:
        start.wait()
        for i in range(100_000):
            try:
                if i % 2:
                    writes.step(f"web{n}", f"s{n}-{i}", True, 0, 0.1, "", "")
                else:
                    writes.switching(f"web{n}", "r0", None, f"r{i}", "b" * 40)
            except LeaseLost:
                return
            landed.append(i)
            by_thread[n].append(i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    start.wait()
    while len(landed) < 40:
        time.sleep(0.01)
    other_process(database_url, "UPDATE leases SET expires_at = expires_at - 3600 WHERE run_id = 'r1'")
    taken = replica.take_over("r1")
    at_takeover = rows_of(replica, "r1")
    for t in threads:
        t.join(timeout=60)
    assert (taken is not None, at_takeover) == (True, rows_of(replica, "r1"))
    assert len([i for i in landed if i % 2]) == len(at_takeover["host_steps"])
    last = {str(r[1]): str(r[4]) for r in at_takeover["run_hosts"]}  # each thread upserts its host's intent
    assert last == {f"web{n}": f"r{max(i for i in written if not i % 2)}" for n, written in by_thread.items()}


CHILD = """
import os, sys, time
from deploy.store.database import Database
from deploy.errors import LeaseLost
from deploy.records import RunRecord
from deploy.store.tables import Store

store = Store(Database(sys.argv[1]), lease_ttl=float(sys.argv[2]))
lease = store.start_run(RunRecord("r1", "deploy", "shop", "staging", "U0", "main", "0" * 40, "r", "running",
                                  time.time()), "x")
writes, done = store.writes(lease), 0
print(lease.generation, flush=True)
try:
    while True:
        writes.step("web1", f"s{done}", True, 0, 0.1, "", "")
        done += 1
except LeaseLost:
    print(done, flush=True)
"""


def test_a_process_stopped_past_its_lease_and_resumed_writes_nothing_once_another_took_the_run_over(
    stores: Callable[[], Store], database_url: str
) -> None:
    """A real process writes a run's step records in a loop; it is SIGSTOPped, its lease runs out by the database's
    clock, another store takes the run over, and it is resumed in the middle of its loop (and, on SQLite, maybe in
    the middle of a write that holds the file's lock: the takeover waits for it). The write it had in flight lands
    before the takeover; every write after it is refused, and it stops at the first."""
    replica = stores()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, "1.0"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        assert "1" == child.stdout.readline().strip()
        while len(replica.host_steps("r1")) < 20:
            time.sleep(0.01)
        child.send_signal(signal.SIGSTOP)
        time.sleep(1.5)  # past its 1 s lease
        taken: list[Lease | None] = []
        taker = threading.Thread(target=lambda: taken.append(replica.take_over("r1")))
        taker.start()
        time.sleep(0.5)  # the takeover may wait for a write the child had in flight: resume it meanwhile
        child.send_signal(signal.SIGCONT)
        taker.join(timeout=60)
        at_takeover = rows_of(replica, "r1")
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
            child.kill()
            child.wait()
    assert [Lease("r1", replica.owner, 2)] == taken
    assert (at_takeover, int(out.strip())) == (rows_of(replica, "r1"), len(at_takeover["host_steps"]))


def test_a_live_owner_whose_heartbeat_is_late_is_named_as_stalled_with_when_it_is_taken_over(
    stores: Callable[[], Store], database_url: str
) -> None:
    holder, other = stores(), stores()
    holder.start_run(run(), "shop main (0000000)")
    with pytest.raises(EnvironmentBusy) as fresh:
        other.start_run(run("r2", "U0BOB"), "shop v2")
    other_process(database_url, "UPDATE leases SET heartbeat_at = heartbeat_at - 20, expires_at = expires_at - 20")
    with pytest.raises(EnvironmentBusy) as late:
        other.start_run(run("r2", "U0BOB"), "shop v2")
    shown = other.get_run("r1")
    assert shown is not None and shown.stalled is not None, "history shows the run as stalled"
    assert (20, 10, "running") == (round(shown.stalled[0]), round(shown.stalled[1]), shown.state)
    assert "U0ALICE is deploying shop main (0000000) (run r1)" in str(fresh.value)
    assert "is deploying" not in str(late.value)
    assert re.search(r"run r1 .*stopped answering 2\ds ago; .*taken over and repaired at \d\d:\d\d:\d\d UTC "
                     r"\(in \d+s\)", str(late.value)), str(late.value)  # fmt: skip
