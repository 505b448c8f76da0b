"""The build-dependency graph and the decisions over it (pure core).

Nodes are source packages; an edge ``S -> T`` means S build-requires something
that a binary of T provides (see :mod:`discomy.planning.repodata` for how edges are found).

Cycles are real in distributions (a compiler built with itself, ``alpha`` and
``beta`` that build-require each other). They are handled once per graph: each
strongly connected component (SCC) gets a *bootstrap order*, and an edge to a
cycle member that comes later in that order is a *bootstrap edge*: the dependent
is built against the previous build of that member. The remaining edges form a
DAG over packages, over which tiers and the critical path are computed.

Everything is kept as compressed sparse rows (numpy) so that a query over a
whole distribution (~34k packages, ~250k edges) runs in milliseconds.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

INT = np.int32


def _csr(n: int, rows: np.ndarray, cols: np.ndarray, *extra: np.ndarray):
    """Group ``(rows[i], cols[i], extra[i])`` by row: returns indptr, cols, extras (sorted by row, col)."""
    key = rows.astype(np.int64) * max(n, 1) + cols
    if key.size > 1 and (key[1:] < key[:-1]).any():
        order = np.argsort(key)
        rows, cols = rows[order], cols[order]
        extra = tuple(e[order] for e in extra)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return (indptr, cols.astype(INT, copy=False)) + tuple(extra)


def gather(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray):
    """Neighbours of ``nodes`` in a CSR: returns (neighbours, owners, edge positions)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    starts = indptr[nodes]
    lens = indptr[nodes + 1] - starts
    total = int(lens.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty.astype(INT), empty, empty
    offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
    return indices[offsets], np.repeat(nodes, lens), offsets


@dataclass(frozen=True, eq=False)
class BuildGraph:
    """Source packages and their build dependencies, with cycles resolved once.

    Build it with :meth:`from_edges` (or :func:`graph_from_mapping` in tests).
    ``dep_*`` arrays list each node's dependencies, ``rdep_*`` its dependents;
    ``*_bootstrap`` flags the edges that a bootstrap order breaks.
    """

    names: tuple
    evrs: tuple
    sizes: np.ndarray             # source package size, bytes (0 = unknown)
    artifact_sizes: np.ndarray    # size of the binaries built from it, bytes (0 = unknown)
    noarch: np.ndarray            # True when every binary it builds is noarch
    dep_indptr: np.ndarray
    dep_indices: np.ndarray
    dep_distance: np.ndarray
    dep_bootstrap: np.ndarray
    rdep_indptr: np.ndarray
    rdep_indices: np.ndarray
    rdep_distance: np.ndarray
    rdep_bootstrap: np.ndarray
    scc: np.ndarray               # component label of each node
    cycles: tuple                 # tuples of node ids in bootstrap order (components of 2+)
    cycle_of: np.ndarray          # index into ``cycles`` or -1
    build_order: "BuildOrder"     # the acyclic edges, pre-sorted for fast schedules
    unresolved: Mapping[str, tuple] = field(default_factory=dict)
    uninstallable: Mapping[str, tuple] = field(default_factory=dict)
    self_dependent: frozenset = frozenset()
    _index: dict = field(default_factory=dict, repr=False)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_edges(cls, names: Sequence[str], src: Iterable[int], dst: Iterable[int],
                   distance: Optional[Iterable[int]] = None, *,
                   evrs: Optional[Sequence[str]] = None,
                   sizes: Optional[Sequence[int]] = None,
                   artifact_sizes: Optional[Sequence[int]] = None,
                   noarch: Optional[Sequence[bool]] = None,
                   unresolved: Optional[Mapping[str, Sequence[str]]] = None,
                   uninstallable: Optional[Mapping[str, Sequence[str]]] = None) -> "BuildGraph":
        """Edges ``src[i] -> dst[i]``: package ``src[i]`` build-requires package ``dst[i]``.

        Duplicate edges keep the smallest distance; self edges are recorded in
        ``self_dependent`` and dropped (a package always builds against its previous build).
        """
        n = len(names)
        if len(set(names)) != n:
            raise ValueError("package names must be unique")
        src = np.asarray(list(src) if not isinstance(src, np.ndarray) else src, dtype=np.int64)
        dst = np.asarray(list(dst) if not isinstance(dst, np.ndarray) else dst, dtype=np.int64)
        if distance is None:
            dist = np.ones(len(src), dtype=np.int16)
        else:
            dist = np.asarray(list(distance) if not isinstance(distance, np.ndarray) else distance,
                              dtype=np.int16)
        if not (len(src) == len(dst) == len(dist)):
            raise ValueError("edge arrays differ in length")
        if len(src) and (src.min() < 0 or dst.min() < 0 or src.max() >= n or dst.max() >= n):
            raise ValueError("edge refers to an unknown node")
        selfloop = src == dst
        self_dependent = frozenset(names[i] for i in src[selfloop].tolist())
        src, dst, dist = src[~selfloop], dst[~selfloop], dist[~selfloop]
        # dedupe, keeping the smallest distance
        if len(src):
            key = src * n + dst
            # one distance (the direct depth): a plain sort of the keys is enough
            order = np.argsort(key) if dist.min() == dist.max() else np.lexsort((dist, key))
            key_sorted = key[order]
            first = np.ones(len(order), dtype=bool)
            first[1:] = key_sorted[1:] != key_sorted[:-1]
            keep = order[first]
            src, dst, dist = src[keep], dst[keep], dist[keep]

        scc, cycles, position = _bootstrap_orders(n, src, dst, names)
        boot = (scc[src] == scc[dst]) & (position[dst] > position[src])
        dep_indptr, dep_indices, dep_distance, dep_bootstrap = _csr(n, src, dst, dist, boot)
        rdep_indptr, rdep_indices, rdep_distance, rdep_bootstrap = _csr(n, dst, src, dist, boot)
        order = build_order(n, src[~boot], dst[~boot])
        cycle_of = np.full(n, -1, dtype=INT)
        for i, members in enumerate(cycles):
            cycle_of[list(members)] = i

        def arr(values, dtype, default):
            if values is None:
                return np.full(n, default, dtype=dtype)
            out = np.asarray(values, dtype=dtype)
            if out.shape != (n,):
                raise ValueError("per-node array has the wrong length")
            return out

        return cls(
            names=tuple(names),
            evrs=tuple(evrs) if evrs is not None else ("",) * n,
            sizes=arr(sizes, np.int64, 0),
            artifact_sizes=arr(artifact_sizes, np.int64, 0),
            noarch=arr(noarch, bool, False),
            dep_indptr=dep_indptr, dep_indices=dep_indices,
            dep_distance=dep_distance, dep_bootstrap=dep_bootstrap,
            rdep_indptr=rdep_indptr, rdep_indices=rdep_indices,
            rdep_distance=rdep_distance, rdep_bootstrap=rdep_bootstrap,
            scc=scc, cycles=cycles, cycle_of=cycle_of, build_order=order,
            unresolved={k: tuple(v) for k, v in (unresolved or {}).items()},
            uninstallable={k: tuple(v) for k, v in (uninstallable or {}).items()},
            self_dependent=self_dependent,
            _index={name: i for i, name in enumerate(names)},
        )

    # -- lookups ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    @property
    def edge_count(self) -> int:
        return int(len(self.dep_indices))

    def index_of(self, name: str) -> int:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def deps_of(self, name: str) -> list:
        """``(dependency, distance)`` pairs of ``name``."""
        i = self._index[name]
        lo, hi = self.dep_indptr[i], self.dep_indptr[i + 1]
        return [(self.names[j], int(d)) for j, d in
                zip(self.dep_indices[lo:hi], self.dep_distance[lo:hi])]

    def rdeps_of(self, name: str) -> list:
        """``(dependent, distance)`` pairs of ``name``."""
        i = self._index[name]
        lo, hi = self.rdep_indptr[i], self.rdep_indptr[i + 1]
        return [(self.names[j], int(d)) for j, d in
                zip(self.rdep_indices[lo:hi], self.rdep_distance[lo:hi])]

    def cycle_names(self) -> list:
        return [[self.names[i] for i in members] for members in self.cycles]

    # -- plain arrays, for a data-only cache ------------------------------------
    def to_arrays(self) -> dict:
        """Every field as a numeric numpy array (strings as UTF-8 bytes plus offsets), so
        the graph is stored without pickle; :meth:`from_arrays` reads it back."""
        order = self.build_order
        members = [m for cycle in self.cycles for m in cycle]
        out = {
            "sizes": self.sizes, "artifact_sizes": self.artifact_sizes, "noarch": self.noarch,
            "dep_indptr": self.dep_indptr, "dep_indices": self.dep_indices,
            "dep_distance": self.dep_distance, "dep_bootstrap": self.dep_bootstrap,
            "rdep_indptr": self.rdep_indptr, "rdep_indices": self.rdep_indices,
            "rdep_distance": self.rdep_distance, "rdep_bootstrap": self.rdep_bootstrap,
            "scc": self.scc, "cycle_of": self.cycle_of,
            "cycle_members": np.asarray(members, dtype=INT),
            "cycle_bounds": np.cumsum([0] + [len(c) for c in self.cycles], dtype=np.int64),
            "level": order.level.astype(INT), "levels": np.int64(order.levels),
            "fwd_user": order.fwd_user.astype(INT), "fwd_dep": order.fwd_dep.astype(INT),
            "fwd_bounds": order.fwd_bounds, "bwd_user": order.bwd_user.astype(INT),
            "bwd_dep": order.bwd_dep.astype(INT), "bwd_bounds": order.bwd_bounds,
        }
        out.update(_pack_strings("names", self.names))
        out.update(_pack_strings("evrs", self.evrs))
        out.update(_pack_strings("self_dependent", sorted(self.self_dependent)))
        for what in ("unresolved", "uninstallable"):
            table = getattr(self, what)
            out.update(_pack_strings(f"{what}_keys", list(table)))
            out[f"{what}_counts"] = np.asarray([len(v) for v in table.values()], dtype=np.int64)
            out.update(_pack_strings(f"{what}_values", [x for v in table.values() for x in v]))
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "BuildGraph":
        """The graph :meth:`to_arrays` stored; ValueError when the arrays are missing,
        of the wrong kind or inconsistent with each other (a damaged file)."""
        try:
            return _graph_from_arrays(cls, arrays)
        except KeyError as exc:
            raise ValueError(f"no {exc.args[0]} array") from None


def _pack_strings(prefix: str, strings: Sequence[str]) -> dict:
    text = "".join(strings)
    return {f"{prefix}_text": np.frombuffer(text.encode("utf-8"), dtype=np.uint8),
            f"{prefix}_ends": np.cumsum([len(x) for x in strings], dtype=np.int64)}


def _unpack_strings(arrays: Mapping[str, np.ndarray], prefix: str) -> tuple:
    text = _numbers(arrays, f"{prefix}_text", np.uint8).tobytes().decode("utf-8")
    ends = _numbers(arrays, f"{prefix}_ends", np.int64)
    if ends.size and (ends[-1] != len(text) or (np.diff(ends) < 0).any() or ends[0] < 0):
        raise ValueError(f"{prefix}: string offsets do not match the text")
    bounds = ends.tolist()
    return tuple(text[a:b] for a, b in zip([0] + bounds[:-1], bounds))


def _numbers(arrays: Mapping[str, np.ndarray], key: str, dtype, shape=None) -> np.ndarray:
    """``arrays[key]`` as ``dtype``, refusing anything but plain numbers of that shape."""
    a = np.asarray(arrays[key])
    if a.dtype.kind not in "biu" or (a.dtype.kind == "b") != (np.dtype(dtype).kind == "b"):
        raise ValueError(f"{key}: {a.dtype} is not the expected kind of number")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{key}: shape {a.shape}, expected {shape}")
    if shape is None and a.ndim != 1:
        raise ValueError(f"{key}: {a.ndim} dimensions, expected 1")
    return a.astype(dtype, copy=False)


def _graph_from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> BuildGraph:
    names = _unpack_strings(arrays, "names")
    n = len(names)
    index = {name: i for i, name in enumerate(names)}
    if len(index) != n:
        raise ValueError("package names are not unique")
    evrs = _unpack_strings(arrays, "evrs")
    if len(evrs) != n:
        raise ValueError("evrs: one per package expected")

    def per_node(key, dtype):
        return _numbers(arrays, key, dtype, (n,))

    def node_ids(key, dtype, low=0):
        a = _numbers(arrays, key, dtype)
        if a.size and (a.min() < low or a.max() >= n):
            raise ValueError(f"{key}: refers to an unknown package")
        return a

    def csr(prefix):
        indptr = _numbers(arrays, f"{prefix}_indptr", np.int64, (n + 1,))
        indices = node_ids(f"{prefix}_indices", INT)
        if indptr[0] != 0 or indptr[-1] != indices.size or (np.diff(indptr) < 0).any():
            raise ValueError(f"{prefix}_indptr does not index {prefix}_indices")
        shape = indices.shape
        return (indptr, indices, _numbers(arrays, f"{prefix}_distance", np.int16, shape),
                _numbers(arrays, f"{prefix}_bootstrap", bool, shape))

    dep = csr("dep")
    rdep = csr("rdep")
    if dep[1].size != rdep[1].size:
        raise ValueError("dependencies and dependents differ in number")
    members = node_ids("cycle_members", INT)
    bounds = _numbers(arrays, "cycle_bounds", np.int64)
    if bounds.size == 0 or bounds[0] != 0 or bounds[-1] != members.size or (np.diff(bounds) < 0).any():
        raise ValueError("cycle_bounds does not index cycle_members")
    cycles = tuple(tuple(members[a:b].tolist()) for a, b in zip(bounds[:-1], bounds[1:]))
    cycle_of = per_node("cycle_of", INT)
    if n and (cycle_of.min() < -1 or cycle_of.max() >= len(cycles)):
        raise ValueError("cycle_of refers to an unknown cycle")
    levels = int(_numbers(arrays, "levels", np.int64, ()))
    sorted_edges = [node_ids(k, np.int64) for k in ("fwd_user", "fwd_dep", "bwd_user", "bwd_dep")]
    acyclic = int(dep[1].size - np.count_nonzero(dep[3]))
    if any(a.size != acyclic for a in sorted_edges):
        raise ValueError("the build order does not hold every acyclic edge")
    order = BuildOrder(
        per_node("level", np.int64), levels, sorted_edges[0], sorted_edges[1],
        _numbers(arrays, "fwd_bounds", np.int64, (levels + 1,)),
        sorted_edges[2], sorted_edges[3],
        _numbers(arrays, "bwd_bounds", np.int64, (levels + 1,)))

    def table(what):
        keys = _unpack_strings(arrays, f"{what}_keys")
        counts = _numbers(arrays, f"{what}_counts", np.int64, (len(keys),))
        values = _unpack_strings(arrays, f"{what}_values")
        if (counts < 0).any() or counts.sum() != len(values):
            raise ValueError(f"{what}: counts do not match the values")
        ends = np.cumsum(counts).tolist()
        return {k: values[e - c:e] for k, c, e in zip(keys, counts.tolist(), ends)}

    return cls(
        names=names, evrs=evrs,
        sizes=per_node("sizes", np.int64), artifact_sizes=per_node("artifact_sizes", np.int64),
        noarch=per_node("noarch", bool),
        dep_indptr=dep[0], dep_indices=dep[1], dep_distance=dep[2], dep_bootstrap=dep[3],
        rdep_indptr=rdep[0], rdep_indices=rdep[1], rdep_distance=rdep[2],
        rdep_bootstrap=rdep[3],
        scc=per_node("scc", INT), cycles=cycles, cycle_of=cycle_of, build_order=order,
        unresolved=table("unresolved"), uninstallable=table("uninstallable"),
        self_dependent=frozenset(_unpack_strings(arrays, "self_dependent")),
        _index=index,
    )


def graph_from_mapping(deps: Mapping[str, Iterable[str]],
                       sizes: Optional[Mapping[str, int]] = None,
                       noarch: Iterable[str] = ()) -> BuildGraph:
    """A graph from ``{package: [build dependencies]}`` (for tests and small tools)."""
    names = sorted(set(deps) | {d for ds in deps.values() for d in ds})
    index = {name: i for i, name in enumerate(names)}
    src, dst = [], []
    for name, ds in deps.items():
        for d in ds:
            src.append(index[name])
            dst.append(index[d])
    noarch = set(noarch)
    return BuildGraph.from_edges(
        names, src, dst,
        sizes=[(sizes or {}).get(n, 0) for n in names],
        noarch=[n in noarch for n in names],
    )


@dataclass(frozen=True, eq=False)
class BuildOrder:
    """The acyclic build edges (bootstrap edges left out), sorted once per graph.

    ``level`` is each node's longest-path level over the whole graph. Every edge
    ``user -> dep`` has ``level[dep] < level[user]``, so any subset of the graph can
    be scheduled by sweeping these levels in order, with no per-query sorting.
    ``fwd_*`` edges are sorted by the user's level, ``bwd_*`` by the dependency's.
    """

    level: np.ndarray
    levels: int
    fwd_user: np.ndarray
    fwd_dep: np.ndarray
    fwd_bounds: np.ndarray
    bwd_user: np.ndarray
    bwd_dep: np.ndarray
    bwd_bounds: np.ndarray


def build_order(n: int, user: np.ndarray, dep: np.ndarray) -> BuildOrder:
    """Global longest-path levels over acyclic edges ``user -> dep``, and the sorted edges."""
    user = user.astype(np.int64)
    dep = dep.astype(np.int64)
    level = np.zeros(n, dtype=np.int64)
    indeg = np.bincount(user, minlength=n)
    indptr, users = _csr(n, dep, user)[:2]      # dependents of each node
    scratch = np.empty(n, dtype=np.int64)
    frontier = np.flatnonzero(indeg == 0)
    depth = 0
    placed = 0
    while frontier.size:
        level[frontier] = depth
        placed += frontier.size
        nxt, _, _ = gather(indptr, users, frontier)
        indeg -= np.bincount(nxt, minlength=n)
        frontier = _unique(nxt[indeg[nxt] == 0], scratch)
        depth += 1
    if placed != n:
        raise AssertionError("bootstrap edges left a cycle in the build order")
    # one int key per edge, unique, so a plain sort gives the (level, node, other end) order
    width = max(n, 1)
    if width ** 3 < 2 ** 63:
        fwd = np.argsort((level[user] * width + user) * width + dep)
        bwd = np.argsort((level[dep] * width + dep) * width + user)
    else:
        fwd = np.lexsort((dep, user, level[user]))
        bwd = np.lexsort((user, dep, level[dep]))
    marks = np.arange(depth + 1)
    return BuildOrder(
        level=level, levels=depth,
        fwd_user=user[fwd], fwd_dep=dep[fwd],
        fwd_bounds=np.searchsorted(level[user[fwd]], marks),
        bwd_user=user[bwd], bwd_dep=dep[bwd],
        bwd_bounds=np.searchsorted(level[dep[bwd]], marks),
    )


# -- cycles ----------------------------------------------------------------

def _bootstrap_orders(n: int, src: np.ndarray, dst: np.ndarray, names: Sequence[str]):
    """SCC labels, cycles in bootstrap order, and each node's position in its cycle."""
    labels = strong_components(n, src, dst)
    position = np.zeros(n, dtype=np.int64)
    sizes = np.bincount(labels, minlength=n)
    in_big = sizes[labels] > 1
    cycles = []
    if in_big.any():
        members = np.flatnonzero(in_big)
        members = members[np.argsort(labels[members], kind="stable")]
        member_cuts = np.flatnonzero(np.diff(labels[members])) + 1
        inner = np.flatnonzero(in_big[src] & (labels[src] == labels[dst]))
        inner = inner[np.argsort(labels[src[inner]], kind="stable")]
        edge_cuts = np.searchsorted(labels[src[inner]], labels[members[member_cuts]])
        groups = zip(np.split(members, member_cuts), np.split(inner, edge_cuts))
        found = []
        for group, edges in groups:
            group = group.tolist()
            found.append((min(names[m] for m in group), group,
                          list(zip(src[edges].tolist(), dst[edges].tolist()))))
        for _, group, edges in sorted(found):
            order = bootstrap_order(group, edges, names)
            position[order] = np.arange(len(order))
            cycles.append(tuple(order))
    return labels, tuple(cycles), position


def strong_components(n: int, src: np.ndarray, dst: np.ndarray, peel_rounds: int = 64) -> np.ndarray:
    """Each node's strongly connected component, labelled by its smallest member.

    A node with no dependency or no dependent left cannot sit in a cycle, so such
    nodes are peeled off in bulk first (in a distribution that leaves the cycles and
    the paths between them, a fifth of the graph); Tarjan's algorithm labels the rest.
    """
    labels = np.arange(n, dtype=INT)
    alive = np.ones(n, dtype=bool)
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    for _ in range(peel_rounds):
        live = alive[src] & alive[dst]
        src, dst = src[live], dst[live]
        keep = np.zeros(n, dtype=bool)
        keep[src] = True
        has_user = np.zeros(n, dtype=bool)
        has_user[dst] = True
        keep &= has_user
        if keep.sum() == alive.sum():
            break
        alive = keep
    live = alive[src] & alive[dst]
    src, dst = src[live], dst[live]
    rest = np.flatnonzero(alive)
    if not rest.size:
        return labels
    local = np.full(n, -1, dtype=np.int64)
    local[rest] = np.arange(rest.size)
    indptr, adj = _csr(rest.size, local[src], local[dst])[:2]
    for component in _tarjan(rest.size, indptr.tolist(), adj.tolist()):
        if len(component) > 1:
            ids = rest[component]
            labels[ids] = ids.min()
    return labels


def _tarjan(m: int, indptr: list, adj: list) -> list:
    """Strongly connected components of nodes ``0..m-1`` (iterative Tarjan)."""
    index = [-1] * m
    low = [0] * m
    on_stack = [False] * m
    stack: list = []
    components = []
    counter = 0
    for root in range(m):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [[root, indptr[root]]]
        while work:
            frame = work[-1]
            v, i = frame
            end = indptr[v + 1]
            descended = False
            while i < end:
                w = adj[i]
                i += 1
                if index[w] == -1:
                    frame[1] = i
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append([w, indptr[w]])
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    component.append(w)
                    if w == v:
                        break
                components.append(component)
    return components


def bootstrap_order(members: Sequence[int], edges: Sequence[tuple], names: Sequence[str]) -> list:
    """Order a cycle's members so that few members are built before a dependency of theirs.

    ``edges`` are ``(dependent, dependency)`` pairs inside the cycle. This is the
    Eades-Lin-Smyth heuristic for a small feedback arc set: members whose remaining
    in-cycle dependencies are all placed go first, members nothing remaining depends
    on go last, otherwise the member with the most dependents net of dependencies
    goes first. Ties break by name, so the order is deterministic.
    """
    # members as their rank by name (so ties break by name), and every heap entry one
    # int: the same decisions as (score, name) tuples, fast enough for thousands of members
    by_name = sorted(members, key=names.__getitem__)
    size = len(by_name)
    local = {m: i for i, m in enumerate(by_name)}
    deps: list = [set() for _ in range(size)]
    users: list = [set() for _ in range(size)]
    for s, d in edges:
        deps[local[s]].add(local[d])
        users[local[d]].add(local[s])
    n_deps = [len(x) for x in deps]
    n_users = [len(x) for x in users]
    deps_of = [list(x) for x in deps]
    users_of = [list(x) for x in users]
    alive = [True] * size
    left = size
    head: list = []
    tail: list = []
    heap = [(n_deps[i] - n_users[i]) * size + i for i in range(size)]
    heapq.heapify(heap)
    ready = [i for i in range(size) if not n_deps[i]]
    done_users = [i for i in range(size) if not n_users[i]]
    push, pop = heapq.heappush, heapq.heappop

    def remove(m):
        alive[m] = False
        for d in deps_of[m]:
            if alive[d]:
                n_users[d] -= 1
                if not n_users[d]:
                    push(done_users, d)
                push(heap, (n_deps[d] - n_users[d]) * size + d)
        for u in users_of[m]:
            if alive[u]:
                n_deps[u] -= 1
                if not n_deps[u]:
                    push(ready, u)
                push(heap, (n_deps[u] - n_users[u]) * size + u)

    while left:
        progressed = False
        while ready:
            m = pop(ready)
            if alive[m] and not n_deps[m]:
                head.append(m)
                remove(m)
                left -= 1
                progressed = True
        while done_users:
            m = pop(done_users)
            if alive[m] and not n_users[m]:
                tail.append(m)
                remove(m)
                left -= 1
                progressed = True
        if progressed or not left:
            continue
        while heap:
            score, m = divmod(pop(heap), size)
            if alive[m] and score == n_deps[m] - n_users[m]:
                head.append(m)
                remove(m)
                left -= 1
                break
    return [by_name[i] for i in head + tail[::-1]]


# -- queries ---------------------------------------------------------------

def _unique(values: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Distinct ``values`` in O(len) using a node-sized scratch array (order not kept)."""
    if values.size < 2:
        return values
    stamp = np.arange(values.size)
    scratch[values] = stamp
    return values[scratch[values] == stamp]


def reverse_closure(graph: BuildGraph, seeds: np.ndarray,
                    blocked: Optional[np.ndarray] = None) -> np.ndarray:
    """Mask of every package that (transitively) build-requires one of ``seeds``.

    A seed is in the result only when it depends on itself through a cycle.
    Packages in ``blocked`` are neither included nor traversed.
    """
    n = len(graph)
    # (np.unique would import numpy.ma, a tenth of a cached plan's start-up)
    seeds = np.asarray(sorted(set(np.asarray(seeds, dtype=np.int64).tolist())), dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    scratch = np.empty(n, dtype=np.int64)
    frontier = seeds
    while frontier.size:
        nbrs, _, _ = gather(graph.rdep_indptr, graph.rdep_indices, frontier)
        if blocked is not None:
            nbrs = nbrs[~blocked[nbrs]]
        nbrs = _unique(nbrs[~seen[nbrs]], scratch)
        seen[nbrs] = True
        frontier = nbrs
    return seen


@dataclass(frozen=True, eq=False)
class Schedule:
    """Tiers and path lengths over the acyclic build order of a set of packages."""

    members: np.ndarray      # node ids, in tier order
    level: np.ndarray        # per node: tier, or -1 outside the set
    finish: np.ndarray       # per node: longest path (seconds) ending with it
    remaining: np.ndarray    # per node: longest path (seconds) starting with it
    edge_dep: np.ndarray     # release edges inside the set: dependency ...
    edge_user: np.ndarray    # ... and the dependent that waits for it
    tier_count: int


def schedule(graph: BuildGraph, mask: np.ndarray, durations: np.ndarray) -> Schedule:
    """Longest-path tiers, finish times and remaining path lengths inside ``mask``.

    Only non-bootstrap edges between members count, so the result is defined for
    any set. Tier 0 holds members with no member dependency. The sweep follows the
    graph's global levels (:class:`BuildOrder`): a dependency always sits on a lower
    global level than its user, so one pass up computes tiers and finish times and
    one pass down the remaining path lengths.
    """
    n = len(graph)
    order = graph.build_order
    dur = np.asarray(durations, dtype=np.float64)
    members = np.flatnonzero(mask)
    level = np.full(n, -1, dtype=INT)
    level[members] = 0
    finish = np.zeros(n, dtype=np.float64)
    finish[members] = dur[members]
    remaining = finish.copy()

    inside = np.flatnonzero(mask[order.fwd_user] & mask[order.fwd_dep])
    users, deps = order.fwd_user[inside], order.fwd_dep[inside]
    bounds = np.searchsorted(inside, order.fwd_bounds)
    start = np.zeros(n, dtype=np.float64)
    for g in range(1, order.levels):
        lo, hi = bounds[g], bounds[g + 1]
        if lo == hi:
            continue
        u, d = users[lo:hi], deps[lo:hi]
        np.maximum.at(level, u, level[d] + 1)
        np.maximum.at(start, u, finish[d])
        finish[u] = start[u] + dur[u]

    inside_b = np.flatnonzero(mask[order.bwd_user] & mask[order.bwd_dep])
    b_users, b_deps = order.bwd_user[inside_b], order.bwd_dep[inside_b]
    bounds = np.searchsorted(inside_b, order.bwd_bounds)
    after = np.zeros(n, dtype=np.float64)
    for g in range(order.levels - 2, -1, -1):
        lo, hi = bounds[g], bounds[g + 1]
        if lo == hi:
            continue
        u, d = b_users[lo:hi], b_deps[lo:hi]
        np.maximum.at(after, d, remaining[u])
        remaining[d] = after[d] + dur[d]

    tier_count = int(level[members].max()) + 1 if members.size else 0
    lvl = level[members].astype(np.int16 if tier_count < 2**15 else np.int64)
    ordered = members[np.argsort(lvl, kind="stable")]
    return Schedule(ordered, level, finish, remaining, deps, users, tier_count)


def critical_path(graph: BuildGraph, mask: np.ndarray, sched: Schedule) -> list:
    """Node ids of the longest path, first to last (empty for an empty set).

    Walks back from the latest finish through, at each step, the member
    dependency that finishes last (ties: the lowest node id).
    """
    if not sched.members.size:
        return []
    node = int(sched.members[int(np.argmax(sched.finish[sched.members]))])
    path = [node]
    while True:
        lo, hi = graph.dep_indptr[node], graph.dep_indptr[node + 1]
        deps = graph.dep_indices[lo:hi]
        deps = deps[mask[deps] & ~graph.dep_bootstrap[lo:hi]]
        if not deps.size:
            return path[::-1]
        node = int(deps[int(np.argmax(sched.finish[deps]))])
        path.append(node)
