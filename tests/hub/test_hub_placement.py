"""Placement core: hard fit, koji's rules, power ranking, reservation, draining, reasons."""

from discomy.placement import constraints as cons
from discomy.placement.hostdata import HostData
from discomy.placement import (ActiveTask, FreeTask, HostCapabilities, NO_REQUIREMENTS,
                               PlacementConfig, TaskRequirements, ConfigError, explain,
                               fits, is_power_by_history, package_from_srpm, parse_config,
                               requirements_for, schedule)

import pytest

CFG = PlacementConfig(reserve_after_s=600, reserve_max_s=3600, strong_speed=1.5)


def host(host_id, name=None, capacity=4.0, speed=None, memory_gib=None, cpus=None,
         virt=(), features=(), arches="x86_64", channels=(1,), ready=True, maxjobs=None,
         draining=False, drained=False, disk_gib=None):
    data = HostData(cpus=cpus, memory_mb=memory_gib * 1024 if memory_gib else None,
                    disk_free_mb={"/var/lib/mock": disk_gib * 1024} if disk_gib else {},
                    speed=speed, virt=tuple(virt), features=tuple(features), draining=draining)
    return HostCapabilities(host_id=host_id, name=name or f"builder{host_id}",
                            arches=tuple(arches.split()), channels=tuple(channels),
                            capacity=capacity, ready=ready, maxjobs=maxjobs, data=data,
                            drained=drained)


def task(task_id, req=NO_REQUIREMENTS, weight=1.0, arch="x86_64", create_ts=0.0, channel=1):
    return FreeTask(task_id=task_id, channel_id=channel, arch=arch, weight=weight,
                    create_ts=create_ts, req=req)


def placed(result):
    return {a.task_id: a.host_id for a in result.assignments}


BIG = TaskRequirements(memory_mb=32 * 1024, why="package llvm")
POWER = TaskRequirements(memory_mb=32 * 1024, power=True, why="package llvm")


def test_fit_reason_names_host_need_and_have():
    verdict = fits(host(3, memory_gib=16), BIG)
    assert not verdict.ok
    assert verdict.reasons == ("builder3: needs 32 GiB memory, has 16 GiB",)


def test_fit_checks_disk_cpus_virt_and_features():
    req = TaskRequirements(disk_mb=80 * 1024, cpus=16, virt=("kvm",), features=("ssd",))
    weak = host(1, disk_gib=40, cpus=4, virt=("chroot",), features=())
    strong = host(2, disk_gib=400, cpus=32, virt=("kvm", "chroot"), features=("ssd",))
    assert fits(strong, req).ok
    reasons = " | ".join(fits(weak, req).reasons)
    for part in ("needs 80 GiB disk, has 40 GiB", "needs 16 cpus, has 4",
                 "needs virtualization kvm, has chroot", "needs features ssd"):
        assert part in reasons


def test_unknown_values_are_not_violations_but_rank_after_known_fits():
    unknown, known = host(1), host(2, memory_gib=64)
    assert fits(unknown, BIG).ok and fits(unknown, BIG).unknown == 1
    result = schedule([task(10, BIG)], [], [unknown, known], {}, CFG, now=0)
    assert placed(result) == {10: 2}


def test_big_task_never_goes_to_small_host_even_if_idle():
    small, big = host(1, memory_gib=16), host(2, memory_gib=64)
    busy = [ActiveTask(100 + n, 2, 1.0) for n in range(3)]
    result = schedule([task(10, BIG)], busy, [small, big], {}, CFG, now=0)
    assert placed(result) == {10: 2}


def test_task_waits_with_reason_when_no_host_fits():
    result = schedule([task(10, BIG)], [], [host(3, memory_gib=16)], {}, CFG, now=0)
    assert result.assignments == ()
    assert "no host fits" in result.reasons[10]
    assert "builder3: needs 32 GiB memory, has 16 GiB" in result.reasons[10]


