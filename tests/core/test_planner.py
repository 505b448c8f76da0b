"""Plans: affected set, tiers, cycles, critical path, release edges, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from discomy.planning.graph import BuildGraph, graph_from_mapping
from discomy.planning.planner import PlanError, make_plan, release_ready

CHAIN = {
    "parsekit": ["corelib"],
    "alpha": ["parsekit", "beta"],
    "beta": ["alpha"],
    "appsuite": ["alpha", "beta", "parsekit"],
    "standalone": [],
    "corelib": [],
}


def test_change_in_the_bottom_package_rebuilds_the_chain_in_dependency_order():
    plan = make_plan(graph_from_mapping(CHAIN), ["corelib"])
    assert set(plan.affected) == {"parsekit", "alpha", "beta", "appsuite"}
    assert plan.tiers == (("parsekit",), ("alpha",), ("beta",), ("appsuite",))
    assert plan.cycles == (("alpha", "beta"),)
    assert "standalone" not in plan.affected and "corelib" not in plan.affected


def test_cycle_member_is_built_against_the_previous_build_of_its_partner():
    plan = make_plan(graph_from_mapping(CHAIN), ["corelib"])
    assert plan.nodes["alpha"].bootstrap_deps == ("beta",)
    assert plan.nodes["alpha"].deps == ("parsekit",)
    assert plan.nodes["beta"].deps == ("alpha",)
    assert plan.nodes["alpha"].cycle == 0 and plan.nodes["parsekit"].cycle is None


def test_changed_package_inside_a_cycle_is_rebuilt_with_it():
    plan = make_plan(graph_from_mapping(CHAIN), ["alpha"])
    assert set(plan.affected) == {"alpha", "beta", "appsuite"}


def test_critical_path_uses_given_durations_over_the_size_model():
    durations = {"parsekit": 100, "alpha": 10, "beta": 10, "appsuite": 1000}
    plan = make_plan(graph_from_mapping(CHAIN), ["corelib"], durations=durations)
    assert plan.critical_path == ("parsekit", "alpha", "beta", "appsuite")
    assert plan.critical_path_seconds == pytest.approx(1120)
    assert plan.nodes["parsekit"].remaining_seconds == pytest.approx(1120)
    assert plan.nodes["appsuite"].remaining_seconds == pytest.approx(1000)


def test_changed_set_accepts_nvrs():
    plan = make_plan(graph_from_mapping(CHAIN), ["corelib-1.2-1.el9"])
    assert plan.changed == ("corelib",)


def test_unknown_package_error_suggests_close_names():
    with pytest.raises(PlanError, match="did you mean corelib"):
        make_plan(graph_from_mapping(CHAIN), ["corelb"])


def test_empty_changed_set_is_an_error():
    with pytest.raises(PlanError, match="empty"):
        make_plan(graph_from_mapping(CHAIN), [" ", ""])


def test_excluded_package_stops_the_propagation_through_it():
    plan = make_plan(graph_from_mapping(CHAIN), ["corelib"], exclude=["parsekit"])
    assert plan.affected == ()
    assert plan.excluded == ("parsekit",)


def test_per_edge_release_frees_a_node_once_its_own_dependencies_are_done():
    deps = {"a": ["base"], "b": ["base"], "c": ["a"], "d": ["b"], "base": []}
    plan = make_plan(graph_from_mapping(deps), ["base"])
    assert sorted(release_ready(plan, [])) == ["a", "b"]
    # per edge, c goes as soon as a is done, although b (same tier as a) is not
    assert sorted(release_ready(plan, ["a"])) == ["b", "c"]


def test_mass_rebuild_plans_every_package():
    plan = make_plan(graph_from_mapping(CHAIN), [], rebuild_all=True)
    assert set(plan.affected) == set(CHAIN)
    assert plan.tiers[0] == ("corelib", "standalone")


def test_json_object_has_the_documented_keys():
    out = make_plan(graph_from_mapping(CHAIN), ["corelib"]).to_dict()
    for key in ("affected", "tiers", "cycles", "critical_path", "critical_path_seconds", "nodes"):
        assert key in out


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.permutations([f"p{i}" + ('"é\\' if i % 2 else "") for i in range(n)]),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30),
    st.lists(st.integers(0, n - 1), min_size=1, max_size=3))))
def test_json_nodes_agree_with_each_node_whatever_the_name_order(case):
    # and the JSON text written directly is the JSON of the dict
    names, edges, changed = case
    graph = BuildGraph.from_edges(names, np.array([a for a, _ in edges], dtype=np.int64),
                                  np.array([b for _, b in edges], dtype=np.int64))
    plan = make_plan(graph, [names[i] for i in changed])
    assert json.loads(plan.to_json({"depth": "direct"})) == {**plan.to_dict(), "depth": "direct"}
    nodes = plan.to_dict()["nodes"]
    assert list(nodes) == list(plan.affected)
    for name, out in nodes.items():
        node = plan.node(name)
        assert out["tier"] == node.tier
        assert out["deps"] == list(node.deps)
        assert out["bootstrap_deps"] == list(node.bootstrap_deps)
        assert out["duration_seconds"] == round(node.duration_seconds, 3)
        assert out["remaining_seconds"] == round(node.remaining_seconds, 3)


def test_changed_packages_named_by_nvr_are_read_with_kojis_parser(dataset_graph):
    from discomy.common.nvr import name_of_nvr, name_of_srpm
    from discomy.planning.planner import make_plan

    assert name_of_nvr("zlib-1.3-2.el9") == "zlib" and name_of_nvr("zlib") is None
    assert name_of_nvr("-1-2") is None
    assert name_of_srpm("llvm-17.0.6-1.el9.src.rpm") == "llvm"
    assert name_of_srpm("llvm-17.0.6-1.el9.x86_64.rpm") is None
    name = dataset_graph.names[0]
    assert make_plan(dataset_graph, [f"{name}-9.9-1.el9"]).changed == (name,)
