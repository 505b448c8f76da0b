"""Runs builder_real_kojid.py (a real kojid with the Discomy plugin against a real
kojihub) on koji's upstream tree (the ``koji_src`` fixture)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("builder_real_kojid.py")


@pytest.mark.timeout(900)
def test_real_kojid_publishes_the_probe_and_drain_to_the_hub(koji_src):
    out = subprocess.run([sys.executable, str(SCRIPT), koji_src], capture_output=True,
                         text=True, timeout=850)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "RESULT: all checks passed" in out.stdout
    assert '"discomy": {' in out.stdout and "draining = True" in out.stdout