def test_power_job_goes_to_fastest_fitting_host():
    hosts = [host(1, memory_gib=64, speed=1.0), host(2, memory_gib=64, speed=2.5),
             host(3, memory_gib=16, speed=4.0)]
    result = schedule([task(10, POWER)], [], hosts, {}, CFG, now=0)
    assert placed(result) == {10: 2}


def test_small_jobs_keep_off_strong_hosts_while_power_job_waits():
    hosts = [host(1, speed=2.0, memory_gib=64), host(2, speed=1.0, memory_gib=8)]
    # the power task is behind the small ones in koji's order
    tasks = [task(10), task(11, POWER)]
    result = schedule(tasks, [], hosts, {}, CFG, now=0)
    assert placed(result) == {10: 2, 11: 1}


def test_small_jobs_use_strong_hosts_when_no_power_job_waits():
    hosts = [host(1, speed=2.0), host(2, speed=1.0)]
    active = [ActiveTask(99, 2, 1.0)]
    result = schedule([task(10)], active, hosts, {}, CFG, now=0)
    assert placed(result) == {10: 1}


def test_power_job_waiting_long_reserves_busy_strong_host():
    # room for a small task (weight 0.5) but not for the power task (weight 10)
    strong = host(1, speed=2.0, memory_gib=64, capacity=4.0)
    other = host(2, speed=1.0, memory_gib=8, capacity=4.0)
    active = [ActiveTask(90, 1, 2.0), ActiveTask(91, 2, 4.0)]
    tasks = [task(10, POWER, weight=10.0, create_ts=0), task(11, weight=0.5)]
    early = schedule(tasks, active, [strong, other], {}, CFG, now=100)
    assert early.reserved == {} and placed(early) == {11: 1}
    late = schedule(tasks, active, [strong, other], {}, CFG, now=700)
    assert late.reserved == {1: 10}
    assert placed(late) == {}
    assert "builder1: reserved for power task 10" in late.reasons[11]


def test_reservation_ends_after_reserve_max():
    strong = host(1, speed=2.0, memory_gib=64, capacity=4.0)
    active = [ActiveTask(90, 1, 2.0)]
    tasks = [task(10, POWER, weight=10.0, create_ts=0), task(11, weight=0.5)]
    result = schedule(tasks, active, [strong], {}, CFG, now=600 + 3600 + 1)
    assert result.reserved == {} and placed(result) == {11: 1}


def test_reservation_count_is_bounded():
    hosts = [host(i, speed=2.0, memory_gib=64, capacity=1.0) for i in (1, 2, 3)]
    full = [ActiveTask(90 + i, i, 1.0) for i in (1, 2, 3)]
    tasks = [task(10 + n, POWER, weight=3.0) for n in range(3)]
    cfg = PlacementConfig(reserve_after_s=600, reserve_max_s=10**6, reserve_max_hosts=2)
    result = schedule(tasks, full, hosts, {}, cfg, now=1000)
    assert len(result.reserved) == 2


def test_draining_hosts_take_nothing_new():
    hosts = [host(1, drained=True), host(2, draining=True), host(3)]
    result = schedule([task(10), task(11)], [], hosts, {}, CFG, now=0)
    assert set(placed(result).values()) == {3}


def test_refused_host_is_not_chosen():
    result = schedule([task(10)], [], [host(1), host(2)], {10: {1}}, CFG, now=0)
    assert placed(result) == {10: 2}


def test_maxjobs_from_host_data_is_respected():
    hosts = [host(1, maxjobs=1, capacity=100)]
    result = schedule([task(10), task(11)], [], hosts, {}, CFG, now=0)
    assert len(result.assignments) == 1


def test_noarch_tasks_go_to_any_host_in_channel():
    hosts = [host(1, arches="aarch64"), host(2, arches="x86_64", channels=(2,))]
    result = schedule([task(10, arch="noarch")], [], hosts, {}, CFG, now=0)
    assert placed(result) == {10: 1}


