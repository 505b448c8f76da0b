"""Runs hub_real_kojihub.py (a real kojihub with the Discomy plugin, PostgreSQL on
loopback) when DISCOMY_KOJI_SRC names a koji source tree; skipped otherwise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("hub_real_kojihub.py")
KOJI_SRC = os.environ.get("DISCOMY_KOJI_SRC")


@pytest.mark.skipif(not KOJI_SRC, reason="set DISCOMY_KOJI_SRC to a koji source tree")
@pytest.mark.timeout(900)
def test_real_kojihub_places_constrained_tasks_on_fitting_hosts():
    out = subprocess.run([sys.executable, str(SCRIPT), KOJI_SRC], capture_output=True,
                         text=True, timeout=850)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "RESULT: all checks passed" in out.stdout
    assert "stock koji's pass from the same state: identical" in out.stdout
    assert "discomy: placed on big1" in out.stdout
    assert "discomy: waits: no host fits" in out.stdout
