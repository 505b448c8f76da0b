"""Runs builder_real_kojid.py (a real kojid with the Discomy plugin against a real
kojihub) when DISCOMY_KOJI_SRC names a koji source tree; skipped otherwise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("builder_real_kojid.py")
KOJI_SRC = os.environ.get("DISCOMY_KOJI_SRC")


@pytest.mark.skipif(not KOJI_SRC, reason="set DISCOMY_KOJI_SRC to a koji source tree")
@pytest.mark.timeout(900)
def test_real_kojid_publishes_the_probe_and_drain_to_the_hub():
    out = subprocess.run([sys.executable, str(SCRIPT), KOJI_SRC], capture_output=True,
                         text=True, timeout=850)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "RESULT: all checks passed" in out.stdout
    assert '"discomy": {' in out.stdout and "draining = True" in out.stdout
