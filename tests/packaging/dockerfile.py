"""What the Dockerfile's build stage copies, and what pyproject.toml packages: read from the files themselves."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def packaged_roots(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The top-level packages ``[tool.setuptools.packages.find] include`` names (``bot``, not ``bot.*``)."""
    include = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.split(".")[0].rstrip("*") for pattern in include})


def build_stage_copies(dockerfile: Path = ROOT / "Dockerfile") -> list[str]:
    """The sources of every ``COPY`` in the first stage (before the second ``FROM``), without ``--from`` copies."""
    sources: list[str] = []
    stages = 0
    for raw in dockerfile.read_text().splitlines():
        words = shlex.split(raw.rstrip().removesuffix("\\"), comments=True)
        if not words:
            continue
        keyword = words[0].upper()
        if keyword == "FROM":
            stages += 1
            if stages > 1:
                break
        elif keyword == "COPY" and not any(w.startswith("--from") for w in words[1:]):
            sources += [w.rstrip("/") for w in words[1:-1] if not w.startswith("--")]
    return sources


def instructions(dockerfile: Path = ROOT / "Dockerfile") -> list[tuple[int, str, str]]:
    """``(stage, KEYWORD, arguments)`` for every instruction, continuation lines joined, comments dropped."""
    found: list[tuple[int, str, str]] = []
    stage = 0
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        found.append((stage, keyword.upper(), arguments.strip()))
    return found
