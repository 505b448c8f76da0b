"""Fleet files, size units and the host-data contract."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from discomy.planning.fleet import FleetError, fleet_from_data, task_slots
from discomy.placement.hostdata import HostData, from_host_data, merge_host_data, to_host_data
from discomy.common.units import SizeError, format_size_mb, parse_size_mb

GOOD = [{"name": "big", "count": 2, "arches": ["x86_64"], "cpus": 64, "speed": 2.0,
         "capacity": 16, "maxjobs": 8, "memory": "256G", "disk": "2T"}]


def test_fleet_file_is_read_with_sizes_in_mib():
    fleet = fleet_from_data(GOOD)
    assert fleet.groups[0].memory_mb == 256 * 1024
    assert fleet.groups[0].disk_mb == 2 * 1024 * 1024
    assert fleet.host_count == 2 and fleet.arches == ("x86_64",)


@pytest.mark.parametrize("change, message", [
    ({"count": 0}, "'count' must be at least 1"),
    ({"speed": "fast"}, "'speed' must be a number"),
    ({"arches": []}, "'arches' must be a non-empty list"),
    ({"colour": "red"}, "unknown key"),
    ({"memory": "lots"}, "memory"),
])
def test_bad_fleet_entries_name_the_group_and_key(change, message):
    with pytest.raises(FleetError, match=message) as exc:
        fleet_from_data([{**GOOD[0], **change}], "fleet.yaml")
    assert "group 'big'" in str(exc.value)


def test_missing_required_key_is_reported():
    bad = dict(GOOD[0])
    del bad["maxjobs"]
    with pytest.raises(FleetError, match="missing required key 'maxjobs'"):
        fleet_from_data([bad])


def test_task_slots_follow_kojis_capacity_rule():
    group = fleet_from_data(GOOD).groups[0]
    assert task_slots(group, 1.5) == 8            # maxjobs binds
    small = fleet_from_data([{**GOOD[0], "capacity": 2, "maxjobs": 15}]).groups[0]
    # koji: capacity - load > max(0, weight - overcommit), so a 2.0 host takes two 1.5 tasks
    assert task_slots(small, 1.5) == 2


@pytest.mark.parametrize("text, mib", [("32G", 32768), ("512", 512), ("1.5G", 1536),
                                       ("2T", 2 * 1024 * 1024), ("100K", 1), ("16GiB", 16384)])
def test_sizes_parse_to_mib(text, mib):
    assert parse_size_mb(text) == mib


@pytest.mark.parametrize("text", ["", "G", "-1G", "12X", "lots"])
def test_bad_sizes_are_rejected(text):
    with pytest.raises(SizeError):
        parse_size_mb(text)


@given(st.integers(0, 10 ** 9))
def test_formatted_sizes_parse_back_close(mb):
    text = format_size_mb(mb).replace(" ", "").replace("iB", "")
    assert abs(parse_size_mb(text) - mb) <= max(1, mb * 0.06)


def test_host_data_round_trips_under_its_own_key_and_keeps_kojis_keys():
    host = HostData(cpus=16, memory_mb=32768, disk_free_mb={"/var/lib/mock": 400000}, speed=1.2,
                    virt=("chroot", "kvm"), arches_native=("x86_64",), draining=True)
    merged = merge_host_data({"maxjobs": 4, "methods": ["buildArch"]}, host)
    assert merged["maxjobs"] == 4 and merged["methods"] == ["buildArch"]
    parsed, warnings = from_host_data(merged)
    assert parsed == host and warnings == []
    assert "memory_available_mb" not in to_host_data(host)   # unknown stays absent


def test_missing_or_bad_host_data_means_unknown_never_zero():
    parsed, warnings = from_host_data({"discomy": {"cpus": "many", "memory_mb": -5, "new": 1}})
    assert parsed.cpus is None and parsed.memory_mb is None
    assert len(warnings) == 3
    assert from_host_data(None)[0] == HostData()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("change, message", [
    ({"speed": float("nan")}, "'speed' must be a finite number, got nan"),
    ({"speed": float("inf")}, "'speed' must be a finite number, got inf"),
    ({"capacity": float("nan")}, "'capacity' must be a finite number, got nan"),
    ({"count": 1_000_000_000}, "'count' must be at least 1 and at most 10000"),
    ({"count": float("inf")}, "'count' must be a finite number"),
    ({"maxjobs": float("nan")}, "'maxjobs' must be a finite number"),
    ({"maxjobs": 1001}, "'maxjobs' must be at least 1 and at most 1000"),
    ({"cpus": 5000}, "'cpus' must be at least 1 and at most 4096"),
    ({"speed": 0.001}, "'speed' must be at least 0.01 and at most 100"),
    ({"speed": 10 ** 400}, "'speed' must be at least 0.01 and at most 100"),
    ({"capacity": 0}, "'capacity' must be above 0 and at most 1000"),
    ({"capacity": 1e6}, "'capacity' must be above 0 and at most 1000"),
    ({"memory": float("inf")}, "memory: size inf is not a size up to 1 EiB"),
    ({"disk": "9" * 400 + "T"}, "disk: size '99999.* is not a size up to 1 EiB"),
    ({"arches": ["x86_64", ""]}, "'arches' must be a non-empty list of arch names"),
])
def test_non_finite_and_absurd_fleet_numbers_are_one_line_naming_the_group_and_key(
        change, message):
    with pytest.raises(FleetError, match=message) as exc:
        fleet_from_data([{**GOOD[0], **change}], "fleet.yaml")
    assert str(exc.value).startswith("fleet.yaml: group 'big': ")
    assert "\n" not in str(exc.value)


def test_a_fleet_is_at_most_100000_hosts_and_builds_a_real_arch():
    many = [{**GOOD[0], "name": f"g{i}", "count": 10_000} for i in range(11)]
    with pytest.raises(FleetError, match="'count' adds up to 110000 hosts, more than 100000"):
        fleet_from_data(many, "fleet.yaml")
    with pytest.raises(FleetError, match="no group builds an arch other than noarch"):
        fleet_from_data([{**GOOD[0], "arches": ["noarch"]}], "fleet.yaml")


def test_fleet_keys_of_any_type_are_reported_not_sorted_into_a_crash():
    with pytest.raises(FleetError, match=r"unknown key\(s\) 'colour', 1"):
        fleet_from_data([{**GOOD[0], 1: "x", "colour": "red"}], "fleet.yaml")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1" * 400, 10 ** 400])
def test_sizes_beyond_1_eib_or_not_finite_are_size_errors(value):
    with pytest.raises(SizeError, match="not a size up to 1 EiB"):
        parse_size_mb(value)


def test_a_fleet_file_carries_the_deployments_koji_settings_under_their_files():
    fleet = fleet_from_data({"koji": {"hub.conf": {"RunInterval": 30, "MaxRepoTasks": 4},
                                      "kojid.conf": {"sleeptime": 5},
                                      "kojira.conf": {"sleeptime": 10}},
                             "groups": GOOD}, "fleet.yaml")
    assert fleet.koji.sim_settings() == {"run_interval": 30, "maxjobs": 15, "overcommit": 5.0,
                                         "max_repo_tasks": 4, "sleeptime": 5,
                                         "kojira_seconds": 10}
    # without them, koji's defaults (kojixmlrpc.py, kojid, kojira)
    assert fleet_from_data(GOOD).koji.sim_settings() == {
        "run_interval": 60.0, "maxjobs": 15, "overcommit": 5.0, "max_repo_tasks": 10,
        "sleeptime": 15.0, "kojira_seconds": 15.0}


@pytest.mark.parametrize("koji, message", [
    ({"hub.conf": {"RunInterval": 0}}, "koji: hub.conf: 'RunInterval' must be a whole number "
                                       "from 1 to 3600, got 0"),
    ({"hub.conf": {"RunInterval": 2.5}}, "'RunInterval' must be a whole number"),
    ({"hub.conf": {"MaxJobs": True}}, "'MaxJobs' must be a whole number"),
    ({"hub.conf": {"Runinterval": 30}}, "hub.conf: unknown setting.s. 'Runinterval': use "
                                        "RunInterval, MaxJobs"),
    ({"kojid.conf": {"sleeptime": "15"}}, "kojid.conf: 'sleeptime' must be a whole number"),
    ({"koji.conf": {}}, "koji: unknown file.s. 'koji.conf': use hub.conf, kojid.conf"),
    ({"hub.conf": [30]}, "hub.conf: expected a mapping"),
    ("RunInterval=30", "'koji' must be a mapping"),
])
def test_bad_koji_settings_in_a_fleet_file_name_the_file_and_key(koji, message):
    with pytest.raises(FleetError, match=message) as exc:
        fleet_from_data({"koji": koji, "groups": GOOD}, "fleet.yaml")
    assert str(exc.value).startswith("fleet.yaml: ")


def test_a_fleet_mapping_takes_only_groups_and_koji():
    with pytest.raises(FleetError, match="unknown key.s. 'hosts': use groups and koji"):
        fleet_from_data({"groups": GOOD, "hosts": []}, "fleet.yaml")
