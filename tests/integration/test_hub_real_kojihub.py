"""Runs hub_real_kojihub.py (a real kojihub with the Discomy plugin, PostgreSQL on
loopback) on koji's upstream tree (the ``koji_src`` fixture)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("hub_real_kojihub.py")


@pytest.mark.timeout(900)
def test_real_kojihub_places_constrained_tasks_on_fitting_hosts(koji_src):
    out = subprocess.run([sys.executable, str(SCRIPT), koji_src], capture_output=True,
                         text=True, timeout=850)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "RESULT: all checks passed" in out.stdout
    assert "stock koji's pass from the same state: identical" in out.stdout
    assert "discomy: placed on big1" in out.stdout
    assert "discomy: waits: no host fits" in out.stdout
