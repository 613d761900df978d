"""Flag changes on real sshd hosts: recorded in the store, the flagd file written on every host (valid against
flagd's schema, read by the real flagd provider), a host that was down caught up by the next write, a hand-edited
file reported as drift and replaced."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.config.models import parse_config
from deploy.flags.app_flags import AppFlags
from deploy.flags.flag_defs import FlagDef, digest
from deploy.flags.flag_store import FlagStore
from deploy.fleet.members import Fleets
from deploy.hosts.ssh import SshConnector
from deploy.store.database import Database
from deploy.store.tables import Store
from tests.flags.support import evaluate, validator
from tests.support.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.sshd


async def flags_on(tmp_path: Path, sshd_fleet: FleetFactory, hosts: int = 2) -> tuple[AppFlags, SshdFleet]:
    fleet = await sshd_fleet(hosts)
    config = parse_config(fleet.config_yaml(), "test.yml")
    store = Store.in_data_dir(tmp_path / "data")
    return AppFlags(config, store, Fleets(config, store), lambda: SshConnector(config.ssh)), fleet


def label(fleet: SshdFleet, i: int) -> str:
    return f"{fleet.hosts[i].address}:{fleet.hosts[i].port}"


def files(fleet: SshdFleet) -> list[Path]:
    return [h.local_deploy_to / "shared" / "flags.json" for h in fleet.hosts]


async def test_on_then_off_reaches_every_host_and_the_flagd_provider(tmp_path: Path, sshd_fleet: FleetFactory) -> None:
    flags, fleet = await flags_on(tmp_path, sshd_fleet)
    changed = await flags.change("staging", "new-checkout", lambda _: FlagDef(1000), actor="U0ALICE", source="cli",
                                 action="on")  # fmt: skip
    assert (changed.written.behind, changed.change.before, changed.change.version) == ((), None, 1)
    for path in files(fleet):
        doc = json.loads(path.read_bytes())
        assert list(validator().iter_errors(doc)) == []
        assert doc["metadata"] == {"flagSetId": "shop/staging", "version": "1"}
        assert digest(path.read_bytes()) == changed.written.sha256
        assert evaluate(path, "new-checkout", ["U1", "U2"]) == [True, True]
    await flags.change("staging", "new-checkout", lambda _: FlagDef(0), actor="U0BOB", source="chat", action="off")
    assert [evaluate(p, "new-checkout", ["U1"]) for p in files(fleet)] == [[False], [False]]
    listing = await flags.listing("staging")
    assert (listing.version, listing.current, len(listing.files)) == (2, 2, 2)


async def test_a_host_that_was_down_is_behind_then_caught_up_and_a_hand_edit_is_drift(
    tmp_path: Path, sshd_fleet: FleetFactory
) -> None:
    flags, fleet = await flags_on(tmp_path, sshd_fleet)
    await flags.change("staging", "new-checkout", lambda _: FlagDef(100), actor="U0ALICE", source="cli", action="ramp")
    fleet.stop_host(1)
    changed = await flags.change("staging", "new-checkout", lambda _: FlagDef(200), actor="U0ALICE", source="cli",
                                 action="ramp")  # fmt: skip
    assert [h.host for h in changed.written.behind] == [label(fleet, 1)]
    assert (await flags.listing("staging")).current == 1
    fleet.start_host(1)
    caught = await flags.catch_up("staging")
    assert caught is not None and caught.behind == ()
    assert (await flags.listing("staging")).current == 2

    edited = files(fleet)[0]
    edited.write_text(edited.read_text().replace('"off"', '"on"'))
    by_hand = edited.read_text()
    assert (await flags.listing("staging")).current == 1
    caught = await flags.catch_up("staging")  # after a deploy: a hand edit is reported, and left for the next change
    assert caught is not None and [(h.host, h.drift) for h in caught.behind] == [(label(fleet, 0), True)]
    assert edited.read_text() == by_hand
    changed = await flags.change("staging", "new-checkout", lambda _: FlagDef(0), actor="U0BOB", source="chat",
                                 action="off")  # fmt: skip
    assert [h.host for h in changed.written.drifted] == [label(fleet, 0)]
    assert evaluate(edited, "new-checkout", ["U1"]) == [False]


def test_history_is_kept_for_every_change_and_versions_increase(databases: Callable[[], Database]) -> None:
    table = FlagStore(databases())
    table.change("shop", "staging", "a", lambda _: FlagDef(1000), actor="U1", source="chat", action="on")
    table.change("shop", "staging", "b", lambda _: FlagDef(100), actor="U2", source="cli", action="ramp", reason="x")
    change, flags = table.change(
        "shop", "staging", "a", lambda before: FlagDef(0) if before else FlagDef(5), actor="U1", source="chat",
        action="off",
    )  # fmt: skip
    assert (change.before, change.after, flags.version) == (FlagDef(1000), FlagDef(0), 3)
    assert flags.flags == {"a": FlagDef(0), "b": FlagDef(100)}
    assert [(c.version, c.actor, c.action, c.after) for c in table.history("shop", "a")] == [
        (3, "U1", "off", FlagDef(0)), (1, "U1", "on", FlagDef(1000))
    ]  # fmt: skip
    assert table.highest("shop", "staging", "a") == FlagDef(1000)
    assert table.before_last("shop", "staging", "a") == FlagDef(1000)
    assert table.flag_set("shop", "production").version == 0
