"""The hub plugin's tests import ``kojihub`` from tests/standins (kojihub is not installable)."""

import sys
from pathlib import Path

STANDINS = str(Path(__file__).resolve().parents[1] / "standins")
if STANDINS not in sys.path:
    sys.path.insert(0, STANDINS)
