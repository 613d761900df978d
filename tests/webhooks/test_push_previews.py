"""Previews made by pushes, end to end through the running bot: a signed push of a ``demo/*`` branch to the webhook
server makes a preview reached through a real nginx by its host name, a later push updates it, and the branch's
deletion removes it; real sshd host, real git, the bolt app against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

import pytest

from tests.bot.conftest import StackFactory
from tests.previews.conftest import DOMAIN, RESTART, Nginx, processes_under
from tests.support.ports import free_range
from tests.webhooks.hooks import HOOKS, push
from tests.webhooks.test_push_deploys import until

pytestmark = pytest.mark.sshd
HOST = f"demo-xyz.{DOMAIN}"


async def test_a_pushed_demo_branch_gets_a_preview_updated_by_the_next_push_and_removed_with_the_branch(
    stack: StackFactory, nginx: Nginx
) -> None:
    first, last = free_range(3)

    def with_previews(data: dict[str, Any]) -> None:
        data["pipeline"]["restart"] = RESTART
        data["previews"] = {
            "branches": "demo/*", "hosts": [dict(data["environments"]["staging"]["hosts"][0])], "domain": DOMAIN,
            "ports": f"{first}-{last}", "ttl": "48h", "nginx": nginx.preview_nginx(), "channel": "C0DEPLOY",
        }  # fmt: skip

    s = await stack(hosts=1, settings=HOOKS, edit=with_previews)
    port, repo, deploy_to = s.running.webhook_port, str(s.repo.path), s.fleet.hosts[0].local_deploy_to
    assert port
    try:
        s.repo.branch("demo/xyz")
        one = s.repo.commit("demo change", {"VERSION": "demo\n"})
        s.repo.checkout("main")
        status, body = await push(port, "github", repo, "refs/heads/demo/xyz", one)
        assert 202 == status, body
        await until(lambda: bool(nginx.blocks()), 60, "the preview's server block")
        assert (200, one) == await page_with(nginx, one)
        await s.bot_message(lambda m: HOST in m.text)

        s.repo.checkout("demo/xyz")
        two = s.repo.commit("another demo change", {"VERSION": "demo 2\n"})
        s.repo.checkout("main")
        assert 202 == (await push(port, "github", repo, "refs/heads/demo/xyz", two))[0]
        assert (200, two) == await page_with(nginx, two, 60)

        assert 202 == (await push(port, "github", repo, "refs/heads/demo/xyz", "0" * 40))[0]
        gone = lambda: not nginx.blocks() and not (deploy_to / "previews" / "demo-xyz").exists()  # noqa: E731
        listed = lambda: [p.name for p in s.store.previews.of_app("shop")]  # noqa: E731
        await until(lambda: gone() and not listed(), 60, "removal, on the host and from the list of previews")
        assert [] == processes_under(deploy_to)
    finally:
        for pid in processes_under(deploy_to):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def page_with(nginx: Nginx, sha: str, within: float = 30.0) -> tuple[int, str]:
    """(status, the SHA the page shows) once the preview answers with ``sha`` through nginx (or what it last showed)."""
    deadline = asyncio.get_running_loop().time() + within
    status, text = await nginx.page(HOST)
    while text.strip() != sha and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        status, text = await nginx.page(HOST)
    return status, text.strip()
