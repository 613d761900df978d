"""The ``world`` fixture: a fresh service and its fakes for each test."""

from __future__ import annotations

import pytest

from tests.commands.usecases.world import World


@pytest.fixture
def world() -> World:
    return World()
