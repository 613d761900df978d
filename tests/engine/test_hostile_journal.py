"""Done when: a deploy that fails after a host's journal was written by a user or commit author named like one of
shipbot's markers (the old ``--- shipbot-preamble-end``, the framed ``shipbot-preamble-end-<nonce>``, the listing's
own) leaves ``current`` on every host resolving to the release it had before; real sshd hosts, real git, the engine
as the CLI and the bot drive it."""

from __future__ import annotations

import json
import os

import pytest

from deploy.events import HostState, Outcome
from deploy.hosts import framing, journal, listing
from tests.engine.conftest import EngineFactory
from tests.support.gitrepo import GitRepo

pytestmark = pytest.mark.sshd

MARKED = "--- shipbot-preamble-end"
FOREIGN = framing.new()
NAMES = [MARKED, FOREIGN.preamble_end, f"x\n{MARKED}\n-\n-", *listing.markers(FOREIGN), "shipbot-listing-end"]


async def test_a_failed_deploy_after_marker_named_journal_lines_puts_every_host_back(
    make_engine: EngineFactory, app_repo: GitRepo
) -> None:
    engine, fleet = await make_engine(hosts=3)
    good = await engine.deploy("staging", "main", user=MARKED)  # written by shipbot itself: escaped
    assert Outcome.SUCCESS == good.outcome, good.message
    release = str(good.hosts[0].release)
    for host in fleet.hosts:  # lines as an older shipbot wrote them (not escaped), and hand-written ones
        log = host.local_deploy_to / ".shipbot" / "journal.jsonl"
        old = [json.dumps(journal.Entry("2026-01-01T00:00:00Z", "deploy", "r0old", name, app_repo.sha("main"),
                                        release, None, "success").__dict__) for name in NAMES]  # fmt: skip
        with log.open("a") as f:
            f.write("\n".join([*old, *(n.replace("\n", " ") for n in NAMES)]) + "\n")

    failed = await engine.deploy("staging", "broken-health", user=FOREIGN.preamble_end)

    assert Outcome.FAILED == failed.outcome and "healthcheck failed" in failed.message, failed.message
    assert [HostState.REVERTED] * 3 == [h.state for h in failed.hosts]
    for host in fleet.hosts:
        current = host.local_deploy_to / "current"
        assert (f"releases/{release}", app_repo.sha("main")) == (
            os.readlink(current), (current / "REVISION").read_text().strip()
        )  # fmt: skip
    entries = journal.parse((fleet.hosts[0].local_deploy_to / ".shipbot" / "journal.jsonl").read_text())
    assert [MARKED, FOREIGN.preamble_end] == [e.user for e in entries if e.run in (good.run_id, failed.run_id)]


async def test_a_failed_first_deploy_leaves_no_current_because_each_hosts_journal_says_it_had_none(
    make_engine: EngineFactory,
) -> None:
    engine, fleet = await make_engine(hosts=2)
    failed = await engine.deploy("staging", "broken-health", user=MARKED)
    assert Outcome.FAILED == failed.outcome, failed.message
    assert [HostState.REVERTED] * 2 == [h.state for h in failed.hosts]
    assert [False, False] == [(h.local_deploy_to / "current").is_symlink() for h in fleet.hosts]
