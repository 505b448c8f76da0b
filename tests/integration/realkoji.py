"""What the real-koji test files share: running a scenario script on koji's tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_checks(script: Path, koji_src: str, timeout: float = 850) -> str:
    """Run a real-koji scenario script on ``koji_src``; its output, once it ran to
    the end with every check passed (else the test fails showing the tail)."""
    out = subprocess.run([sys.executable, str(script), koji_src], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-4000:]
    assert "RESULT: all checks passed" in out.stdout, out.stdout[-6000:]
    return out.stdout


class Problems(list):
    """The checks of a scenario that failed; each check is printed as it is made."""

    def __init__(self, out=print):
        super().__init__()
        self.out = out

    def check(self, ok, text) -> bool:
        self.out(("ok       " if ok else "PROBLEM  ") + text)
        if not ok:
            self.append(text)
        return ok
