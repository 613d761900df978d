"""Previews in chat through the real bolt app and the Slack emulator: ``preview``, ``previews``, ``teardown``, and the
bot's own timer removing a preview past its time to live; each reached through a real nginx on a real sshd host."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import StackFactory, dump, stack  # noqa: F401 (the stack fixture)
from tests.previews.conftest import DOMAIN, RESTART, Nginx, processes_under
from tests.support.gitrepo import GitRepo
from tests.support.ports import free_range

pytestmark = pytest.mark.sshd

HOST = f"demo-xyz.{DOMAIN}"


def with_previews(nginx: Nginx, **keys: Any) -> Any:
    first, last = free_range(3)

    def edit(data: dict[str, Any]) -> None:
        data["previews"] = {
            "branches": "demo/*",
            "hosts": [dict(data["environments"]["staging"]["hosts"][0])],
            "domain": DOMAIN,
            "ports": f"{first}-{last}",
            "nginx": nginx.preview_nginx(),
            "channel": "C0DEPLOY",
            **keys,
        }

    return edit


def demo_branch(repo: GitRepo) -> str:
    repo.branch("demo/xyz")
    sha = repo.commit("demo change", {"VERSION": "demo\n"})
    repo.checkout("main")
    return sha


PIPELINE = {"build": ["./build.sh"], "restart": RESTART}


async def test_preview_previews_and_teardown_in_chat(stack: StackFactory, nginx: Nginx, app_repo: GitRepo) -> None:  # noqa: F811
    sha = demo_branch(app_repo)
    s = await stack(hosts=2, pipeline=PIPELINE, edit=with_previews(nginx))
    folder = s.fleet.hosts[0].local_deploy_to / "previews" / "demo-xyz"

    await s.say("alice", "preview demo/xyz")

    started = await s.bot_message(lambda m: ":hammer_and_wrench:" in str(m.blocks))
    assert HOST in str(started.blocks)
    live = await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "preview" in m.text, 60)
    assert f"http://{HOST}/" in str(live.blocks)
    assert (200, f"{sha}\n") == await nginx.page(HOST)

    await s.say("bob", "previews")
    listed = await s.bot_message(lambda m: m.text == "previews")
    assert HOST in str(listed.blocks) and "demo/xyz" in str(listed.blocks) and sha[:7] in str(listed.blocks)

    await s.say("bob", "teardown demo/xyz")

    await s.bot_message(lambda m: ":wastebasket:" in str(m.blocks), 30)
    assert [] == nginx.blocks(), await dump(s.emu)
    assert not folder.exists()
    assert [] == processes_under(s.fleet.hosts[0].local_deploy_to)
    assert 404 == await nginx.status_soon(HOST, 404)


async def test_a_bad_branch_in_chat_is_refused_with_a_reason(stack: StackFactory, nginx: Nginx) -> None:  # noqa: F811
    s = await stack(hosts=2, pipeline=PIPELINE, edit=with_previews(nginx))

    await s.say("alice", "preview demo/café")

    refusal = await s.emu.wait_for(lambda m: m.ephemeral_to == "U0ALICE")
    assert "ASCII" in refusal.text
    assert [] == nginx.blocks()
    assert not (s.fleet.hosts[0].local_deploy_to / "previews").exists()


async def test_the_bot_removes_a_preview_past_its_ttl(stack: StackFactory, nginx: Nginx, app_repo: GitRepo) -> None:  # noqa: F811
    demo_branch(app_repo)
    s = await stack(hosts=2, pipeline=PIPELINE, edit=with_previews(nginx, ttl="3s"))

    await s.say("alice", "preview demo/xyz")
    await s.bot_message(lambda m: ":large_green_circle:" in str(m.blocks) and "preview" in m.text, 60)

    gone = await s.bot_message(lambda m: ":wastebasket:" in str(m.blocks), 30)

    assert "no push for 3.0s" in str(gone.blocks)
    assert [] == nginx.blocks()
    assert not (s.fleet.hosts[0].local_deploy_to / "previews" / "demo-xyz").exists()
    assert [] == processes_under(s.fleet.hosts[0].local_deploy_to)
