"""Fixtures of the webhook tests: the world of :mod:`hook_world` (git, the forge status
stand-in, the API), stopped at the end."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def world(tmp_path):
    from hook_world import World

    w = World(tmp_path)
    yield w
    w.close()
