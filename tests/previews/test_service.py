"""The preview use case as a webhook adapter drives it (``preview_pushed``, ``preview_deleted``), as chat does
(``preview``, ``teardown``, ``previews``) and as the bot's timer does (``expire``), on a real sshd host behind a real
nginx; a restart keeps the previews and their time to live."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cli.engines import build_previews
from commands.access_config import policy_for
from commands.command import ListPreviews, Preview, Teardown
from commands.replies import PreviewNotice, PreviewRemoved, PreviewsListed, PreviewStarted, Refusal
from commands.usecases.permissions import Permissions
from commands.usecases.previews import PreviewService
from deploy.config.models import parse_config
from deploy.hosts.ssh import SshConnector
from deploy.previews.preview_runner import PreviewRunner
from deploy.run.engine import Engine
from deploy.store.tables import Store
from tests.commands.fakes import Clock, FakeGroups
from tests.previews.conftest import DOMAIN, PreviewWorld, WorldFactory, processes_under

pytestmark = pytest.mark.sshd

HOST = f"demo-xyz.{DOMAIN}"
ACCESS = {"admins": ["U0ADMIN"], "environments": {"staging": {"deploy": ["U0ALICE"]}}}


class Said:
    """The notices the service posts (what the bot would post in ``previews.channel``)."""

    def __init__(self) -> None:
        self.notices: list[PreviewNotice] = []

    async def __call__(self, notice: PreviewNotice) -> None:
        self.notices.append(notice)

    def kinds(self) -> list[str]:
        return [n.kind for n in self.notices]


def service_for(previews: PreviewRunner, said: Said, clock: Clock) -> PreviewService:
    permissions = Permissions({previews.config.app: policy_for(previews.config)}, FakeGroups(), clock)
    return PreviewService({previews.config.app: previews}, permissions, said, clock)


def nothing_left(w: PreviewWorld, name: str = "demo-xyz") -> None:
    assert [] == w.nginx.blocks()
    assert not w.folder(name).exists()
    assert [] == processes_under(w.fleet.hosts[0].local_deploy_to)


async def test_pushes_make_and_update_a_preview_and_deleting_the_branch_removes_it(
    preview_world: WorldFactory,
) -> None:
    w = await preview_world(channel="C0DEPLOY")
    said = Said()
    service = service_for(w.previews, said, Clock(time.time()))
    first = w.repo.sha("demo/xyz")

    await service.preview_pushed("shop", "demo/xyz", first, "ada")

    assert ["live"] == said.kinds()
    live = said.notices[0]
    assert ("C0DEPLOY", "ada") == (live.channel, live.by)
    assert live.info is not None and f"http://{HOST}/" == live.info.url
    assert (200, f"{first}\n") == await w.nginx.page(HOST)

    second = w.push("demo/xyz", "two")
    await service.preview_pushed("shop", "demo/xyz", second, "ada")

    assert ["live", "updated"] == said.kinds()
    updated = said.notices[1].info
    assert updated is not None and live.info.port == updated.port
    assert (200, f"{second}\n") == await w.nginx.page(HOST)

    await service.preview_deleted("shop", "demo/xyz", "ada")

    assert ["live", "updated", "removed"] == said.kinds()
    assert "branch deleted" == said.notices[2].message
    nothing_left(w)


async def test_pushes_of_other_branches_and_apps_are_ignored(preview_world: WorldFactory) -> None:
    w = await preview_world(channel="C0DEPLOY")
    said = Said()
    service = service_for(w.previews, said, Clock(time.time()))

    await service.preview_pushed("shop", "main", w.repo.sha("main"), "ada")
    await service.preview_pushed("billing", "demo/xyz", w.repo.sha("demo/xyz"), "ada")
    await service.preview_deleted("shop", "demo/none", "ada")

    assert [] == said.notices
    nothing_left(w)


async def test_a_bad_branch_pushed_is_refused_in_the_channel_and_nothing_runs(preview_world: WorldFactory) -> None:
    w = await preview_world(channel="C0DEPLOY")
    said = Said()
    service = service_for(w.previews, said, Clock(time.time()))

    await service.preview_pushed("shop", "demo/../x", w.repo.sha("main"), "ada")

    assert ["refused"] == said.kinds()
    assert "cannot get a preview" in said.notices[0].message
    nothing_left(w)


async def test_the_ttl_removes_a_preview_also_after_a_restart(preview_world: WorldFactory, tmp_path: Path) -> None:
    w = await preview_world(channel="C0DEPLOY", ttl="1h")
    said = Said()
    clock = Clock(time.time())
    await service_for(w.previews, said, clock).preview_pushed("shop", "demo/xyz", w.repo.sha("demo/xyz"), "ada")
    assert (200, f"{w.repo.sha('demo/xyz')}\n") == await w.nginx.page(HOST)

    # a new process: its own store connection and engine on the same data dir
    store = Store.in_data_dir(tmp_path / "data")
    engine = Engine(parse_config(w.config, "test.yml"), store, tmp_path / "data", SshConnector)
    previews = build_previews(engine, store)
    later = Clock(clock.now + 30 * 60)
    restarted = service_for(previews, said, later)
    await restarted.expire()
    assert ["live"] == said.kinds()  # 30 minutes: still there
    assert ["demo-xyz"] == [p.name for p in await previews.all_previews()]

    later.now = clock.now + 3600 + 120
    await restarted.expire()

    assert ["live", "removed"] == said.kinds()
    assert "no push for 1h00m" == said.notices[1].message
    nothing_left(w)
    assert [] == await previews.all_previews()


async def test_chat_preview_teardown_and_the_list(preview_world: WorldFactory) -> None:
    w = await preview_world(channel="C0DEPLOY", access=ACCESS)
    said = Said()
    clock = Clock(time.time())
    service = service_for(w.previews, said, clock)

    refused = await service.preview(Preview("demo/xyz"), "U0EVE", "C0DEPLOY")
    assert isinstance(refused, Refusal) and "may not make previews of shop" in refused.reason
    bad = await service.preview(Preview("demo/../x"), "U0ALICE", "C0DEPLOY")
    assert isinstance(bad, Refusal) and "cannot get a preview" in bad.reason

    started = await service.preview(Preview("demo/xyz"), "U0ALICE", "C0GENERAL")
    assert isinstance(started, PreviewStarted)
    assert (w.repo.sha("demo/xyz"), "demo-xyz", f"http://{HOST}/") == (started.sha, started.name, started.url)
    await service.settled()
    assert ["live"] == said.kinds()
    assert "C0GENERAL" == said.notices[0].channel  # said where it was asked

    clock.now += 7200
    listed = await service.listing(ListPreviews())
    assert isinstance(listed, PreviewsListed)
    assert [("demo-xyz", "demo/xyz")] == [(p.name, p.branch) for p in listed.previews]
    assert 7100 < listed.now - listed.previews[0].created_at < 7300  # its age

    assert isinstance(await service.teardown(Teardown("demo/xyz"), "U0EVE", "C0DEPLOY"), Refusal)
    gone = await service.teardown(Teardown("demo/xyz"), "U0ALICE", "C0DEPLOY")
    assert isinstance(gone, PreviewRemoved) and "teardown" == gone.why
    nothing_left(w)
    again = await service.teardown(Teardown("demo/xyz"), "U0ALICE", "C0DEPLOY")
    assert isinstance(again, Refusal) and "has no preview" in again.reason
