"""The controller's mirror, as pushes use it: tags in version order, and a full commit id it already has answered
without fetching (a burst of pushes does not fetch once each). Real git."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deploy.delivery.mirror import Mirror
from deploy.errors import RefNotFound
from tests.support.gitrepo import GitRepo


async def test_tags_come_highest_version_first(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("one", {"a": "1"})
    for tag in ("v1.9.0", "v1.10.0", "v1.2.0", "nightly"):
        repo.git("tag", tag)
    mirror = Mirror(str(repo.path), tmp_path / "data", "shop")
    assert ["v1.10.0", "v1.9.0", "v1.2.0", "nightly"] == await mirror.tags()


async def test_a_known_full_commit_id_resolves_without_fetching(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit("one", {"a": "1"})
    mirror = Mirror(str(repo.path), tmp_path / "data", "shop")
    assert first == await mirror.resolve("main")
    later = repo.commit("two", {"a": "2"})
    shutil.move(repo.path, tmp_path / "gone")  # the repository cannot be fetched any more
    assert first == await mirror.resolve(first)
    with pytest.raises(Exception, match="cannot fetch"):
        await mirror.resolve(later)  # an unknown commit still needs a fetch
    shutil.move(tmp_path / "gone", repo.path)
    assert later == await mirror.resolve(later)
    with pytest.raises(RefNotFound):
        await mirror.resolve("f" * 40)
