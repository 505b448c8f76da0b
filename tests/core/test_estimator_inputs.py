"""The estimator's boundaries: fleet files, durations and simulation settings are
outside input. Whatever they hold, the core answers with a one-line FleetError /
ValueError or with values in bounds, and a simulation of what it accepts ends."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from discomy.planning.durations import MAX_SECONDS, validate_durations
from discomy.planning.fleet import (MAX_CAPACITY, MAX_CPUS, MAX_GROUP_HOSTS, MAX_MAXJOBS, MAX_SPEED,
                           MIN_SPEED, FleetError, HostGroup, fleet_from_data)
from discomy.planning.graph import graph_from_mapping
from discomy.planning.planner import make_plan
from discomy.planning.simulator import (MAX_REPO_REGEN_SECONDS, POLICIES, REGEN_MODES, SimConfig, simulate,
                               workload_from_plan)

# what YAML and JSON parsers hand over, and a few values that broke the estimator
odd_numbers = st.sampled_from([float("nan"), float("inf"), -float("inf"), 10 ** 400, -10 ** 400,
                               2 ** 63, 1e308, -0.0, 1e-300, 0, -1])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), odd_numbers,
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
yamlish = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers(), st.none()), children,
                        max_size=4)),
    max_leaves=16)


# accepted values, extremes included
accepted_groups = st.builds(
    dict,
    name=st.sampled_from(["a", "b", "c"]),
    count=st.integers(1, 3),
    arches=st.sampled_from([["x86_64"], ["aarch64"], ["x86_64", "aarch64"], "x86_64 aarch64"]),
    speed=st.one_of(st.sampled_from([MIN_SPEED, MAX_SPEED]), st.floats(MIN_SPEED, MAX_SPEED)),
    capacity=st.one_of(st.sampled_from([1e-9, 0.5, MAX_CAPACITY]), st.floats(0.01, MAX_CAPACITY)),
    maxjobs=st.one_of(st.sampled_from([1, MAX_MAXJOBS]), st.integers(1, 20)))
near_bounds = st.sampled_from([0, 0.0, 1e-9, 0.009, 0.5, 1, 1.5, 100, 100.5, 1000, 1000.1, 1001,
                               4096, 4097, 10_000, 10_001, 100_000])


@st.composite
def group_like(draw):
    """An accepted group with one or two keys made odd: reaches every check."""
    group = draw(accepted_groups)
    for key in draw(st.lists(st.sampled_from(sorted(group) + ["cpus", "memory", "disk", "colour"]),
                             max_size=2, unique=True)):
        if draw(st.booleans()) and key in group:
            del group[key]
        else:
            group[key] = draw(st.one_of(near_bounds, scalars, yamlish,
                                        st.sampled_from(["16G", "2T", "-1G", "9" * 30 + "T",
                                                         ["noarch"], [""], ["a b"]])))
    return group


fleet_files = st.one_of(yamlish, st.lists(group_like(), max_size=3),
                        st.lists(group_like(), max_size=2).map(lambda gs: {"groups": gs}))


def one_line(exc: Exception) -> bool:
    text = str(exc)
    return bool(text) and "\n" not in text and len(text) < 400


def in_bounds(group: HostGroup) -> bool:
    numbers = (group.count, group.speed, group.capacity, group.maxjobs)
    return (all(math.isfinite(x) for x in numbers)
            and 1 <= group.count <= MAX_GROUP_HOSTS and MIN_SPEED <= group.speed <= MAX_SPEED
            and 0 < group.capacity <= MAX_CAPACITY and 1 <= group.maxjobs <= MAX_MAXJOBS
            and (group.cpus is None or 1 <= group.cpus <= MAX_CPUS)
            and all(a and a.split() == [a] for a in group.arches))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet_files)
def test_any_fleet_file_is_a_fleet_in_bounds_or_one_line_fleet_error(data):
    try:
        fleet = fleet_from_data(data, "fleet.yaml")
    except FleetError as exc:
        assert one_line(exc) and str(exc).startswith("fleet.yaml: ")
        return
    assert fleet.groups and all(in_bounds(g) for g in fleet.groups)


@settings(max_examples=300, deadline=None)
@given(st.one_of(yamlish, st.dictionaries(st.one_of(st.text(max_size=10), st.integers()),
                                          st.one_of(scalars, st.floats(0, 2 * MAX_SECONDS)),
                                          max_size=6)))
def test_any_durations_file_is_seconds_in_bounds_or_one_line_value_error(data):
    try:
        durations = validate_durations(data, "durations.json")
    except ValueError as exc:
        assert one_line(exc) and str(exc).startswith("durations.json: ")
        return
    assert all(isinstance(n, str) and n for n in durations)
    assert all(0 <= s <= MAX_SECONDS for s in durations.values())


@pytest.mark.parametrize("text", ['{"parsekit": 1e400}', '{"parsekit": NaN}',
                                  '{"parsekit": -Infinity}', '{"parsekit": 2592001}'])
def test_durations_json_that_is_not_finite_or_over_30_days_names_the_package(text):
    with pytest.raises(ValueError, match=r"durations.json: 'parsekit': .* is not a number of "
                                         r"seconds from 0 to 2592000 \(30 days\)"):
        validate_durations(json.loads(text), "durations.json")


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "repo_regen_seconds": st.one_of(scalars, st.floats(-10, 2 * MAX_REPO_REGEN_SECONDS)),
    "regen_mode": st.one_of(st.sampled_from(REGEN_MODES), scalars),
    "arches": st.one_of(st.lists(st.sampled_from(["x86_64", "aarch64", "", "a b"]), max_size=3)
                        .map(tuple), scalars),
    "overcommit": st.one_of(scalars, st.floats(-1, 2000))}))
def test_any_simulation_settings_are_in_bounds_or_one_line_value_error(values):
    try:
        config = SimConfig(**values)
    except ValueError as exc:
        assert one_line(exc) and str(exc).split(":")[0] in values
        return
    assert 0 <= config.repo_regen_seconds <= MAX_REPO_REGEN_SECONDS
    assert 0 <= config.overcommit <= MAX_CAPACITY and config.regen_mode in REGEN_MODES


dags = st.integers(min_value=1, max_value=10).flatmap(
    lambda n: st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20).map(
        lambda edges, n=n: {f"p{i}": sorted({f"p{b}" for a, b in edges if a == i and b < a})
                            for i in range(n)}))


@pytest.mark.timeout(600)
@settings(max_examples=150, deadline=10_000, suppress_health_check=[HealthCheck.too_slow])
@given(dags, st.data(),
       st.lists(accepted_groups, min_size=1, max_size=3, unique_by=lambda g: g["name"]),
       st.sampled_from(POLICIES), st.sampled_from(REGEN_MODES),
       st.one_of(st.sampled_from([0.0, MAX_REPO_REGEN_SECONDS]), st.floats(0, 3600)),
       st.one_of(st.just(5.0), st.floats(0, MAX_CAPACITY)))
def test_the_simulation_of_accepted_inputs_always_ends_with_finite_numbers(
        deps, data, groups, policy, mode, regen, overcommit):
    fleet = fleet_from_data(groups)
    names = sorted(deps)
    seconds = data.draw(st.lists(st.one_of(st.sampled_from([0.0, MAX_SECONDS]),
                                           st.floats(0, MAX_SECONDS)),
                                 min_size=len(names), max_size=len(names)))
    durations = validate_durations(dict(zip(names, seconds)))
    noarch = data.draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    graph = graph_from_mapping(deps, noarch=[n for n, flag in zip(names, noarch) if flag])
    workload = workload_from_plan(make_plan(graph, [], rebuild_all=True, durations=durations))
    config = SimConfig(repo_regen_seconds=regen, regen_mode=mode, overcommit=overcommit)
    try:
        result = simulate(workload, fleet, policy, config)
    except ValueError as exc:
        # only a fleet koji itself would never give a task to is refused
        # or a fleet on which koji itself never ends: every slot held by parent tasks
        assert "ever takes a" in str(exc) or "never finishes" in str(exc)
        assert "\n" not in str(exc)
        return
    assert math.isfinite(result.makespan_seconds)
    assert result.makespan_seconds >= result.bounds.lower_bound_seconds - 1e-6 * max(
        1.0, result.bounds.lower_bound_seconds)
    assert len({(r.build, r.arch) for r in result.runs}) == result.task_count
