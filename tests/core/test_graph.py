"""Graph decisions: reverse closure, cycles and bootstrap order, tiers, critical path."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings, strategies as st

from discomy.planning.graph import (BuildGraph, critical_path, graph_from_mapping,
                           reverse_closure, schedule)


# -- independent reference implementations -----------------------------------

def naive_rdeps(deps: dict) -> dict:
    out = {n: set() for n in deps}
    for n, ds in deps.items():
        for d in ds:
            out.setdefault(d, set()).add(n)
    return out


def naive_closure(deps: dict, seeds) -> set:
    rdeps = naive_rdeps(deps)
    seen, stack = set(), list(seeds)
    while stack:
        for u in rdeps.get(stack.pop(), ()):
            if u not in seen:
                seen.add(u)
                stack.append(u)
    return seen


def reachable(deps: dict, a, b) -> bool:
    seen, stack = set(), [a]
    while stack:
        x = stack.pop()
        for d in deps.get(x, ()):
            if d == b:
                return True
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return False


graphs = st.integers(min_value=1, max_value=14).flatmap(
    lambda n: st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40)
    .map(lambda edges, n=n: {f"p{i}": sorted({f"p{b}" for a, b in edges if a == i}) for i in range(n)}))


def build(deps: dict) -> BuildGraph:
    return graph_from_mapping(deps)


# -- tests -------------------------------------------------------------------

def test_reverse_closure_follows_dependents_transitively_and_not_dependencies():
    g = build({"app": ["lib"], "lib": ["base"], "base": [], "tool": ["base"], "other": []})
    mask = reverse_closure(g, np.array([g.index_of("lib")]))
    assert {g.names[i] for i in np.flatnonzero(mask)} == {"app"}


def test_blocked_packages_are_neither_included_nor_traversed():
    g = build({"app": ["mid"], "mid": ["lib"], "lib": []})
    blocked = np.zeros(len(g), dtype=bool)
    blocked[g.index_of("mid")] = True
    assert not reverse_closure(g, np.array([g.index_of("lib")]), blocked).any()


def test_self_build_requires_is_recorded_and_dropped():
    g = build({"gcc": ["gcc", "glibc"], "glibc": []})
    assert g.self_dependent == {"gcc"}
    assert [d for d, _ in g.deps_of("gcc")] == ["glibc"]


def test_two_package_cycle_gets_one_bootstrap_edge():
    g = build({"alpha": ["beta"], "beta": ["alpha"]})
    assert g.cycle_names() == [["alpha", "beta"]]
    assert int(g.dep_bootstrap.sum()) == 1
    # alpha goes first and is built against the previous beta
    i = g.index_of("alpha")
    assert g.dep_bootstrap[g.dep_indptr[i]]


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_bootstrap_order_breaks_at_most_half_of_each_cycles_edges(deps):
    # Eades-Lin-Smyth never breaks more than half of the edges
    g = build(deps)
    for members in g.cycles:
        inner = [(s, int(d), bool(b)) for s in members
                 for d, b in zip(g.dep_indices[g.dep_indptr[s]:g.dep_indptr[s + 1]],
                                 g.dep_bootstrap[g.dep_indptr[s]:g.dep_indptr[s + 1]])
                 if int(d) in members]
        broken = sum(b for _, _, b in inner)
        assert 1 <= broken <= len(inner) / 2
        position = {m: k for k, m in enumerate(members)}
        for s, d, b in inner:
            assert b == (position[d] > position[s])


@settings(max_examples=200, deadline=None)
@given(graphs, st.data())
def test_closure_from_several_seeds_matches_a_naive_search(deps, data):
    g = build(deps)
    seeds = data.draw(st.lists(st.sampled_from(sorted(deps)), min_size=1, max_size=4, unique=True))
    clean = {k: [d for d in v if d != k] for k, v in deps.items()}
    mask = reverse_closure(g, np.array([g.index_of(s) for s in seeds]))
    assert {g.names[i] for i in np.flatnonzero(mask)} == naive_closure(clean, seeds)
    # the same answer through the blocked-aware search
    none_blocked = np.zeros(len(g), dtype=bool)
    assert (reverse_closure(g, np.array([g.index_of(s) for s in seeds]), none_blocked) == mask).all()


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_closure_matches_a_naive_search(deps):
    g = build(deps)
    for seed in list(deps)[:3]:
        mask = reverse_closure(g, np.array([g.index_of(seed)]))
        assert {g.names[i] for i in np.flatnonzero(mask)} == naive_closure(
            {k: [d for d in v if d != k] for k, v in deps.items()}, [seed])


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_cycles_are_exactly_the_mutually_reachable_groups(deps):
    g = build(deps)
    clean = {k: [d for d in v if d != k] for k, v in deps.items()}
    for a, b in itertools.combinations(sorted(deps), 2):
        same = g.scc[g.index_of(a)] == g.scc[g.index_of(b)]
        assert same == (reachable(clean, a, b) and reachable(clean, b, a))
    for cycle in g.cycle_names():
        assert len(cycle) >= 2


@settings(max_examples=200, deadline=None)
@given(graphs, st.data())
def test_tiers_are_longest_path_levels_and_every_release_edge_points_back(deps, data):
    g = build(deps)
    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(g), max_size=len(g))))
    durations = np.asarray(data.draw(st.lists(st.floats(1, 1000), min_size=len(g), max_size=len(g))))
    s = schedule(g, mask, durations)
    members = set(np.flatnonzero(mask).tolist())
    assert set(s.members.tolist()) == members
    # reference: longest path over non-bootstrap member edges, by plain recursion
    acyclic = {i: [] for i in members}
    for i in members:
        lo, hi = g.dep_indptr[i], g.dep_indptr[i + 1]
        for d, boot in zip(g.dep_indices[lo:hi], g.dep_bootstrap[lo:hi]):
            if int(d) in members and not boot:
                acyclic[i].append(int(d))
    memo, fin = {}, {}

    def level(i):
        if i not in memo:
            memo[i] = 1 + max((level(d) for d in acyclic[i]), default=-1)
        return memo[i]

    def finish(i):
        if i not in fin:
            fin[i] = durations[i] + max((finish(d) for d in acyclic[i]), default=0.0)
        return fin[i]

    for i in members:
        assert s.level[i] == level(i)
        assert np.isclose(s.finish[i], finish(i))
        for d in acyclic[i]:
            assert s.level[d] < s.level[i]
    # members come out in tier order
    assert list(s.level[s.members]) == sorted(s.level[s.members])
    if members:
        path = critical_path(g, mask, s)
        assert np.isclose(sum(durations[i] for i in path), max(fin.values()))
        for a, b in zip(path, path[1:]):
            assert a in acyclic[b]
        # remaining = longest path starting at a node; the first node of the path has it all
        assert np.isclose(s.remaining[path[0]], max(fin.values()))


def test_dependency_on_an_unknown_node_is_rejected():
    import pytest

    with pytest.raises(ValueError):
        BuildGraph.from_edges(["a"], [0], [3])


def assert_same_graph(a: BuildGraph, b: BuildGraph) -> None:
    for field in ("names", "evrs", "cycles", "unresolved", "uninstallable", "self_dependent"):
        assert getattr(a, field) == getattr(b, field), field
    for field in ("sizes", "artifact_sizes", "noarch", "dep_indptr", "dep_indices",
                  "dep_distance", "dep_bootstrap", "rdep_indptr", "rdep_indices",
                  "rdep_distance", "rdep_bootstrap", "scc", "cycle_of"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and (x == y).all(), field
    for field in ("level", "fwd_user", "fwd_dep", "fwd_bounds", "bwd_user", "bwd_dep",
                  "bwd_bounds"):
        x, y = getattr(a.build_order, field), getattr(b.build_order, field)
        assert x.dtype == y.dtype and (x == y).all(), field
    assert a.build_order.levels == b.build_order.levels


@settings(max_examples=100, deadline=None)
@given(graphs, st.data())
def test_a_graph_read_back_from_its_arrays_is_the_same_graph(deps, data):
    g = build(deps)
    names = list(g.names)
    text = st.text(min_size=1, max_size=8)
    unresolved = data.draw(st.dictionaries(st.sampled_from(names), st.lists(text, max_size=3)))
    g = BuildGraph.from_edges(names, np.repeat(np.arange(len(g)), np.diff(g.dep_indptr)),
                              g.dep_indices, evrs=[f"1:{n}-é" for n in names],
                              unresolved=unresolved, uninstallable={names[0]: ("nothing ∅",)})
    assert_same_graph(BuildGraph.from_arrays(g.to_arrays()), g)


def test_arrays_that_do_not_fit_together_are_refused():
    import pytest

    g = build({"app": ["lib"], "lib": ["base"], "base": ["lib"]})
    damaged = [
        ("dep_indices", lambda a: a + 7),                       # an unknown package
        ("dep_indptr", lambda a: a[:-1]),                       # one row short
        ("rdep_distance", lambda a: a[:1]),                     # not one per edge
        ("names_ends", lambda a: a + 1),                        # past the end of the text
        ("cycle_of", lambda a: a + 5),                          # an unknown cycle
        ("fwd_user", lambda a: a[:0]),                          # edges missing from the order
        ("sizes", lambda a: a.astype(np.float64)),              # not integers
        ("noarch", lambda a: np.array([object()] * len(a))),    # not numbers at all
    ]
    for key, damage in damaged:
        arrays = g.to_arrays()
        arrays[key] = damage(arrays[key])
        with pytest.raises(ValueError):
            BuildGraph.from_arrays(arrays)
    arrays = g.to_arrays()
    del arrays["scc"]
    with pytest.raises(ValueError, match="scc"):
        BuildGraph.from_arrays(arrays)
