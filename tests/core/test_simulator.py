"""The estimator simulates koji: its scheduler pass is placement's pass (and so stock
koji's own, with no Discomy data), builds are koji's task trees, repos are newRepo
tasks on builders; dependencies, capacity and the lower bound always hold."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from discomy.placement import PlacementConfig, parse_config
from discomy.planning import kojimodel as km
from discomy.planning import simulator as simulator_module
from discomy.planning.fleet import Fleet, HostGroup, fleet_from_data
from discomy.planning.graph import graph_from_mapping
from discomy.planning.planner import make_plan
from discomy.planning.simulator import (NOARCH, POLICIES, SHIPPED_HUB, SimConfig, build_arches,
                                        lower_bound, simulate, workload_from_plan)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))
from stock_schedule import stock_do_schedule  # noqa: E402

dags = st.integers(min_value=1, max_value=25).flatmap(
    lambda n: st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60).map(
        lambda edges, n=n: {f"p{i:02d}": sorted({f"p{b:02d}" for a, b in edges if a == i and b < a})
                            for i in range(n)}))

groups = st.builds(
    HostGroup,
    name=st.sampled_from(["a", "b", "c"]),
    count=st.integers(1, 3),
    arches=st.sampled_from([("x86_64",), ("aarch64",), ("x86_64", "aarch64")]),
    speed=st.sampled_from([0.3, 1.0, 2.5]),
    capacity=st.sampled_from([1.0, 4.0, 16.0]),
    maxjobs=st.integers(2, 6),
)


def fleet_strategy():
    return st.lists(groups, min_size=1, max_size=3, unique_by=lambda g: g.name).filter(
        lambda gs: {"x86_64", "aarch64"} <= {a for g in gs for a in g.arches}).map(
        lambda gs: Fleet(tuple(gs)))


def workload_for(deps, durations, noarch):
    g = graph_from_mapping(deps, noarch=[n for n, flag in zip(sorted(deps), noarch) if flag])
    plan = make_plan(g, [], rebuild_all=True,
                     durations={n: d for n, d in zip(sorted(deps), durations)})
    return workload_from_plan(plan)


def host_group(fleet, host):
    for g in fleet.groups:
        if host < g.count:
            return g
        host -= g.count
    raise AssertionError("host outside the fleet")


def check_invariants(workload, fleet, config, result):
    arches_of = build_arches(workload, fleet, config)
    by_build: dict = {}
    for run in result.runs:
        by_build.setdefault(run.build, []).append(run)
    for i in range(len(workload)):
        # every build ran once per build arch ...
        assert sorted(r.arch for r in by_build[i]) == sorted(arches_of[i])
        for run in by_build[i]:
            # ... never before its dependencies were in the buildroot repo ...
            for d in workload.deps[i]:
                assert run.start >= result.done[d] - 1e-6
            if result.policy == "tiered" and workload.tiers[i] > 0:
                prev = [j for j in range(len(workload)) if workload.tiers[j] == workload.tiers[i] - 1]
                assert run.start >= max(result.done[j] for j in prev) - 1e-6
            # ... on a host that builds the arch, at the host's speed
            group = host_group(fleet, run.host)
            assert run.arch == NOARCH or run.arch in group.arches
            assert run.end - run.start == pytest.approx(workload.durations[i] / group.speed)
        # and it is done after its last task, in a repo regenerated after that
        assert result.done[i] >= max(r.end for r in by_build[i])
    # a host never runs more buildArch tasks than its maxjobs
    for h in {r.host for r in result.runs}:
        events = sorted([(r.start, 1) for r in result.runs if r.host == h]
                        + [(r.end, -1) for r in result.runs if r.host == h])
        jobs = 0
        for _, change in events:
            jobs += change
            assert jobs <= host_group(fleet, h).maxjobs
    assert result.makespan_seconds == pytest.approx(max(result.done))
    assert result.makespan_seconds >= result.bounds.lower_bound_seconds - 1e-6


@settings(max_examples=80, deadline=None)
@given(dags, st.data(), fleet_strategy(), st.sampled_from(POLICIES),
       st.sampled_from(["pipelined", "serial"]), st.sampled_from([0.0, 300.0]))
def test_every_policy_respects_dependencies_capacity_and_the_lower_bound(
        deps, data, fleet, policy, mode, regen):
    n = len(deps)
    durations = data.draw(st.lists(st.floats(10, 20000), min_size=n, max_size=n))
    noarch = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    workload = workload_for(deps, durations, noarch)
    config = SimConfig(repo_regen_seconds=regen, regen_mode=mode)
    try:
        result = simulate(workload, fleet, policy, config)
    except ValueError as exc:
        # a stock hub can hand a builder's every slot to parent build tasks, whose
        # subtasks then never start; the hub plugin keeps a slot for work
        assert policy != "discomy" and "koji never finishes" in str(exc), exc
        return
    check_invariants(workload, fleet, config, result)


def test_simulation_is_deterministic():
    deps = {f"p{i}": [f"p{j}" for j in range(i) if (i * j) % 3 == 1] for i in range(30)}
    workload = workload_for(deps, [100 + 37 * i for i in range(30)], [i % 4 == 0 for i in range(30)])
    fleet = Fleet((HostGroup("x", 2, ("x86_64", "aarch64"), 1.0, 4, 3),
                   HostGroup("y", 3, ("x86_64",), 0.5, 2, 2)))
    a = simulate(workload, fleet, "discomy")
    b = simulate(workload, fleet, "discomy")
    assert a.runs == b.runs and a.done == b.done


def test_the_simulators_pass_is_placements_and_with_no_data_stock_kojis(monkeypatch):
    # every pass of a koji-stock estimate, replayed through koji's own do_schedule
    seen = []
    real = simulator_module.schedule

    def recording(free, active, hosts, refusals, config, now):
        result = real(free, active, hosts, refusals, config, now)
        seen.append((free, active, hosts, config, result))
        return result

    monkeypatch.setattr(simulator_module, "schedule", recording)
    deps = {f"p{i}": [f"p{j}" for j in range(i) if (i + j) % 4 == 1] for i in range(24)}
    workload = workload_for(deps, [300 + 97 * i for i in range(24)], [i % 5 == 0 for i in range(24)])
    fleet = Fleet((HostGroup("big", 2, ("x86_64", "aarch64"), 2.0, 6, 4),
                   HostGroup("small", 3, ("x86_64",), 0.5, 2, 2),
                   HostGroup("repo", 1, ("x86_64",), 1.0, 3, 3, channels=("createrepo",))))
    simulate(workload, fleet, "koji-stock", SimConfig(max_in_flight=6))
    assert len(seen) > 20
    for free, active, hosts, config, result in seen:
        rows = [{"id": h.host_id, "name": h.name, "arches": " ".join(h.arches),
                 "channels": list(h.channels), "capacity": h.capacity, "ready": h.ready,
                 "task_load": 0.0, "update_ts": 0.0, "data": {"maxjobs": h.maxjobs}}
                for h in hosts]
        tasks = [{"task_id": t.task_id, "channel_id": t.channel_id, "arch": t.arch,
                  "weight": t.weight, "priority": t.priority, "create_ts": t.create_ts,
                  "method": t.method} for t in free]
        running = [{"task_id": a.task_id, "host_id": a.host_id, "weight": a.weight,
                    "waiting": a.waiting} for a in active]
        expected = stock_do_schedule(tasks, running, rows, {}, config.maxjobs,
                                     config.capacity_overcommit)
        assert [(a.task_id, a.host_id) for a in result.assignments] == expected


def test_a_build_is_kojis_task_tree_and_its_repo_a_newrepo_task():
    # one build alone: each hop waits for the next scheduler pass (at most one a minute)
    workload = workload_for({"a": []}, [600], [False])
    fleet = Fleet((HostGroup("h", 4, ("x86_64",), 1.0, 8, 4),))
    config = SimConfig(srpm_seconds=120, tag_seconds=10, repo_regen_seconds=300)
    result = simulate(workload, fleet, "koji-stock", config)
    assert result.repos == 1
    # build, SRPM, buildArch, tagBuild, newRepo, createrepo: six passes a minute apart
    assert result.passes == 6
    bound = lower_bound(workload, fleet, config)
    assert bound.critical_path_seconds == pytest.approx(60 + 120 + 600 + 60 + 60 + 300)
    assert result.makespan_seconds >= bound.lower_bound_seconds
    assert result.makespan_seconds < bound.lower_bound_seconds + 6 * 60 + 4 * 15 + 2 * 2


@pytest.mark.timeout(30)
def test_a_host_below_a_heavy_tasks_weight_takes_it_as_koji_does():
    # a day-long build weighs 19.5 once running, but koji admits it as a free task
    # at the default weight, so a capacity-2 builder still takes it
    workload = workload_for({"big": [], "small": []}, [86400, 600], [False, False])
    fleet = Fleet((HostGroup("little", 1, ("x86_64",), 1.0, 2.0, 4),))
    for policy in POLICIES:
        result = simulate(workload, fleet, policy, SimConfig(repo_regen_seconds=0))
        assert result.task_count == 2
        # while the heavy task runs the host is over capacity and takes nothing more
        small = next(r for r in result.runs if workload.names[r.build] == "small")
        big = next(r for r in result.runs if workload.names[r.build] == "big")
        assert small.end <= big.start or small.start >= big.end
        assert result.makespan_seconds >= 86400 + 600


def test_a_parent_build_task_holds_a_maxjobs_slot_while_it_waits():
    # two builds on one builder with maxjobs 2: stock koji gives both parents its two
    # slots and their SRPM tasks never start; a builder publishing Discomy data keeps
    # its last slot for work and the campaign ends
    workload = workload_for({"a": [], "b": []}, [600, 600], [False, False])
    fleet = Fleet((HostGroup("one", 1, ("x86_64",), 1.0, 8, 2),
                   HostGroup("repo", 1, ("x86_64",), 1.0, 8, 2, channels=("createrepo",))))
    with pytest.raises(ValueError, match="koji never finishes this campaign.*buildSRPMFromSCM "
                                         "of a: waits: 1 fitting host.s. busy: one-1: not ready"):
        simulate(workload, fleet, "koji-stock", SimConfig(max_in_flight=2))
    result = simulate(workload, fleet, "discomy", SimConfig(max_in_flight=2))
    assert result.build_count == 2 and result.makespan_seconds > 1200


def test_a_builder_opens_its_assigned_tasks_one_kojid_loop_apart():
    # builder/kojid takes one task per loop and loops again at once: three buildArch
    # tasks assigned to one builder in one pass open a loop apart, not at one instant
    workload = workload_for({"a": [], "b": [], "c": []}, [600] * 3, [False] * 3)
    fleet = Fleet((HostGroup("one", 1, ("x86_64",), 1.0, 16, 10),))
    for phase in (0.0, 0.5):
        at_once = simulate(workload, fleet, "koji-stock",
                           SimConfig(arches=("x86_64",), checkin_phase=phase))
        assert len({r.start for r in at_once.runs}) == 1
        looped = simulate(workload, fleet, "koji-stock",
                          SimConfig(arches=("x86_64",), checkin_phase=phase,
                                    kojid_cycle_seconds=3.0))
        starts = sorted(r.start for r in looped.runs)
        assert [b - a for a, b in zip(starts, starts[1:])] == pytest.approx([3.0, 3.0])
        assert looped.makespan_seconds > at_once.makespan_seconds


def test_where_the_builders_check_ins_fall_moves_a_small_campaign_only_a_little():
    workload = workload_for({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]},
                            [600, 300, 900, 480], [False] * 4)
    fleet = Fleet((HostGroup("x", 2, ("x86_64",), 1.0, 8, 4),))
    spans = [simulate(workload, fleet, "koji-stock",
                      SimConfig(arches=("x86_64",), checkin_phase=k / 8)).makespan_seconds
             for k in range(8)]
    # each hop waits for a check-in (15 s apart) at most once more or less
    assert max(spans) - min(spans) <= 6 * 15 + 15
    assert simulate(workload, fleet, "koji-stock", SimConfig(
        arches=("x86_64",), checkin_phase=0.25)).makespan_seconds == spans[2]


def test_repo_regenerations_run_on_the_createrepo_channels_hosts():
    workload = workload_for({"a": [], "b": ["a"]}, [600, 600], [False, False])
    slow_repo = Fleet((HostGroup("build", 2, ("x86_64",), 1.0, 8, 4, channels=("default",)),
                       HostGroup("repo", 1, ("x86_64",), 0.25, 8, 4, channels=("createrepo",))))
    fast_repo = Fleet((HostGroup("build", 2, ("x86_64",), 1.0, 8, 4, channels=("default",)),
                       HostGroup("repo", 1, ("x86_64",), 1.0, 8, 4, channels=("createrepo",))))
    config = SimConfig(repo_regen_seconds=600)
    slow, fast = (simulate(workload, f, "koji-stock", config) for f in (slow_repo, fast_repo))
    # two regenerations, each three times longer
    assert slow.makespan_seconds - fast.makespan_seconds == pytest.approx(2 * 1800, abs=200)
    no_repo = Fleet((HostGroup("build", 2, ("x86_64",), 1.0, 8, 4, channels=("default",)),))
    with pytest.raises(ValueError, match="no host in the fleet is in channel createrepo"):
        simulate(workload, no_repo, "koji-stock")


def test_discomy_priorities_put_the_longest_chain_first_on_the_fastest_host():
    # many short independent builds created first, one long chain; one fast host
    deps = {f"s{i:02d}": [] for i in range(20)}
    deps.update({"z0": [], "z1": ["z0"], "z2": ["z1"]})
    names = sorted(deps)
    durations = [3600 if n.startswith("z") else 600 for n in names]
    workload = workload_for(deps, durations, [False] * len(names))
    fleet = Fleet((HostGroup("fast", 1, ("x86_64",), 4.0, 16, 4),
                   HostGroup("slow", 6, ("x86_64",), 1.0, 4, 3)))
    ours = simulate(workload, fleet, "discomy")
    stock = simulate(workload, fleet, "koji-stock")
    chain = sorted((r for r in ours.runs if workload.names[r.build].startswith("z")),
                   key=lambda r: r.start)
    # the chain's head is first on the fast host, ahead of the 20 short builds created
    # with it, and every later link too: released while the fast host is full of short
    # builds, a link would end 45 min later on a slow host (the shipped wait_for_faster
    # is 5 min), so it waits for the fast one
    assert chain[0].start == min(r.start for r in ours.runs)
    assert [r.host for r in chain] == [0, 0, 0]
    assert ours.makespan_seconds < 0.6 * stock.makespan_seconds


def test_a_power_job_waits_for_the_strong_host_with_the_hub_plugin():
    # a ten-hour build (zz) released while a shorter one (aa, ahead of a longer chain)
    # holds the only strong host: with the shipped discomy.conf (power_after 2h) it waits
    # for that host rather than run four times slower on a weak one
    deps = {"aa": [], "ab": ["aa"], "y": [], "zz": ["y"]}
    workload = workload_for(deps, [7000, 60000, 60, 36000], [False] * 4)   # in name order
    fleet = Fleet((HostGroup("strong", 1, ("x86_64",), 2.0, 4, 1),
                   HostGroup("weak", 2, ("x86_64",), 0.5, 4, 3)))
    zz = workload.names.index("zz")
    ours = simulate(workload, fleet, "discomy")
    assert next(r for r in ours.runs if r.build == zz).host == 0
    hub = parse_config({"scheduler": {"power_after": "never"}})
    plain = simulate(workload, fleet, "discomy", SimConfig(), hub)
    assert next(r for r in plain.runs if r.build == zz).host != 0
    assert ours.done[zz] < plain.done[zz]


def test_package_constraints_keep_a_build_off_hosts_that_cannot_take_it():
    workload = workload_for({"llvm": [], "bash": []}, [1200, 600], [False, False])
    fleet = Fleet((HostGroup("big", 1, ("x86_64",), 1.0, 8, 4, memory_mb=65536),
                   HostGroup("small", 2, ("x86_64",), 1.0, 8, 4, memory_mb=8192)))
    hub = parse_config({"constraints": {"llvm": '{"memory": "32G"}'}})
    result = simulate(workload, fleet, "discomy", SimConfig(), hub)
    assert {r.host for r in result.runs if workload.names[r.build] == "llvm"} == {0}


def test_exclusive_arches_leave_the_other_arch_out():
    workload = workload_for({"fw": [], "app": []}, [600, 600], [False, False])
    from dataclasses import replace
    workload = replace(workload, exclusive=tuple(("x86_64",) if name == "fw" else ()
                                                 for name in workload.names))
    fleet = Fleet((HostGroup("x", 1, ("x86_64",), 1.0, 8, 4),
                   HostGroup("a", 1, ("aarch64",), 1.0, 8, 4)))
    result = simulate(workload, fleet, "koji-stock")
    arches = {workload.names[r.build]: set() for r in result.runs}
    for r in result.runs:
        arches[workload.names[r.build]].add(r.arch)
    assert arches == {"fw": {"x86_64"}, "app": {"x86_64", "aarch64"}}


def test_lower_bound_counts_kojis_passes_the_work_and_the_builds_in_flight():
    deps = {"a": [], "b": ["a"]}
    workload = workload_for(deps, [1000, 1000], [True, True])
    fleet = Fleet((HostGroup("h", 1, ("x86_64",), 2.0, 8, 4),))
    config = SimConfig(repo_regen_seconds=300, srpm_seconds=0, tag_seconds=0,
                       max_in_flight=1)
    bounds = lower_bound(workload, fleet, config)
    one = 60 + 60 + 500 + 60 + 60 + 150     # passes a minute apart, then the repo
    assert bounds.critical_path_seconds == pytest.approx(2 * one)
    assert bounds.work_seconds == pytest.approx(2000 / (2.0 * 4))
    assert bounds.flight_seconds == pytest.approx(2 * one)


def test_serial_regeneration_is_one_newrepo_at_a_time():
    deps = {f"p{i}": [] for i in range(6)}
    workload = workload_for(deps, [600] * 6, [False] * 6)
    fleet = Fleet((HostGroup("h", 6, ("x86_64",), 1.0, 16, 6),))
    serial = simulate(workload, fleet, "koji-stock", SimConfig(regen_mode="serial"))
    piped = simulate(workload, fleet, "koji-stock", SimConfig(regen_mode="pipelined"))
    assert serial.makespan_seconds >= piped.makespan_seconds


def test_the_deployments_koji_settings_move_the_estimate_and_the_bound():
    # a chain of four: every hop waits for a pass and a builder's check-in
    deps = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}
    workload = workload_for(deps, [300] * 4, [False] * 4)
    groups = [{"name": "h", "count": 2, "arches": ["x86_64"], "speed": 1.0, "capacity": 8,
               "maxjobs": 4}]
    stock = fleet_from_data(groups)
    quick = fleet_from_data({"koji": {"hub.conf": {"RunInterval": 20},
                                      "kojid.conf": {"sleeptime": 5}}, "groups": groups})
    slow = simulate(workload, stock, "koji-stock", SimConfig(**stock.koji.sim_settings()))
    fast = simulate(workload, quick, "koji-stock", SimConfig(**quick.koji.sim_settings()))
    assert fast.makespan_seconds < slow.makespan_seconds - 4 * 5 * 30   # > 30 s a pass saved
    assert fast.bounds.critical_path_seconds == pytest.approx(
        slow.bounds.critical_path_seconds - 4 * 3 * 40)
    # (per build, three of its passes wait for the run interval rather than a task:
    # the SRPM's, the newRepo's and its createrepo's; each comes 40 s sooner)
    # MaxRepoTasks 1 is the serial mode's one regeneration at a time
    assert SimConfig(max_repo_tasks=1).repo_tasks == SimConfig(regen_mode="serial").repo_tasks


def test_unknown_policy_and_the_retired_critical_path_are_rejected():
    workload = workload_for({"a": []}, [10], [True])
    fleet = Fleet((HostGroup("h", 1, ("x86_64",), 1.0, 2, 2),))
    for policy in ("fifo", "critical-path"):
        with pytest.raises(ValueError, match="unknown policy"):
            simulate(workload, fleet, policy)


def test_a_fleet_whose_hosts_can_never_take_a_task_is_a_clear_error():
    workload = workload_for({"a": []}, [10], [False])
    fleet = Fleet((HostGroup("tiny", 1, ("x86_64",), 1.0, 0.5, 2),))
    with pytest.raises(ValueError, match="no host ever takes a noarch task .channel default.: "
                                         "koji needs a capacity above 1 with overcommit 0"):
        simulate(workload, fleet, "koji-stock", SimConfig(overcommit=0))


@pytest.mark.parametrize("change, message", [
    ({"repo_regen_seconds": float("nan")}, "repo_regen_seconds: must be a number of seconds "
                                           "from 0 to 86400 .1 day., got nan"),
    ({"repo_regen_seconds": float("inf")}, "repo_regen_seconds: .* got inf"),
    ({"repo_regen_seconds": -100}, "repo_regen_seconds: .* got -100"),
    ({"repo_regen_seconds": 86401}, "repo_regen_seconds: .* got 86401"),
    ({"repo_regen_seconds": "300"}, "repo_regen_seconds: .* got '300'"),
    ({"regen_mode": "parallel"}, "regen_mode: unknown regen mode 'parallel'"),
    ({"arches": "x86_64"}, "arches: expected arch names"),
    ({"overcommit": float("nan")}, "overcommit: must be a number from 0 to 1000, got nan"),
    ({"run_interval": 0}, "run_interval: must be a number above 0 to 3600, got 0"),
    ({"max_in_flight": 0}, "max_in_flight: must be a whole number from 1"),
    ({"checkin_phase": 1.5}, "checkin_phase: must be a number from 0 to 1, got 1.5"),
    ({"kojid_cycle_seconds": -1}, "kojid_cycle_seconds: must be a number from 0"),
    ({"priority_high": 40}, "priority_high: must not be above priority_low"),
    ({"max_repo_tasks": 0}, "max_repo_tasks: must be a whole number from 1 to 1000"),
])
def test_simulation_settings_out_of_bounds_are_rejected_naming_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        SimConfig(**change)


def test_koji_facts_are_kojis_defaults():
    config = SimConfig()
    assert (config.run_interval, config.sleeptime, config.maxjobs, config.overcommit) == \
        (60.0, 15.0, 15, 5.0)
    assert config.max_repo_tasks == config.repo_tasks == km.MAX_REPO_TASKS == 10
    assert SimConfig(regen_mode="serial").repo_tasks == 1
    # a day-long average adds the capped 18 to buildArch's 1.5
    assert km.buildarch_weight(86400) == 19.5 and km.FREE_TASK_WEIGHT == 1.0
    assert isinstance(simulator_module.SHIPPED_HUB, PlacementConfig)


def test_the_estimate_assumes_the_shipped_hub_config():
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(Path(__file__).resolve().parents[2] / "koji-plugins" / "hub" / "discomy.conf")
    shipped = parse_config({name: dict(parser.items(name)) for name in parser.sections()})
    assert replace(shipped, trust=SHIPPED_HUB.trust) == SHIPPED_HUB


def test_parents_filling_the_covered_slow_hosts_never_stall_the_campaign():
    # one fast host with two slots covers four slow ones with one slot each: the
    # parents of 24 builds in flight at once may fill every slow slot, and the fast
    # host's last slot still runs their subtasks
    deps = {f"p{i:02d}": [] for i in range(24)}
    workload = workload_for(deps, [600] * 24, [False] * 24)
    fleet = Fleet((HostGroup("fast", 1, ("x86_64",), 2.0, 16, 2),
                   HostGroup("slow", 4, ("x86_64",), 0.5, 16, 1)))
    config = SimConfig(max_in_flight=24)
    result = simulate(workload, fleet, "discomy", config)
    check_invariants(workload, fleet, config, result)
    assert result.build_count == 24 and len(result.runs) == 24
