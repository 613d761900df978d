"""A lease whose owner is a process on this machine that no longer exists is dead at once, without waiting for the
TTL; one whose owner is alive (running or stopped), or that was taken elsewhere (another host, boot or pid
namespace), is judged by the TTL alone. Real child processes, SIGKILLed and SIGSTOPped; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from deploy.store import leases
from deploy.store.leases import Lease
from deploy.store.tables import Store
from tests.support.databases import other_process

ROOT = Path(__file__).parents[2]

OWNER = """
import sys, time
from deploy.store.database import Database
from deploy.records import RunRecord
from deploy.store.tables import Store

store = Store(Database(sys.argv[1]), lease_ttl=300.0)
store.start_run(RunRecord("r1", "deploy", "shop", "staging", "U0", "main", "0" * 40, "r", "running", time.time()), "x")
print("holding", flush=True)
time.sleep(600)
"""


@pytest.fixture
def owner(database_url: str) -> Iterator[subprocess.Popen[str]]:
    """A real process holding run r1's lease (a TTL of five minutes) and then doing nothing."""
    child = subprocess.Popen(
        [sys.executable, "-c", OWNER, database_url], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )  # fmt: skip
    assert child.stdout is not None and "holding" == child.stdout.readline().strip()
    yield child
    if child.poll() is None:
        child.send_signal(signal.SIGCONT)
        child.kill()
        child.communicate()


def test_a_lease_whose_owner_was_killed_on_this_machine_is_dead_at_once_and_taken_over(
    owner: subprocess.Popen[str], stores: Callable[[], Store]
) -> None:
    store = stores()
    alive = ([r.run_id for r in store.dead_runs()], store.lease_holder("r1") is not None)
    owner.kill()
    owner.communicate()
    shown = store.get_run("r1")
    assert (([], True), ["r1"], None, "interrupted") == (
        alive,
        [r.run_id for r in store.dead_runs()],
        store.lease_holder("r1"),
        shown.state if shown else None,
    )
    assert Lease("r1", store.owner, 2) == store.take_over("r1")
    assert store.owner == store.lease_holder("r1"), "the new owner, alive, holds it"


def test_a_stopped_owner_is_alive_until_its_lease_runs_out(
    owner: subprocess.Popen[str], stores: Callable[[], Store]
) -> None:
    store = stores()
    owner.send_signal(signal.SIGSTOP)
    assert ([], None) == ([r.run_id for r in store.dead_runs()], store.take_over("r1"))


@pytest.mark.parametrize("part", [0, 1, 2], ids=["another host", "another boot", "another pid namespace"])
def test_a_lease_taken_elsewhere_waits_for_its_ttl_even_when_the_pid_is_free_here(
    owner: subprocess.Popen[str], stores: Callable[[], Store], database_url: str, part: int
) -> None:
    """Containers on one host share its boot id but not their pids: a pid seen from another namespace says nothing."""
    store = stores()
    recorded = str(store.db.execute("SELECT process FROM leases WHERE run_id = 'r1'").fetchone()[0])  # type: ignore[index]
    fields = recorded.split(" ")
    fields[part] = "x" + fields[part]
    other_process(database_url, "UPDATE leases SET process = ? WHERE run_id = 'r1'", " ".join(fields))
    owner.kill()
    owner.communicate()
    assert ([], store.lease_holder("r1") is not None, None) == (
        [r.run_id for r in store.dead_runs()],
        True,
        store.take_over("r1"),
    )


def test_a_pid_reused_by_another_process_counts_as_gone() -> None:
    me = leases.this_process()
    host, boot, namespace, pid, started = me.split(" ")
    assert (str(os.getpid()), False) == (pid, leases.gone(me))
    assert leases.gone(" ".join([host, boot, namespace, pid, str(int(started) + 1)]))


@given(st.text(max_size=200))
def test_any_recorded_process_text_is_judged_without_error_and_only_this_machine_can_be_gone(text: str) -> None:
    """What another process (another release, another machine) wrote in the column: never an error, and never dead
    at once unless it names this machine (host, boot id and pid namespace)."""
    machine = " ".join(leases.this_process().split(" ")[:3])
    assert leases.gone(text) is False or text.startswith(machine + " ")


@given(st.integers(min_value=1, max_value=2**22), st.text(alphabet="0123456789", min_size=1, max_size=12))
def test_a_recorded_process_of_this_machine_is_gone_exactly_when_no_such_process_started_then(
    pid: int, started: str
) -> None:
    machine = " ".join(leases.this_process().split(" ")[:3])

    def running() -> bool:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            return False
        return len(fields) > 19 and fields[0] not in ("Z", "X") and fields[19] == started

    before = running()
    judged = leases.gone(f"{machine} {pid} {started}")
    assume(before == running())  # no process came or went with that pid meanwhile
    assert judged is not before
