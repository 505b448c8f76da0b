"""The whole-distribution dataset: figures from its README, recomputed by the planner."""

from __future__ import annotations

import numpy as np

from discomy.planning.planner import make_plan
from discomy.planning.repodata import load_graph


def test_whole_distribution_loads_with_every_source_and_edge(dataset_graph):
    assert len(dataset_graph) == 34288
    assert dataset_graph.edge_count == 250366
    assert len(dataset_graph.self_dependent) == 51


def test_reverse_closures_match_the_dataset_readme(dataset_graph):
    # README: "Reverse build-dep closure (direct / transitive): zlib 1,435 / 34,272 ... rpm 18 / 38,
    # libsolv 3 / 7"
    for name, direct, transitive in [("zlib", 1435, 34272), ("rpm", 18, 38), ("libsolv", 3, 7)]:
        assert len(dataset_graph.rdeps_of(name)) == direct
        assert len(make_plan(dataset_graph, [name]).affected) == transitive


def test_mass_rebuild_tiers_cover_every_package_once(dataset_graph):
    plan = make_plan(dataset_graph, [], rebuild_all=True)
    flat = [name for tier in plan.tiers for name in tier]
    assert len(flat) == len(set(flat)) == 34288
    assert plan.critical_path_seconds > 0


def test_the_graph_read_from_the_cache_is_the_derived_graph(dataset, dataset_cache, dataset_graph):
    cached = load_graph([dataset / "source", dataset / "binary"], cache_dir=dataset_cache)
    assert cached is not dataset_graph
    ours, theirs = cached.to_arrays(), dataset_graph.to_arrays()
    assert ours.keys() == theirs.keys()
    assert [k for k in ours if not np.array_equal(ours[k], theirs[k])] == []