def test_explain_lists_every_host_with_reasons():
    hosts = [host(1, memory_gib=16), host(2, memory_gib=64, speed=1.2), host(3, arches="ppc64le")]
    verdicts = {v.name: v for v in explain(task(10, BIG), [], hosts, {}, CFG, now=0)}
    assert not verdicts["builder1"].eligible
    assert verdicts["builder1"].reasons == ("builder1: needs 32 GiB memory, has 16 GiB",)
    assert verdicts["builder2"].eligible
    assert "not in channel 1 with arch x86_64" in verdicts["builder3"].reasons[0]


def test_history_makes_slow_packages_power_jobs():
    assert is_power_by_history(3 * 3600, 2 * 3600)
    assert not is_power_by_history(3600, 2 * 3600)
    assert not is_power_by_history(None, 2 * 3600)
    assert not is_power_by_history(3 * 3600, None)
    req = requirements_for("libreoffice", {}, {}, last_duration_s=3 * 3600, power_after_s=7200)
    assert req.power and "3h00m" in req.why
    assert requirements_for("bash", {}, {}, last_duration_s=60, power_after_s=7200) == NO_REQUIREMENTS


def test_requirements_combine_hub_defaults_and_tag():
    hub, _ = cons.parse_rules({"llvm*": {"memory": "32G"}})
    tag, _ = cons.parse_rules({"llvm": {"cpus": 16}})
    req = requirements_for("llvm", hub, tag)
    assert (req.memory_mb, req.cpus, req.power) == (32768, 16, False)


def test_package_name_from_srpm_path():
    assert package_from_srpm("tasks/1/2/llvm-toolset-17.0.6-1.el9.src.rpm") == "llvm-toolset"
    assert package_from_srpm("cli-build/foo.tar.gz") is None


def test_host_from_koji_row_reads_data_and_warns_on_unknown_keys():
    row = {"id": 7, "name": "b7", "arches": "x86_64 i686", "channels": [1, 3], "capacity": 8,
           "task_load": 1.5, "ready": True, "update_ts": 5.0,
           "data": {"maxjobs": 3, "methods": ["buildArch"],
                    "discomy": {"cpus": 8, "memory_mb": 4096, "gpu": 1}}}
    h, warnings = HostCapabilities.from_koji(row)
    assert (h.arches, h.channels, h.maxjobs, h.data.cpus) == (("x86_64", "i686"), (1, 3), 3, 8)
    assert warnings and "gpu" in warnings[0]


def test_config_parses_durations_and_constraints():
    cfg = parse_config({"scheduler": {"power_after": "2h", "reserve_after": "30m",
                                      "reserve_max_hosts": "2", "strong_speed": "1.8"},
                        "constraints": {"llvm*": '{"memory": "32G", "power": true}'}})
    assert (cfg.power_after_s, cfg.reserve_after_s, cfg.reserve_max_hosts) == (7200, 1800, 2)
    assert cfg.defaults["llvm*"].memory_mb == 32768


