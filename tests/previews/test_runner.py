"""A preview made, reached through a real nginx by its host name, updated by a second push, and removed, on a real
sshd host from a real git repository; and the refusals that leave the host untouched."""

from __future__ import annotations

import asyncio

import pytest

from deploy.previews.layout import PreviewRefused
from deploy.previews.preview_runner import PreviewFailed
from tests.previews.conftest import DOMAIN, WorldFactory, processes_under

pytestmark = pytest.mark.sshd

HOST = f"demo-xyz.{DOMAIN}"


async def test_a_preview_is_served_through_nginx_updated_in_place_and_torn_down(preview_world: WorldFactory) -> None:
    w = await preview_world()
    runner = w.previews
    first = w.repo.sha("demo/xyz")

    made = await runner.up("demo/xyz", first, "alice")

    assert made.created
    assert f"http://{HOST}/" == made.info.url
    assert (200, f"{first}\n") == await w.nginx.page(HOST)
    assert ["shop.demo-xyz.conf"] == w.nginx.blocks()
    assert (w.folder("demo-xyz") / "current" / "REVISION").read_text().strip() == first
    assert (w.folder("demo-xyz") / "current" / "BUILT").exists()  # built by pipeline.build
    assert (w.folder("demo-xyz") / "current" / "log").is_symlink()  # shared dirs linked

    second = w.push("demo/xyz", "second")
    updated = await runner.up("demo/xyz", second, "bob")

    assert not updated.created
    assert made.info.port == updated.info.port
    assert "demo-xyz" == updated.info.name
    assert (200, f"{second}\n") == await w.nginx.page(HOST)
    assert 1 == len(processes_under(w.folder("demo-xyz")))  # the old app was stopped

    gone = await runner.down("demo/xyz", "bob")

    assert gone is not None and "demo-xyz" == gone.name
    assert [] == w.nginx.blocks()
    assert not w.folder("demo-xyz").exists()
    assert [] == processes_under(w.fleet.hosts[0].local_deploy_to)
    assert 404 == await w.nginx.status_soon(HOST, 404)
    assert [] == await runner.all_previews()
    assert await runner.down("demo/xyz", "bob") is None


async def test_the_same_push_twice_changes_nothing(preview_world: WorldFactory) -> None:
    w = await preview_world()
    sha = w.repo.sha("demo/xyz")
    await w.previews.up("demo/xyz", sha, "alice")

    again = await w.previews.up("demo/xyz", sha, "alice")

    assert again.unchanged
    assert 1 == len(list((w.folder("demo-xyz") / "releases").iterdir()))
    await w.previews.down("demo/xyz", "alice")


async def test_a_full_port_range_is_refused_and_nothing_runs(preview_world: WorldFactory) -> None:
    w = await preview_world(ports=1)
    w.repo.branch("demo/other")
    w.repo.checkout("main")
    await w.previews.up("demo/xyz", w.repo.sha("demo/xyz"), "alice")

    with pytest.raises(PreviewRefused, match="no free port"):
        await w.previews.up("demo/other", w.repo.sha("demo/other"), "alice")

    assert ["shop.demo-xyz.conf"] == w.nginx.blocks()
    assert not w.folder("demo-other").exists()
    assert ["demo-xyz"] == [p.name for p in await w.previews.all_previews()]
    await w.previews.down("demo/xyz", "alice")


async def test_nginx_rejecting_the_block_leaves_nothing_behind(preview_world: WorldFactory) -> None:
    w = await preview_world(nginx={"extra": ["no_such_directive on;"]})

    with pytest.raises(PreviewRefused, match="nginx on .* rejected") as refused:
        await w.previews.up("demo/xyz", w.repo.sha("demo/xyz"), "alice")

    assert "no_such_directive" in str(refused.value)  # nginx's own words
    assert [] == w.nginx.blocks()
    assert not (w.fleet.hosts[0].local_deploy_to / "previews").exists()
    assert [] == await w.previews.all_previews()
    assert 404 == (await w.nginx.get(HOST))[0]


async def test_bad_branch_names_are_refused_before_anything_runs(preview_world: WorldFactory) -> None:
    w = await preview_world()

    for branch in ["demo/../x", "demo/" + "x" * 300, "demo/café", "___", ""]:
        with pytest.raises(PreviewRefused, match="cannot get a preview"):
            await w.previews.up(branch, w.repo.sha("main"), "alice")

    assert [] == w.nginx.blocks()
    assert not (w.fleet.hosts[0].local_deploy_to / "previews").exists()
    assert [] == await w.previews.all_previews()


async def test_a_new_preview_that_fails_its_health_check_leaves_nothing(preview_world: WorldFactory) -> None:
    w = await preview_world(
        health_path="/missing", pipeline={"healthcheck": {"run": "true", "retries": 3, "interval": "0.2s"}}
    )

    with pytest.raises(PreviewFailed, match="health through nginx failed"):
        await w.previews.up("demo/xyz", w.repo.sha("demo/xyz"), "alice")

    assert [] == w.nginx.blocks()
    assert not w.folder("demo-xyz").exists()
    await asyncio.sleep(0.2)
    assert [] == processes_under(w.fleet.hosts[0].local_deploy_to)
    assert [] == await w.previews.all_previews()


async def test_an_update_that_fails_goes_back_to_the_release_it_had(preview_world: WorldFactory) -> None:
    w = await preview_world()
    first = w.repo.sha("demo/xyz")
    made = await w.previews.up("demo/xyz", first, "alice")

    broken = w.push("demo/xyz", "broken", {"BROKEN": "yes\n"})
    with pytest.raises(PreviewFailed, match="restart failed: .*cannot start: BROKEN"):
        await w.previews.up("demo/xyz", broken, "bob")

    assert (200, f"{first}\n") == await w.nginx.page(HOST)  # the old release serves again
    assert 1 == len(list((w.folder("demo-xyz") / "releases").iterdir()))
    still = await w.previews.find("demo/xyz")
    assert still is not None and (first, made.info.port) == (still.sha, still.port)
    await w.previews.down("demo/xyz", "bob")


async def test_a_build_that_fails_leaves_a_new_preview_with_nothing(preview_world: WorldFactory) -> None:
    w = await preview_world()
    sha = w.push("demo/xyz", "no build", {"build.sh": "#!/bin/sh\necho compile error >&2\nexit 2\n"})

    with pytest.raises(PreviewFailed, match="build failed: exit status 2"):
        await w.previews.up("demo/xyz", sha, "alice")

    assert [] == w.nginx.blocks()
    assert not w.folder("demo-xyz").exists()
    assert [] == await w.previews.all_previews()


async def test_the_operators_stop_command_runs_with_the_port(preview_world: WorldFactory) -> None:
    w = await preview_world(stop='echo "stopping $SHIPBOT_PORT" >> ../../../stops.log')
    made = await w.previews.up("demo/xyz", w.repo.sha("demo/xyz"), "alice")
    await w.previews.up("demo/xyz", w.push("demo/xyz", "two"), "alice")

    await w.previews.down("demo/xyz", "alice")

    log = (w.fleet.hosts[0].local_deploy_to / "previews" / "stops.log").read_text()
    assert [f"stopping {made.info.port}"] * 2 == log.splitlines()  # before the update, and on teardown
    assert [] == w.nginx.blocks()
    assert not w.folder("demo-xyz").exists()
    assert [] == processes_under(w.fleet.hosts[0].local_deploy_to)
