"""Runs replay_real_kojihub.py: a campaign of 80 buildArch tasks on a real kojihub
(stock, then with discomy_hub) against the estimator's prediction for the same
campaign, fleet and timing (the ``koji_src`` fixture's koji tree)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("replay_real_kojihub.py")


@pytest.fixture(scope="module")
def replay(koji_src):
    out = subprocess.run([sys.executable, str(SCRIPT), koji_src], capture_output=True,
                         text=True, timeout=1500)
    lines = [line for line in out.stdout.splitlines() if line.startswith("FIGURES ")]
    assert lines, out.stdout[-4000:] + out.stderr[-4000:]
    return out, json.loads(lines[-1].split(" ", 1)[1])


@pytest.mark.timeout(1600)
@pytest.mark.parametrize("hub", ["stock", "discomy"])
def test_the_estimate_matches_a_real_kojihub(replay, hub):
    # within the script's TOLERANCE: the 10 % (see replay_real_kojihub.py)
    out, figures = replay
    assert hub in figures, out.stdout[-4000:] + out.stderr[-4000:]
    got = figures[hub]
    print(f"{hub}: real {got['real_minutes']} min, simulated {got['simulated_minutes']} min")
    assert abs(got["error"]) <= 0.10, (
        f"{hub}: real {got['real_minutes']} min, simulated {got['simulated_minutes']} min\n"
        + out.stdout[-3000:])


@pytest.mark.timeout(1600)
def test_every_build_of_the_campaign_ran_on_the_real_hub(replay):
    out, _ = replay
    runs = [line for line in out.stdout.splitlines() if "builds done" in line]
    assert len(runs) == 2 and all("40 builds done, 80 buildArch tasks" in r for r in runs), \
        out.stdout[-4000:] + out.stderr[-4000:]