@pytest.mark.parametrize("sections, message", [
    ({"scheduler": {"reserve_after": "soon"}}, r"\[scheduler\] reserve_after"),
    ({"scheduler": {"colour": "blue"}}, r"\[scheduler\] colour: unknown option"),
    ({"constraints": {"llvm": "{not json"}}, r"\[constraints\] llvm"),
    ({"constraints": {"llvm": '{"ram": "3G"}'}}, r"unknown constraint 'ram'"),
    ({"extras": {}}, r"\[extras\]: unknown section"),
])
def test_bad_config_names_section_and_key(sections, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(sections)


def test_unknown_values_exclude_a_host_when_unknown_fits_is_off():
    strict = PlacementConfig(unknown_fits=False)
    result = schedule([task(10, BIG), task(11)], [], [host(1)], {}, strict, now=0)
    assert placed(result) == {11: 1}
    assert "builder1: memory unknown (needs 32 GiB)" in result.reasons[10]


def test_builder_can_check_itself_with_fits():
    me = HostCapabilities.from_data("builder9", HostData(memory_mb=8192, cpus=2))
    verdict = fits(me, requirements_for("llvm", {}, cons.parse_rules({"llvm": {"cpus": 8}})[0]))
    assert verdict.reasons == ("builder9: needs 8 cpus, has 2",) and not verdict.ok


def test_history_uses_the_latest_builds_slowest_arch():
    from discomy.placement import last_build_durations
    rows = [("llvm", 7, 3000.0), ("llvm", 9, 7300.0), ("llvm", 9, 5000.0), ("llvm", 8, 99999.0),
            ("bash", 3, None), ("bash", 2, 60.0)]
    assert last_build_durations(rows) == {"llvm": 7300.0, "bash": 60.0}


def test_a_task_whose_fitting_hosts_are_busy_names_them_instead_of_no_host_fits():
    small, big = host(1, memory_gib=16), host(2, memory_gib=64, maxjobs=1)
    result = schedule([task(10, BIG)], [ActiveTask(90, 2, 1.0)], [small, big], {}, CFG, now=0)
    reason = result.reasons[10]
    assert "no host fits" not in reason
    assert reason.startswith("waits: 1 fitting host(s) busy: builder2: at maxjobs (1/1)")
    assert "not eligible: builder1: needs 32 GiB memory, has 16 GiB" in reason


def test_a_task_no_idle_host_could_take_says_no_host_fits():
    result = schedule([task(10, BIG)], [ActiveTask(90, 1, 3.5)],
                      [host(1, memory_gib=16, maxjobs=1)], {}, CFG, now=0)
    assert result.reasons[10] == ("waits: no host fits; needs memory>=32 GiB (package llvm); "
                                 "builder1: needs 32 GiB memory, has 16 GiB")


def test_work_goes_to_the_fastest_host_with_room_and_build_parents_to_the_slowest():
    hosts = [host(1, speed=0.5), host(2, speed=2.0), host(3, speed=1.0)]
    arch = FreeTask(10, 1, "x86_64", method="buildArch")
    srpm = FreeTask(11, 1, "noarch", method="buildSRPMFromSCM")
    parent = FreeTask(12, 1, "noarch", method="build")
    result = schedule([arch, srpm, parent], [ActiveTask(90, 2, 3.5)], hosts, {}, CFG, now=0)
    # builder2 is the fastest but full after the buildArch (capacity 4, load 3.5 + 1)
    assert placed(result) == {10: 2, 11: 3, 12: 1}


def test_without_speeds_work_and_parents_rank_as_stock_koji():
    hosts = [host(1), host(2), host(3)]
    tasks = [FreeTask(10, 1, "x86_64", method="buildArch"),
             FreeTask(11, 1, "noarch", method="build")]
    result = schedule(tasks, [ActiveTask(90, 1, 1.0)], hosts, {}, CFG, now=0)
    # koji: least load + ntasks + demand, ties in host order
    assert placed(result) == {10: 2, 11: 3}


def test_power_job_waits_for_strong_host_instead_of_small_one():
    strong, small = host(1, speed=2.0, capacity=4.0), host(2, speed=0.5, capacity=4.0)
    hours = TaskRequirements(power=True, why="package llvm, last buildArch took 9h00m")
    result = schedule([task(10, hours)], [ActiveTask(90, 1, 4.0)], [strong, small], {}, CFG,
                      now=0)
    assert placed(result) == {}
    assert result.reasons[10].startswith("waits: 1 fitting host(s) busy: builder1: not enough")
    assert "builder2: not strong (speed 0.5 < 1.5); a power job waits for a strong host" \
        in result.reasons[10]
    # with no strong host in the fleet it takes the fastest one there is
    result = schedule([task(10, hours)], [], [host(2, speed=0.5), host(3, speed=1.0)], {},
                      CFG, now=0)
    assert placed(result) == {10: 3}


def test_power_jobs_pack_onto_the_busiest_host_that_still_takes_one():
    # alike hosts: a second long build beside the first idles fewer slots than one on each
    a, b = host(1, speed=1.0, capacity=24.0), host(2, speed=1.0, capacity=24.0)
    hours = TaskRequirements(power=True, why="last buildArch took 30h00m")
    result = schedule([task(10, hours)], [ActiveTask(90, 1, 19.5)], [a, b], {}, CFG, now=0)
    assert placed(result) == {10: 1}
    # stock koji (and a host without data) spreads: the least loaded
    plain = [host(1, capacity=24.0), host(2, capacity=24.0)]
    plain = [HostCapabilities(h.host_id, h.name, h.arches, h.channels, h.capacity)
             for h in plain]
    result = schedule([task(10, hours)], [ActiveTask(90, 1, 19.5)], plain, {}, CFG, now=0)
    assert placed(result) == {10: 2}


def test_power_jobs_pack_by_the_weight_they_will_have_once_open():
    # kojid raises a buildArch's weight with the package's build time: 30 h weighs 19.5,
    # 8 h weighs 7.5. On a capacity-24 host already running a 19.5 build, another day-long
    # build costs no more ordinary tasks; an 8-hour one would cost that host's last three,
    # where an idle host keeps room for all but one
    a, b = host(1, speed=1.0, capacity=24.0, maxjobs=10), host(2, speed=1.0, capacity=24.0,
                                                                 maxjobs=10)
    first = [ActiveTask(90, 1, 19.5)]
    day = TaskRequirements(power=True, seconds=30 * 3600.0, why="last buildArch took 30h00m")
    shift = TaskRequirements(power=True, seconds=8 * 3600.0, why="last buildArch took 8h00m")
    assert placed(schedule([task(10, day)], first, [a, b], {}, CFG, now=0)) == {10: 1}
    assert placed(schedule([task(11, shift)], first, [a, b], {}, CFG, now=0)) == {11: 2}
    # within one pass the weight a power job will have counts at once (it is assigned at
    # koji's free weight, 1.0): the 8-hour build keeps off the host the day-long one
    # just took, and a second day-long build joins it
    result = schedule([task(10, day), task(11, shift)], [], [a, b], {}, CFG, now=0)
    assert placed(result) == {10: 1, 11: 2}
    result = schedule([task(10, day), task(12, day)], [], [a, b], {}, CFG, now=0)
    assert placed(result) == {10: 1, 12: 1}


def test_work_room_counts_the_ordinary_tasks_a_load_leaves_room_for():
    from discomy.placement.schedule import buildarch_weight, work_room
    assert buildarch_weight(0) == 1.5 and buildarch_weight(3600) == 2.25
    assert buildarch_weight(48 * 3600) == 19.5 and buildarch_weight(-5) == 1.5
    # koji's test for a free task (weight 1.0, overcommit 5): capacity - load > 0
    assert work_room(24.0, 0.0, 0, 10, 0.0) == 10          # maxjobs binds
    assert work_room(24.0, 19.5, 1, 10, 0.0) == 3          # at 19.5, 21 and 22.5
    assert work_room(24.0, 24.0, 1, 10, 0.0) == 0 and work_room(24.0, 39.0, 2, 10, 0.0) == 0
    assert work_room(24.0, 0.0, 10, 10, 0.0) == 0
    # a task that needs spare capacity (weight above the overcommit) is admitted less
    assert work_room(24.0, 19.5, 1, 10, 1.0) == 3 and work_room(24.0, 21.0, 1, 10, 3.0) == 0
    # the estimator's slots per host are the same count from an idle host
    from discomy.planning.fleet import HostGroup, task_slots
    assert task_slots(HostGroup("z", 1, ("s390x",), 1.0, 24.0, 10)) == 10
    assert task_slots(HostGroup("v", 1, ("x86_64",), 1.0, 4.0, 10)) == \
        work_room(4.0, 0.0, 0, 10, 0.0) == 3


def slow_and_busy_fast(fast_speed=2.0):
    """A fast host at its maxjobs and an idle slow one."""
    fast = host(1, "fast", capacity=16, speed=fast_speed, maxjobs=1)
    slow = host(2, "slow", capacity=16, speed=0.5)
    return [fast, slow], [ActiveTask(99, 1, 1.5)]


WAIT_5M = PlacementConfig(wait_for_faster_s=300)


def test_long_build_waits_for_a_busy_fast_host_rather_than_run_on_a_slow_one():
    hosts, active = slow_and_busy_fast()
    # an hour's build: 2 h on the slow host against 30 min on the fast one
    long_build = task(10, TaskRequirements(seconds=3600.0))
    result = schedule([long_build], active, hosts, {}, WAIT_5M, now=0)
    assert placed(result) == {}
    assert "slow: too slow (speed 0.5)" in result.reasons[10]
    assert "would end over 300 s later than on a speed 2 host" in result.reasons[10]
    # a short one loses less than 5 min there and takes the idle slow host
    short = task(11, TaskRequirements(seconds=120.0))
    assert placed(schedule([short], active, hosts, {}, WAIT_5M, now=0)) == {11: 2}
    # with the rule off (the default) the long one takes the slow host too
    assert placed(schedule([long_build], active, hosts, {}, PlacementConfig(), now=0)) == \
        {10: 2}


def test_long_build_takes_the_fast_host_once_it_has_room():
    hosts, _ = slow_and_busy_fast()
    long_build = task(10, TaskRequirements(seconds=3600.0))
    assert placed(schedule([long_build], [], hosts, {}, WAIT_5M, now=0)) == {10: 1}


def test_wait_for_faster_weighs_only_hosts_that_can_take_the_task():
    # the fast host lacks the memory: the slow host is the fastest that fits, so the
    # build takes it at once
    fast = host(1, "fast", capacity=16, speed=2.0, memory_gib=8)
    slow = host(2, "slow", capacity=16, speed=0.5, memory_gib=64)
    req = TaskRequirements(memory_mb=32 * 1024, seconds=36000.0, why="package llvm")
    assert placed(schedule([task(10, req)], [], [fast, slow], {}, WAIT_5M, now=0)) == {10: 2}


def test_wait_for_faster_keeps_hosts_without_data_as_stock_koji():
    # no host publishes a speed: all count 1.0, nothing waits
    hosts = [host(1, capacity=16, maxjobs=1), host(2, capacity=16)]
    long_build = task(10, TaskRequirements(seconds=36000.0))
    result = schedule([long_build], [ActiveTask(99, 1, 1.5)], hosts, {}, WAIT_5M, now=0)
    assert placed(result) == {10: 2}


def test_speed_floor_is_the_slowest_speed_within_the_patience():
    from discomy.placement.schedule import speed_floor
    speeds = [0.5, 1.0, 2.0]
    cfg = PlacementConfig(wait_for_faster_s=600)

    def floor(seconds):
        return speed_floor(speeds, task(1, TaskRequirements(seconds=seconds)), cfg)
    # 1200 s: 2400 s at speed 0.5, 1200 at 1.0, 600 at 2.0: 1.0 loses exactly 600 s
    assert floor(1200.0) == 1.0
    assert floor(1201.0) == 2.0
    assert floor(400.0) == 0.5           # 800 s at 0.5, 600 s later than at 2.0
    assert floor(None) is None
    assert speed_floor(speeds, task(1, TaskRequirements(seconds=1e6)), PlacementConfig()) \
        is None


def test_requirements_keep_the_last_build_when_the_pass_weighs_speed():
    req = requirements_for("bash", {}, {}, 900.0, 7200.0, keep_seconds=True)
    assert req.seconds == 900.0 and not req.power and req.is_hard_free()
    assert requirements_for("bash", {}, {}, 900.0, 7200.0) == NO_REQUIREMENTS
    assert requirements_for("bash", {}, {}, None, 7200.0, keep_seconds=True) == NO_REQUIREMENTS
    power = requirements_for("llvm", {}, {}, 9000.0, 7200.0, keep_seconds=True)
    assert power.power and power.seconds == 9000.0


def test_wait_for_faster_option_parses_durations_and_never():
    assert parse_config({"scheduler": {"wait_for_faster": "10m"}}).wait_for_faster_s == 600
    assert parse_config({"scheduler": {"wait_for_faster": "never"}}).wait_for_faster_s is None
    with pytest.raises(ConfigError, match=r"\[scheduler\] wait_for_faster"):
        parse_config({"scheduler": {"wait_for_faster": "soon"}})


def test_explain_says_a_slow_host_is_passed_over_for_a_long_build():
    hosts, active = slow_and_busy_fast()
    verdicts = {v.name: v for v in explain(task(10, TaskRequirements(seconds=3600.0)), active,
                                            hosts, {}, WAIT_5M, now=0)}
    assert not verdicts["slow"].eligible
    assert "too slow" in verdicts["slow"].reasons[0]
    assert "at maxjobs" in verdicts["fast"].reasons[0]


def parent(task_id, arch="noarch"):
    """A koji ``build`` task: it only waits for its subtasks once open."""
    return FreeTask(task_id=task_id, channel_id=1, arch=arch, method="build")


def test_a_slow_host_covered_by_a_faster_bigger_one_lends_its_last_slot_to_a_parent():
    from discomy.placement.schedule import work_slots
    fast = host(1, "fast", capacity=16, speed=2.0, memory_gib=64, cpus=16, maxjobs=4)
    slow = host(2, "slow", capacity=4, speed=0.5, memory_gib=8, cpus=4, maxjobs=1)
    assert work_slots([fast, slow]) == [1, 0]
    # the parent takes the slow host's only slot: the fast host keeps one for its subtasks
    assert placed(schedule([parent(10)], [], [fast, slow], {}, CFG, now=0)) == {10: 2}


def test_a_host_that_takes_what_no_faster_host_takes_keeps_its_last_slot():
    from discomy.placement.schedule import work_slots
    fast = host(1, "fast", capacity=16, speed=2.0, memory_gib=16, maxjobs=4)
    big = host(2, "big", capacity=4, speed=0.5, memory_gib=128, maxjobs=1)
    other_arch = host(3, "arm", capacity=4, speed=0.5, memory_gib=8, maxjobs=1,
                      arches="x86_64 aarch64")
    # a 64 GiB build only fits big; an aarch64 one only the arm host
    assert work_slots([fast, big, other_arch]) == [1, 1, 1]
    assert placed(schedule([parent(10)], [], [fast, big, other_arch], {}, CFG, now=0)) == \
        {10: 1}


def test_a_draining_host_covers_no_other():
    from discomy.placement.schedule import work_slots
    fast = host(1, "fast", capacity=16, speed=2.0, memory_gib=64, maxjobs=4, draining=True)
    slow = host(2, "slow", capacity=4, speed=0.5, memory_gib=8, maxjobs=1)
    assert work_slots([fast, slow]) == [1, 1]


def test_hosts_alike_all_keep_their_last_slot_and_hosts_without_data_none():
    from discomy.placement.schedule import work_slots
    alike = [host(k, capacity=4, speed=1.0, memory_gib=8) for k in (1, 2, 3)]
    assert work_slots(alike) == [1, 1, 1]
    assert work_slots([host(4), host(5)]) == [0, 0]


def test_an_unknown_value_is_covered_only_by_one_as_open():
    from discomy.placement.schedule import work_slots
    known = host(1, "known", capacity=16, speed=2.0, memory_gib=64, cpus=16)
    unknown = host(2, "unknown", capacity=4, speed=0.5, cpus=4)   # memory not published
    # with unknown values fitting, the slow host takes any memory need: the fast one
    # (64 GiB) does not cover it; with them excluded it takes none, and is covered
    assert work_slots([known, unknown]) == [1, 1]
    assert work_slots([known, unknown], unknown_fits=False) == [1, 0]
