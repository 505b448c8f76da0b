"""Runs hub_real_kojihub.py (a real kojihub with the Discomy plugin, PostgreSQL on
loopback) on koji's upstream tree (the ``koji_src`` fixture)."""

from pathlib import Path

import pytest
from realkoji import run_checks

SCRIPT = Path(__file__).with_name("hub_real_kojihub.py")


@pytest.fixture(scope="module")
def run(koji_src):
    return run_checks(SCRIPT, koji_src)


@pytest.mark.timeout(900)
def test_real_kojihub_places_constrained_tasks_on_fitting_hosts(run):
    assert "discomy: placed on big1" in run
    assert "discomy: waits: no host fits" in run


@pytest.mark.timeout(900)
def test_a_power_job_learned_from_real_finished_builds(run):
    # the history rule's own SQL over builds made through the hub's API
    assert "needs power (package libreoffice, last buildArch took 3h00m)" in run
    assert "libreoffice -> big1    expected big1           ok" in run


@pytest.mark.timeout(900)
def test_a_host_claiming_too_much_is_placed_on_its_learned_speed(run):
    assert "liar1   claimed 3.5, learned 0.8, in force 0.8 (learned) ok" in run
    assert "  liar1: speed learned 0.8 from 4 packages built on other hosts too, claimed 3.5; " \
           "using learned" in run


@pytest.mark.timeout(900)
def test_an_admin_pins_and_caps_a_host_from_the_koji_cli(run):
    assert "Host liar1: policy speed=1 max_memory=64 GiB" in run
    assert "after the policy, liar1 in force: speed 1.0 (pinned), memory 65536 MiB: ok" in run


@pytest.mark.timeout(900)
def test_a_database_error_in_the_plugins_pass_leaves_the_stock_pass_working(run):
    assert "scheduler.doRun: no error; the plugin's pass failed and was undone; " \
           "stock koji's pass assigned task" in run


@pytest.mark.timeout(900)
def test_without_discomy_data_the_plugin_decides_as_stock_koji(run):
    assert "stock koji's pass from the same state: identical" in run


@pytest.mark.timeout(900)
def test_the_hub_says_which_scheduler_settings_it_runs_with(run):
    # what discomy rebuild --dry-run estimates this hub with (MaxRepoTasks set in hub.conf)
    assert "discomy.schedulerSettings: {'RunInterval': 60, 'MaxJobs': 15, " \
           "'CapacityOvercommit': 5, 'MaxRepoTasks': 7}: ok" in run
