"""Estimator invariants: dependencies and repo regenerations respected, hosts never
over capacity or maxjobs, makespan never below the lower bound, policies as documented."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from discomy.planning.fleet import KOJI_FREE_TASK_WEIGHT, Fleet, HostGroup
from discomy.planning.graph import graph_from_mapping
from discomy.planning.planner import make_plan
from discomy.planning.simulator import (NOARCH, POLICIES, SimConfig, build_arches, lower_bound, simulate,
                               task_weight, workload_from_plan)

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
    maxjobs=st.integers(1, 4),
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


def check_invariants(workload, fleet, config, result):
    regen = config.repo_regen_seconds
    arches_of = build_arches(workload, fleet, config)
    by_build: dict = {}
    for run in result.runs:
        by_build.setdefault(run.build, []).append(run)
    # every build ran once per build arch
    for i in range(len(workload)):
        assert sorted(r.arch for r in by_build[i]) == sorted(arches_of[i])
    end = {i: max(r.end for r in runs) for i, runs in by_build.items()}
    for i, runs in by_build.items():
        for run in runs:
            # never before a dependency is built and in the buildroot
            for d in workload.deps[i]:
                assert run.start >= end[d] + regen - 1e-6
            if result.policy == "tiered" and workload.tiers[i] > 0:
                prev = [j for j in range(len(workload)) if workload.tiers[j] == workload.tiers[i] - 1]
                assert run.start >= max(end[j] for j in prev) + regen - 1e-6
            # on a host that builds the arch, at the host's speed
            group = fleet.groups[_group_of(fleet, run.host)]
            assert run.arch == NOARCH or run.arch in group.arches
            assert run.end - run.start == pytest.approx(workload.durations[i] / group.speed)
    # hosts never exceed maxjobs, and each start passes koji's capacity check: a free
    # task weighs the task table's default, a running one its buildArch weight
    for h in {r.host for r in result.runs}:
        group = fleet.groups[_group_of(fleet, h)]
        events = sorted([(r.start, 1, r) for r in result.runs if r.host == h]
                        + [(r.end, -1, r) for r in result.runs if r.host == h],
                        key=lambda e: (e[0], e[1]))
        load, jobs = 0.0, 0
        for _, kind, run in events:
            if kind == 1:
                assert jobs < group.maxjobs
                assert group.capacity - load > max(0.0, KOJI_FREE_TASK_WEIGHT - config.overcommit)
            load += kind * task_weight(workload.durations[run.build])
            jobs += kind
    assert result.makespan_seconds >= result.bounds.lower_bound_seconds - 1e-6


def _group_of(fleet, host):
    for gi, g in enumerate(fleet.groups):
        if host < g.count:
            return gi
        host -= g.count
    raise AssertionError("host outside the fleet")


@settings(max_examples=120, deadline=None)
@given(dags, st.data(), fleet_strategy(), st.sampled_from(POLICIES),
       st.sampled_from(["pipelined", "serial"]), st.sampled_from([0.0, 300.0]))
def test_every_policy_respects_dependencies_capacity_and_the_lower_bound(
        deps, data, fleet, policy, mode, regen):
    n = len(deps)
    durations = data.draw(st.lists(st.floats(10, 20000), min_size=n, max_size=n))
    noarch = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    workload = workload_for(deps, durations, noarch)
    config = SimConfig(repo_regen_seconds=regen, regen_mode=mode)
    result = simulate(workload, fleet, policy, config)
    check_invariants(workload, fleet, config, result)


def test_simulation_is_deterministic():
    deps = {f"p{i}": [f"p{j}" for j in range(i) if (i * j) % 3 == 1] for i in range(30)}
    workload = workload_for(deps, [100 + 37 * i for i in range(30)], [i % 4 == 0 for i in range(30)])
    fleet = Fleet((HostGroup("x", 2, ("x86_64", "aarch64"), 1.0, 4, 2),
                   HostGroup("y", 3, ("x86_64",), 0.5, 2, 1)))
    a = simulate(workload, fleet, "critical-path")
    b = simulate(workload, fleet, "critical-path")
    assert a.runs == b.runs


def test_critical_path_policy_sends_the_long_chain_to_the_fast_host():
    # one long chain and many short independent builds; one fast and many slow hosts
    # the chain is created last, so koji's creation order hands the fast host to a short build
    deps = {"z0": [], "z1": ["z0"], "z2": ["z1"]}
    deps.update({f"s{i}": [] for i in range(12)})
    names = sorted(deps)
    durations = [3600 if n.startswith("z") else 600 for n in names]
    workload = workload_for(deps, durations, [True] * len(names))
    fleet = Fleet((HostGroup("fast", 1, ("x86_64",), 4.0, 2, 1),
                   HostGroup("slow", 6, ("x86_64",), 1.0, 2, 1)))
    config = SimConfig(repo_regen_seconds=0)
    ours = simulate(workload, fleet, "critical-path", config)
    stock = simulate(workload, fleet, "koji-stock", config)
    chain_hosts = {r.host for r in ours.runs if workload.names[r.build].startswith("z")}
    assert chain_hosts == {0}
    assert ours.makespan_seconds == pytest.approx(3 * 900)
    assert ours.makespan_seconds < stock.makespan_seconds


def test_lower_bound_is_the_larger_of_chain_and_throughput():
    deps = {"a": [], "b": ["a"]}
    workload = workload_for(deps, [1000, 1000], [True, True])
    fleet = Fleet((HostGroup("h", 1, ("x86_64",), 2.0, 8, 1),))
    bounds = lower_bound(workload, fleet, SimConfig(repo_regen_seconds=300))
    assert bounds.critical_path_seconds == pytest.approx(500 + 300 + 500)
    assert bounds.work_seconds == pytest.approx(2000 / 2.0)
    assert bounds.lower_bound_seconds == pytest.approx(1300)


def test_serial_regeneration_makes_a_build_wait_for_the_running_one():
    # b finishes while a's regeneration runs, so c (needs b) waits for a second one
    deps = {"a": [], "b": [], "c": ["b"]}
    workload = workload_for(deps, [100, 200, 10], [True] * 3)
    fleet = Fleet((HostGroup("h", 2, ("x86_64",), 1.0, 8, 2),))
    serial = simulate(workload, fleet, "koji-stock", SimConfig(300, "serial"))
    piped = simulate(workload, fleet, "koji-stock", SimConfig(300, "pipelined"))
    start_c = lambda r: next(x.start for x in r.runs if workload.names[x.build] == "c")
    assert start_c(piped) == pytest.approx(200 + 300)
    assert start_c(serial) == pytest.approx(100 + 300 + 300)


def test_unknown_policy_is_rejected():
    workload = workload_for({"a": []}, [10], [True])
    with pytest.raises(ValueError, match="unknown policy"):
        simulate(workload, Fleet((HostGroup("h", 1, ("x86_64",), 1.0, 2, 1),)), "fifo")


@pytest.mark.timeout(30)
def test_a_host_below_a_heavy_tasks_weight_takes_it_as_koji_does():
    # a day-long build weighs 19.5 once running, but koji admits it as a free task
    # at the default weight, so a capacity-2 builder still takes it
    workload = workload_for({"big": [], "small": []}, [86400, 600], [False, False])
    fleet = Fleet((HostGroup("little", 1, ("x86_64",), 1.0, 2.0, 2),))
    for policy in POLICIES:
        result = simulate(workload, fleet, policy, SimConfig(repo_regen_seconds=0))
        assert result.task_count == 2
        assert result.makespan_seconds == pytest.approx(86400 + 600)
        # while the heavy task runs the host is over capacity and takes nothing more
        small = next(r for r in result.runs if workload.names[r.build] == "small")
        big = next(r for r in result.runs if workload.names[r.build] == "big")
        assert small.end <= big.start or small.start >= big.end
        check_invariants(workload, fleet, SimConfig(repo_regen_seconds=0), result)


def test_a_fleet_whose_hosts_can_never_take_a_task_is_a_clear_error():
    workload = workload_for({"a": []}, [10], [False])
    fleet = Fleet((HostGroup("tiny", 1, ("x86_64",), 1.0, 0.5, 2),))
    with pytest.raises(ValueError, match="no x86_64 host ever takes a task: koji needs a "
                                         "capacity above 1 with overcommit 0"):
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
])
def test_simulation_settings_out_of_bounds_are_rejected_naming_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        SimConfig(**change)


def test_a_negative_regeneration_cannot_lower_the_lower_bound():
    # the bound counts one regeneration per release edge: a negative one would shrink it
    with pytest.raises(ValueError, match="repo_regen_seconds"):
        SimConfig(repo_regen_seconds=-100)
    workload = workload_for({"a": [], "b": ["a"]}, [100, 100], [False, False])
    fleet = Fleet((HostGroup("h", 1, ("x86_64",), 1.0, 4, 2),))
    assert lower_bound(workload, fleet, SimConfig(0)).lower_bound_seconds == 200
