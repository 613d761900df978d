"""The ``world`` fixture: a fresh service and its fakes for each test, its waiting requests in a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands.usecases.world import World, stored


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(waiting=stored(tmp_path))
