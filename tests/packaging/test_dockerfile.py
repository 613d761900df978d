"""The image is built from the folders the Dockerfile copies: every package pyproject.toml installs must be one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.dockerfile import build_stage_copies, packaged_roots


def test_the_build_stage_copies_every_packaged_package_and_the_project_files() -> None:
    copied = set(build_stage_copies())
    assert [] == [p for p in [*packaged_roots(), "pyproject.toml", "README.md"] if p not in copied]


def test_the_packages_are_the_product_and_the_emulator() -> None:
    assert ["bot", "cli", "commands", "demo", "deploy", "slack_emulator"] == packaged_roots()


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        pytest.param("FROM a\nCOPY x ./x\n", ["x"], id="one-copy"),
        pytest.param(
            "FROM a AS b\nCOPY p.toml README.md ./\nCOPY bot/ ./bot\n", ["p.toml", "README.md", "bot"], id="several"
        ),
        pytest.param("FROM a\nCOPY x ./x\nFROM b\nCOPY y ./y\n", ["x"], id="first-stage-only"),
        pytest.param("FROM a\nCOPY --chown=1:1 x ./x  # the code\n", ["x"], id="flags-and-comments"),
        pytest.param("FROM a\nCOPY --from=other /x ./x\n", [], id="copies-from-another-stage"),
    ],
)
def test_build_stage_copies_reads_copy_lines(tmp_path: Path, dockerfile: str, expected: list[str]) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    assert expected == build_stage_copies(path)


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        pytest.param('["bot", "bot.*", "cli", "cli.*"]', ["bot", "cli"], id="package-and-subpackages"),
        pytest.param('["deploy*"]', ["deploy"], id="glob"),
    ],
)
def test_packaged_roots_reads_the_find_include_list(tmp_path: Path, include: str, expected: list[str]) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.setuptools.packages.find]\ninclude = {include}\n")
    assert expected == packaged_roots(path)
