"""Fencing between real ``shipbot`` processes on the real sshd fleet: an owner stopped past its lease and resumed
with answers waiting for it writes no row of the run; a repair renews its lease like a run does; a deploy run right
after a killed one repairs it at once; and an owner that stopped answering is named as such, with when its run is
taken over."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from deploy.store.database import Database
from tests.durable.conftest import SHIPBOT, SLEEP, TTL, World, leftovers, wait_for
from tests.support.run_rows import rows_of

pytestmark = pytest.mark.sshd


def journals(world: World) -> list[str]:
    return [(world.disk(i) / ".shipbot" / "journal.jsonl").read_text() for i in range(3)]


def restarts(world: World) -> list[str]:
    return [(world.disk(i) / "restarts.log").read_text() for i in range(3)]


def newest_run(world: World) -> str:
    store = world.store()
    try:
        return store.list_runs("shop", "staging", 1)[0].run_id
    finally:
        store.close()


def snapshot(world: World, run_id: str) -> dict[str, list[tuple[object, ...]]]:
    store = world.store()
    try:
        return rows_of(store, run_id)
    finally:
        store.close()


def end_sleeps() -> None:
    """The slow steps' sleeps end (their command goes on past them); only the ``sleep`` processes themselves, not
    the shells whose command line holds the same words."""
    found = subprocess.run(["pgrep", "-x", "-f", SLEEP], capture_output=True, text=True).stdout.split()
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def test_an_owner_resumed_after_a_takeover_with_its_switch_answered_writes_no_row_of_the_run(
    world: World, baseline: None
) -> None:
    """Host 2's switch renames and then hangs; the owner is stopped; the switch then completes on the host, so its
    answer waits in the stopped owner's socket. Another process takes the run over and repairs it. The owner is
    resumed: its step record, the host's switched mark, its process group's end, its next step: none of them
    lands, and it exits saying it lost the lease."""
    live = world.one_release_everywhere()
    renamed = world.slow(2, "MV")
    proc = world.start("deploy", "staging", "feature/new-login")
    try:
        wait_for(renamed.exists, what="host 2's rename")
        proc.send_signal(signal.SIGSTOP)
        world.calm()
        end_sleeps()  # host 2's switch command finishes: its answer is on the way to a stopped process
        time.sleep(TTL * 1.5)
        recovered = world.shipbot("recover", "staging")
        assert 0 == recovered.returncode, recovered.stdout + recovered.stderr
        assert "interrupted, repaired" in recovered.stdout
        run_id = newest_run(world)
        repaired = (snapshot(world, run_id), journals(world), restarts(world))
    finally:
        proc.send_signal(signal.SIGCONT)
    _out, err = proc.communicate(timeout=60)

    assert 1 == proc.returncode, err
    assert "lost its lease" in err
    assert repaired == (snapshot(world, run_id), journals(world), restarts(world)), "the stale owner wrote or acted"
    assert ("interrupted", [], live) == (
        repaired[0]["runs"][0][8],
        leftovers(),
        world.one_release_everywhere(),
    )


def test_an_owner_stopped_in_the_middle_of_a_write_writes_nothing_once_another_took_the_run_over(
    world: World, baseline: None
) -> None:
    """The race on purpose: the owner's write of host 2's build result waits for a lock another session holds (as
    a slow or stuck database would make it), on one of the owner's store threads; the owner is then SIGSTOPped, its
    lease runs out, another process takes the run over and repairs it, and the owner is resumed: the write it had
    in flight is refused (the fence is part of the statement, checked when it runs), and nothing after it is
    written or done.

    PostgreSQL: the other session locks ``host_steps``, the owner's INSERT waits inside the server, and the lock is
    held through the takeover (released earlier, the server would run the stopped owner's statement at once).
    SQLite: the other session holds the file's write lock (``BEGIN IMMEDIATE``; SQLite locks no less than the
    file), the owner's statement waits in its own process (SQLite's busy handler), and the lock goes before the
    takeover, which needs it: the stopped owner tries again only once it is resumed."""
    live = world.one_release_everywhere()
    building = world.slow(2, "BUILD")
    proc = world.start("deploy", "staging", "feature/new-login")
    locker = world.store()
    try:
        wait_for(building.exists, what="the slow build")
        if world.database_url is None:
            with locker.db.transaction() as tx:
                tx.execute("SELECT 1")  # BEGIN IMMEDIATE is in force: no other writer until it ends
                world.calm()
                end_sleeps()  # host 2's build answers: its result is written, and waits for the lock
                wait_for(lambda: store_thread_waiting(proc.pid), what="the owner's write waiting on the lock")
                proc.send_signal(signal.SIGSTOP)
            run_id, repaired = take_over(world)
        else:
            with locker.db.engine.connect() as conn, conn.begin():
                conn.exec_driver_sql("LOCK TABLE host_steps IN EXCLUSIVE MODE")
                world.calm()
                end_sleeps()
                wait_for(lambda: waiting_writes(locker.db) == 1, what="the owner's write waiting on the lock")
                proc.send_signal(signal.SIGSTOP)
                run_id, repaired = take_over(world)
        # the lock is gone
        proc.send_signal(signal.SIGCONT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.send_signal(signal.SIGCONT)
        locker.close()
        if proc.returncode is None:  # the test failed before the owner ended: it must not outlive the test
            kill(proc)
    assert 1 == proc.returncode, err
    assert "lost its lease" in err
    assert repaired == (snapshot(world, run_id), journals(world), [world.releases(i) for i in range(3)])
    assert ("interrupted", live, []) == (repaired[0]["runs"][0][8], world.one_release_everywhere(), leftovers())


Repaired = tuple[dict[str, list[tuple[object, ...]]], list[str], list[list[str]]]


def take_over(world: World) -> tuple[str, Repaired]:
    """Past the stopped owner's lease, ``shipbot recover`` takes the run over and repairs it: the run, and what
    the store and the hosts hold then."""
    time.sleep(TTL * 1.5)
    recovered = world.shipbot("recover", "staging")
    assert 0 == recovered.returncode, recovered.stdout + recovered.stderr
    run_id = newest_run(world)
    return run_id, (snapshot(world, run_id), journals(world), [world.releases(i) for i in range(3)])


def store_thread_waiting(pid: int) -> bool:
    """Whether a thread of ``pid`` sleeps in SQLite's busy handler (the only sleeper in a ``shipbot`` process: its
    event loop waits in epoll, its idle store threads on a futex)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            if "nanosleep" in (task / "wchan").read_text():
                return True
    return False


