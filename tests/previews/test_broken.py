"""An update that fails and cannot go back: on a real sshd host behind a real nginx, a push whose build loses the
release the preview ran (so the switch back finds nothing to switch to) and whose app does not start. Nothing more
is deleted, the preview is ``broken`` in chat, in ``previews`` and in its JSON; the next push rebuilds it from
scratch, and teardown (or the TTL) removes it as any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.preview_blocks import render_preview, render_preview_notice
from commands.command import ListPreviews, Teardown
from commands.replies import PreviewRemoved, PreviewsListed
from tests.commands.fakes import Clock
from tests.previews.conftest import DOMAIN, PreviewWorld, WorldFactory, processes_under
from tests.previews.test_service import Said, nothing_left, service_for

pytestmark = pytest.mark.sshd

HOST = f"demo-xyz.{DOMAIN}"
SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
# a build that deletes every other release of the preview (a disk that lost them), and an app that cannot start
LOSES_THE_OLD_RELEASE = {
    "build.sh": '#!/bin/sh\nfor r in ../*; do [ "$r" = "../${PWD##*/}" ] || rm -rf "$r"; done\necho built > BUILT\n',
    "BROKEN": "this version does not start\n",
}


def releases(w: PreviewWorld, name: str = "demo-xyz") -> list[str]:
    folder = w.folder(name) / "releases"
    return sorted(p.name for p in folder.iterdir())


def previews_json(w: PreviewWorld, tmp_path: Path) -> list[dict[str, Any]]:
    """``shipbot previews --json``, run as an operator would on the world's config and data dir."""
    config = tmp_path / "shipbot.yml"
    config.write_text(yaml.safe_dump(w.config))
    env = {k: v for k, v in os.environ.items() if k != "SHIPBOT_DATABASE_URL"}
    done = subprocess.run(
        [SHIPBOT, "previews", "--json", "--config", str(config), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert 0 == done.returncode, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


async def test_a_failed_switch_back_marks_the_preview_broken_and_the_next_push_rebuilds_it(
    preview_world: WorldFactory, tmp_path: Path
) -> None:
    w = await preview_world(channel="C0DEPLOY")
    said = Said()
    service = service_for(w.previews, said, Clock(time.time()))
    first = w.repo.sha("demo/xyz")
    await service.preview_pushed("shop", "demo/xyz", first, "ada")
    assert (200, f"{first}\n") == await w.nginx.page(HOST)
    bad = w.push("demo/xyz", "bad", LOSES_THE_OLD_RELEASE)

    await service.preview_pushed("shop", "demo/xyz", bad, "bob")

    assert ["live", "broken"] == said.kinds()
    notice = said.notices[1]
    assert "restart failed" in notice.message and "cannot start: BROKEN" in notice.message
    assert "Then going back failed" in notice.message and "switching back to release" in notice.message
    assert notice.info is not None and "broken" == notice.info.state
    shown = str(render_preview_notice(notice).blocks)
    assert "is *broken*" in shown and "The next push to `demo/xyz` rebuilds it from scratch" in shown
    # the release the failed update made is still there: going back stopped before deleting anything
    kept = releases(w)
    assert 1 == len(kept)
    assert (w.folder("demo-xyz") / "releases" / kept[0] / "BROKEN").exists()
    listed = await service.listing(ListPreviews())
    assert isinstance(listed, PreviewsListed)
    assert ["broken"] == [p.state for p in listed.previews]
    assert "*broken*: the next push rebuilds it" in str(render_preview(listed).blocks)
    assert [("demo/xyz", "broken", first)] == [(p["branch"], p["state"], p["sha"]) for p in previews_json(w, tmp_path)]

    w.repo.checkout("demo/xyz")
    w.repo.git("rm", "--quiet", "BROKEN")
    fixed = w.repo.commit("fixed", {"build.sh": "#!/bin/sh\necho built > BUILT\n"})
    w.repo.checkout("main")
    await service.preview_pushed("shop", "demo/xyz", fixed, "ada")

    assert ["live", "broken", "live"] == said.kinds(), said.notices[-1].message  # made again, not "updated"
    assert (200, f"{fixed}\n") == await w.nginx.page(HOST)
    again = releases(w)
    assert 1 == len(again) and kept != again, "rebuilt from scratch: the broken release is gone"
    assert 1 == len(processes_under(w.folder("demo-xyz")))
    assert ["live"] == [p.state for p in await w.previews.all_previews()]
    await service.preview_deleted("shop", "demo/xyz", "ada")
    nothing_left(w)


async def test_a_broken_preview_is_torn_down_as_any_other(preview_world: WorldFactory) -> None:
    w = await preview_world(channel="C0DEPLOY")
    said = Said()
    service = service_for(w.previews, said, Clock(time.time()))
    await service.preview_pushed("shop", "demo/xyz", w.repo.sha("demo/xyz"), "ada")
    await service.preview_pushed("shop", "demo/xyz", w.push("demo/xyz", "bad", LOSES_THE_OLD_RELEASE), "bob")
    assert ["live", "broken"] == said.kinds()

    gone = await service.teardown(Teardown("demo/xyz"), "U0ADMIN", "C0DEPLOY")

    assert isinstance(gone, PreviewRemoved) and "broken" == gone.info.state
    assert [] == await w.previews.all_previews()
    nothing_left(w)
