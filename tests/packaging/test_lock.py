"""One uv for the lock everywhere: the Makefile and the Dockerfile install the version uv.lock itself pins, and the
lock covers the Pythons the project supports (3.11, the Dockerfile's and this machine's, and 3.12)."""

from __future__ import annotations

import re
import tomllib

from tests.packaging.dockerfile import ROOT, instructions


def locked(name: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    [version] = [p["version"] for p in lock["package"] if p["name"] == name]
    return str(version)


def test_the_makefile_and_the_dockerfile_install_the_uv_the_lock_pins() -> None:
    make = re.search(r"^UV_VERSION\s*:=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    docker = [a.split("=", 1)[1] for stage, kw, a in instructions() if kw == "ARG" and a.startswith("UV_VERSION=")]
    assert make is not None
    assert [locked("uv")] * 2 == [make.group(1), *docker]


def test_the_lock_resolves_for_python_3_11_and_3_12() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert ">=3.11" == lock["requires-python"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert ">=3.11" == project["requires-python"]