def waiting_writes(db: Database) -> int:
    """Statements writing ``host_steps`` that wait for a lock, in any session."""
    rows = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO host_steps%'"
    ).fetchall()
    return int(rows[0][0])


def kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.communicate(timeout=60)


def test_a_repair_longer_than_the_ttl_keeps_its_lease_and_no_second_repairer_takes_it_over(
    world: World, baseline: None
) -> None:
    """The deploy is killed while host 2 restarts; the repair switches host 2 back and restarts it there, slowly
    (longer than two TTLs): a second ``shipbot recover`` meanwhile finds the run held, and restarts nothing."""
    live = world.one_release_everywhere()
    restarting = world.slow(2, "RESTART")
    proc = world.start("deploy", "staging", "feature/new-login")
    wait_for(restarting.exists, what="host 2's restart")
    kill(proc)
    restarting.unlink()
    before = restarts(world)[2].count("\n")
    first = world.start("recover", "staging")
    try:
        wait_for(restarting.exists, what="the repair's restart on host 2")
        time.sleep(TTL * 2.5)  # without its heartbeat, the repair's lease would have run out twice
        second = world.shipbot("recover", "staging")
        assert 3 == second.returncode, second.stdout + second.stderr
        assert "still running" in second.stdout
        assert 1 == restarts(world)[2].count("\n") - before, "host 2 was restarted by one repairer only"
    finally:
        world.calm()
        end_sleeps()  # the slow restart fails: the first repair leaves the run for the next one
        out, err = first.communicate(timeout=120)
    again = world.shipbot("recover", "staging")
    assert 0 == again.returncode, out + err + again.stdout + again.stderr
    assert (live, []) == (world.one_release_everywhere(), leftovers())


def test_a_deploy_run_right_after_a_killed_one_repairs_it_and_goes_on_without_waiting_for_its_lease(
    world: World, baseline: None
) -> None:
    """With a one-minute lease: the killed process is gone from this machine, so its lease is dead at once."""
    env = {**world.env(), "SHIPBOT_LEASE_TTL": "60"}
    building = world.slow(2, "BUILD")
    proc = subprocess.Popen([SHIPBOT, "deploy", "staging", "feature/new-login"], cwd=world.cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(building.exists, what="the slow build")
    killed = newest_run(world)
    kill(proc)
    world.calm()
    began = time.monotonic()
    again = subprocess.run([SHIPBOT, "deploy", "staging", "main"], cwd=world.cwd, env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    took = time.monotonic() - began
    assert 0 == again.returncode, again.stdout + again.stderr
    assert f"run {killed} was interrupted; repairing it first: interrupted, repaired" in again.stderr
    assert ("busy" not in again.stderr, took < 60, []) == (True, True, leftovers())
    world.one_release_everywhere()


def test_an_owner_that_stopped_answering_is_named_with_when_its_run_is_taken_over(world: World, baseline: None) -> None:
    """The owner is stopped; its lease (one minute) is aged by 40 s, as 40 s of being stopped would: it missed its
    heartbeats and has 20 s left. A deploy is told so, and when the run will be taken over."""
    env = {**world.env(), "SHIPBOT_LEASE_TTL": "60"}
    building = world.slow(2, "BUILD")
    proc = subprocess.Popen([SHIPBOT, "deploy", "staging", "feature/new-login"], cwd=world.cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(building.exists, what="the slow build")
        proc.send_signal(signal.SIGSTOP)
        store = world.store()
        try:
            store.db.execute("UPDATE leases SET heartbeat_at = heartbeat_at - 40, expires_at = expires_at - 40")
        finally:
            store.close()
        busy = subprocess.run([SHIPBOT, "deploy", "staging", "main"], cwd=world.cwd, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGCONT)
        world.calm()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert 3 == busy.returncode, busy.stdout + busy.stderr
    assert re.search(r"staging is held by run \S+ \(.*\), whose controller stopped answering \d+s ago; the run is "
                     r"taken over and repaired at \d\d:\d\d:\d\d UTC \(in \d+s\)", busy.stderr), busy.stderr  # fmt: skip
    assert "is deploying" not in busy.stderr
    back = world.shipbot("deploy", "staging", "main")
    assert 0 == back.returncode, back.stderr
    assert [] == leftovers()
