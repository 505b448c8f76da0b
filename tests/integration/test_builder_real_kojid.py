"""Runs builder_real_kojid.py (a real kojid with the Discomy plugin against a real
kojihub) on koji's upstream tree (the ``koji_src`` fixture)."""

from pathlib import Path

import pytest
from realkoji import run_checks

SCRIPT = Path(__file__).with_name("builder_real_kojid.py")


@pytest.fixture(scope="module")
def run(koji_src):
    return run_checks(SCRIPT, koji_src)


@pytest.mark.timeout(900)
def test_real_kojid_publishes_the_probe_to_the_hub(run):
    assert '"discomy": {' in run and '"cpus": 16' in run


@pytest.mark.timeout(900)
def test_a_heavy_buildarch_alone_on_an_idle_16_cpu_builder_reaches_mock_with_j16(run):
    assert "koji weighs buildArch" in run and "at 19.5" in run
    assert "rpm --eval '%{?_smp_mflags}' = -j16" in run


@pytest.mark.timeout(900)
def test_every_drain_switch_hands_assigned_tasks_back_at_once(run):
    back = [line for line in run.splitlines()
            if line.startswith("  ok") and "came back after" in line]
    for switch in ("discomy-builder drain", "koji drain-host", "koji disable-host"):
        assert any(line.endswith(f"({switch})") for line in back), (switch, back)
    assert "builder1 is still draining by its own flag" in run
    assert "discomy-builder status\n    draining (koji drain-host)" in run


@pytest.mark.timeout(900)
def test_kojid_refuses_and_takes_by_the_hubs_own_fit_test(run):
    assert "a hub default in discomy.conf: kojid refused task" in run
    assert "the admin's memory cap: kojid refused task" in run
    assert "pinned at 128 GiB, and kojid took it" in run
