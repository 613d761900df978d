"""The compare page of two commits, from the config's ``repo`` (pure)."""

from __future__ import annotations

import pytest

from deploy.delivery.compare import compare_url

A, B = "1" * 40, "2" * 40


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        ("git@github.com:acme/shop.git", f"https://github.com/acme/shop/compare/{A}...{B}"),
        ("https://github.com/acme/shop.git", f"https://github.com/acme/shop/compare/{A}...{B}"),
        ("https://github.com/acme/shop", f"https://github.com/acme/shop/compare/{A}...{B}"),
        ("ssh://git@github.com/acme/shop.git", f"https://github.com/acme/shop/compare/{A}...{B}"),
        ("https://token@github.com/acme/shop.git/", f"https://github.com/acme/shop/compare/{A}...{B}"),
        ("git@gitlab.com:acme/shop.git", f"https://gitlab.com/acme/shop/-/compare/{A}...{B}"),
        ("https://gitlab.com/acme/platform/shop.git", f"https://gitlab.com/acme/platform/shop/-/compare/{A}...{B}"),
        (
            "ssh://git@gitlab.example.org:2222/acme/shop.git",
            f"https://gitlab.example.org/acme/shop/-/compare/{A}...{B}",
        ),
        ("git@git.example.org:acme/shop.git", f"https://git.example.org/acme/shop/compare/{A}...{B}"),
        ("https://codeberg.org/acme/shop.git", f"https://codeberg.org/acme/shop/compare/{A}...{B}"),
        # no web page: local paths, file URLs, short host names, paths that are not OWNER/NAME
        ("/srv/git/shop.git", None),
        ("file:///srv/git/shop.git", None),
        ("../shop.git", None),
        ("git@gitserver:acme/shop.git", None),
        ("https://github.com/shop.git", None),
        ("https://github.com/acme/sub/shop.git", None),
        ("https://git.example.org/acme/sub/shop", None),
        ("git://github.com/acme/shop.git", None),
        ("https://github.com/acme/sh%20op.git", None),
        ("https://github.com/acme/../shop.git", None),
    ],
)
def test_compare_pages_by_host(repo: str, expected: str | None) -> None:
    assert compare_url(repo, A, B) == expected


@pytest.mark.parametrize(("old", "new"), [("", B), (A, "main"), (A, "<script>"), ("x" * 40, B)])
def test_only_commit_ids_make_a_link(old: str, new: str) -> None:
    assert compare_url("git@github.com:acme/shop.git", old, new) is None
