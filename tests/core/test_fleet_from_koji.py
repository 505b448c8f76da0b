"""The fleet koji knows: listHosts rows plus the scheduler's host data."""

from __future__ import annotations

import pytest

from discomy.planning.fleet import KOJI_MAXJOBS, FleetError, fleet_from_koji_hosts, task_slots
from discomy.placement.hostdata import HostData, to_host_data


def host(i, arches="x86_64", capacity=8.0, enabled=True, name=None):
    return {"id": i, "name": name or f"builder-{i:02d}", "arches": arches,
            "capacity": capacity, "enabled": enabled, "ready": True, "task_load": 0.0}


def data(i, **fields):
    return {"host_id": i, "data": {"methods": ["build"], "maxjobs": fields.pop("maxjobs", 6),
                                   "discomy": to_host_data(HostData(**fields))}}


def test_identical_hosts_form_one_group_and_host_data_sets_speed_and_slots():
    hosts = [host(i) for i in range(1, 5)] + [host(9, "aarch64", 16.0)]
    rows = [data(i, speed=2.0, cpus=32, memory_mb=65536, maxjobs=4) for i in range(1, 5)]
    fleet, warnings = fleet_from_koji_hosts(hosts, rows)
    assert warnings == []
    fast = next(g for g in fleet.groups if "x86_64" in g.arches)
    assert (fast.count, fast.speed, fast.cpus, fast.maxjobs) == (4, 2.0, 32, 4)
    assert fast.name == "builder-01 (+3)"
    arm = next(g for g in fleet.groups if "aarch64" in g.arches)
    # no host data: the reference speed and the hub's MaxJobs, as koji itself assumes
    assert (arm.count, arm.speed, arm.maxjobs, arm.cpus) == (1, 1.0, KOJI_MAXJOBS, None)
    assert fleet.host_count == 5 and fleet.arches == ("aarch64", "x86_64")
    assert task_slots(fast) == 4   # the builder's maxjobs caps the 6 that capacity 8 fits
    assert task_slots(arm) == 11   # capacity 16 / weight 1.5, under MaxJobs 15


def test_disabled_draining_and_empty_hosts_take_no_work():
    hosts = [host(1), host(2, enabled=False), host(3, capacity=0), host(4, arches=""), host(5)]
    fleet, _ = fleet_from_koji_hosts(hosts, [data(5, draining=True)])
    assert fleet.host_count == 1 and fleet.groups[0].name == "builder-01"


def test_multiarch_hosts_and_different_speeds_stay_apart():
    hosts = [host(1, "x86_64 i686"), host(2, "i686 x86_64"), host(3, "x86_64")]
    fleet, _ = fleet_from_koji_hosts(hosts, [data(3, speed=0.5)])
    shapes = sorted((g.arches, g.count, g.speed) for g in fleet.groups)
    assert shapes == [(("i686", "x86_64"), 2, 1.0), (("x86_64",), 1, 0.5)]


def test_malformed_host_data_is_read_leniently():
    rows = [{"host_id": 1, "data": {"maxjobs": "many", "discomy": {"speed": "fast"}}},
            {"host_id": 2, "data": "not a dict"}, "garbage"]
    fleet, warnings = fleet_from_koji_hosts([host(1), host(2)], rows)
    assert fleet.host_count == 2
    assert all(g.speed == 1.0 and g.maxjobs == KOJI_MAXJOBS for g in fleet.groups)
    assert warnings == [
        "builder-01: host data speed='fast' is not a valid number; treated as unknown",
        "builder-01: host data: 'maxjobs' must be a number, got 'many'; treated as unknown"]


def test_no_usable_host_is_a_clear_error():
    with pytest.raises(FleetError, match="no enabled host"):
        fleet_from_koji_hosts([host(1, enabled=False)])
    with pytest.raises(FleetError, match="no enabled host"):
        fleet_from_koji_hosts([])


@pytest.mark.timeout(30)
def test_bad_numbers_from_the_hub_or_a_builder_are_ignored_with_a_warning():
    hosts = [host(1), host(2, "aarch64", capacity=float("nan")), host(3, "aarch64"),
             host(4, capacity=float("inf"))]
    rows = [{"host_id": 1, "data": {"maxjobs": 10 ** 12, "discomy": {"speed": float("nan"),
                                                                    "cpus": 10 ** 6}}},
            {"host_id": 3, "data": {"maxjobs": -3, "discomy": {"speed": 1e6}}},
            {"host_id": 4, "data": {"discomy": {"speed": -2.0}}}]
    fleet, warnings = fleet_from_koji_hosts(hosts, rows)
    by_name = {g.name: g for g in fleet.groups}
    # a NaN capacity never passes koji's capacity check: the host takes no work
    assert set(by_name) == {"builder-01", "builder-03", "builder-04"}
    assert (by_name["builder-01"].speed, by_name["builder-01"].cpus,
            by_name["builder-01"].maxjobs) == (1.0, None, KOJI_MAXJOBS)
    assert (by_name["builder-03"].speed, by_name["builder-03"].maxjobs) == (1.0, KOJI_MAXJOBS)
    assert by_name["builder-04"].capacity == 1000.0 and by_name["builder-04"].speed == 1.0
    text = "\n".join(warnings)
    assert "builder-02: capacity nan is not a number; the host is left out" in text
    assert "builder-04: capacity inf counts as 1000" in text
    assert "builder-01: host data speed=nan is not a valid number" in text
    assert "builder-01: host data: 'maxjobs' must be at least 1 and at most 1000" in text
    assert "builder-01: host data: 'cpus' must be at least 1 and at most 4096" in text
    assert "builder-03: host data: 'speed' must be at least 0.01 and at most 100" in text
    assert "builder-03: host data: 'maxjobs'" in text
    assert "builder-04: host data speed=-2.0 is not a valid number" in text
    assert task_slots(by_name["builder-04"]) == KOJI_MAXJOBS


def test_the_same_warning_from_many_hosts_is_one_line():
    hosts = [host(i) for i in range(1, 6)]
    rows = [{"host_id": i, "data": {"discomy": {"speed": float("nan")}}} for i in range(1, 6)]
    _, warnings = fleet_from_koji_hosts(hosts, rows)
    assert warnings == ["builder-01 (+4): host data speed=nan is not a valid number; "
                        "treated as unknown"]
