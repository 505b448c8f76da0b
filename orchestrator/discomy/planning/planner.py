"""Rebuild plans: what to rebuild after a change, and in which order (pure core).

Given a :class:`~discomy.planning.graph.BuildGraph` and the changed packages, a plan holds

- ``affected``: every package that transitively build-requires a changed one;
  a changed package is in it only when it sits in a cycle with an affected one;
- ``cycles``: the affected build cycles, each in bootstrap order;
- ``tiers``: longest-path levels over the acyclic build order (tier 0 first);
- ``critical_path``: the longest chain by duration, and its length;
- per-node release edges (``PlanNode.deps``): what a node waits for. Releasing
  per tier waits for the whole previous tier; releasing per edge waits only for
  these. ``bootstrap_deps`` are cycle members a node is built against the
  previous build of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Optional, Union

import numpy as np

from discomy.common.nvr import name_of_nvr
from discomy.planning.durations import durations_array
from discomy.planning.graph import (
    BuildGraph,
    Schedule,
    critical_path,
    gather,
    reverse_closure,
    schedule,
)


class PlanError(ValueError):
    """The request cannot be planned (unknown package, empty changed set)."""


@dataclass(frozen=True)
class PlanNode:
    name: str
    tier: int
    deps: tuple
    bootstrap_deps: tuple
    duration_seconds: float
    remaining_seconds: float
    cycle: Optional[int]


def resolve_changed(graph: BuildGraph, changed: Iterable[str]) -> list:
    """Map names or NVRs to node ids; unknown entries raise with close-name suggestions."""
    wanted = [c.strip() for c in changed if c and c.strip()]
    if not wanted:
        raise PlanError("the changed set is empty: name at least one source package")
    ids = []
    for entry in wanted:
        if entry in graph:
            ids.append(graph.index_of(entry))
            continue
        name = name_of_nvr(entry)
        if name is not None and name in graph:
            ids.append(graph.index_of(name))
            continue
        import difflib

        close = difflib.get_close_matches(entry, graph.names, n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PlanError(f"unknown source package {entry!r}{hint}")
    return sorted(set(ids))


@dataclass(frozen=True, eq=False)
class Plan:
    graph: BuildGraph
    changed_ids: tuple
    sched: Schedule
    durations: np.ndarray
    affected_mask: np.ndarray
    excluded: tuple = ()
    _cache: dict = field(default_factory=dict, repr=False)

    # names, in tier order
    @property
    def changed(self) -> tuple:
        return tuple(self.graph.names[i] for i in self.changed_ids)

    @property
    def affected(self) -> tuple:
        return tuple(map(self.graph.names.__getitem__, self.sched.members.tolist()))

    @property
    def tiers(self) -> tuple:
        if "tiers" not in self._cache:
            names = self.graph.names
            members = self.sched.members
            levels = self.sched.level[members]
            cuts = np.searchsorted(levels, np.arange(1, self.sched.tier_count))
            self._cache["tiers"] = tuple(
                tuple(map(names.__getitem__, chunk.tolist())) for chunk in np.split(members, cuts)
            ) if members.size else ()
        return self._cache["tiers"]

    @property
    def cycles(self) -> tuple:
        cyc = self.graph.cycle_of[self.sched.members]
        cyc = np.flatnonzero(np.bincount(cyc[cyc >= 0], minlength=len(self.graph.cycles)))
        names = self.graph.names
        return tuple(tuple(names[i] for i in self.graph.cycles[c]) for c in cyc.tolist())

    @property
    def critical_path(self) -> tuple:
        return tuple(self.graph.names[i] for i in critical_path(self.graph, self.affected_mask, self.sched))

    @property
    def critical_path_seconds(self) -> float:
        members = self.sched.members
        return float(self.sched.finish[members].max()) if members.size else 0.0

    def chain_seconds(self, overhead_seconds: float = 0.0) -> np.ndarray:
        """Per node id: the longest chain starting with it, each build counted with
        ``overhead_seconds`` more than its duration (the orchestrator's urgency)."""
        key = ("chain", float(overhead_seconds))
        if key not in self._cache:
            if overhead_seconds == 0.0:
                self._cache[key] = self.sched.remaining
            else:
                with_overhead = np.where(self.affected_mask, self.durations + overhead_seconds, 0.0)
                self._cache[key] = schedule(self.graph, self.affected_mask,
                                            with_overhead).remaining
        return self._cache[key]

    @property
    def total_seconds(self) -> float:
        return float(self.durations[self.sched.members].sum())

    @property
    def nodes(self) -> "PlanNodes":
        return PlanNodes(self)

    def node(self, name: str) -> PlanNode:
        g = self.graph
        i = g.index_of(name)
        if not self.affected_mask[i]:
            raise KeyError(name)
        lo, hi = g.dep_indptr[i], g.dep_indptr[i + 1]
        deps = g.dep_indices[lo:hi]
        boot = g.dep_bootstrap[lo:hi]
        inside = self.affected_mask[deps]
        cycle = int(g.cycle_of[i])
        return PlanNode(
            name=name,
            tier=int(self.sched.level[i]),
            deps=tuple(sorted(g.names[j] for j in deps[inside & ~boot].tolist())),
            bootstrap_deps=tuple(sorted(g.names[j] for j in deps[inside & boot].tolist())),
            duration_seconds=float(self.durations[i]),
            remaining_seconds=float(self.sched.remaining[i]),
            cycle=None if cycle < 0 else cycle,
        )

    def _node_rows(self, names: np.ndarray, collect) -> zip:
        """Per affected node, in tier order: name, tier, release edges, bootstrap edges,
        duration and remaining seconds, built in bulk for JSON output. ``names`` (an
        object array) says how each name appears, ``collect`` how a list of them does."""
        g, sched = self.graph, self.sched
        members = sched.members
        # each member's dependencies, grouped by member and sorted by node id
        lens = g.dep_indptr[members + 1] - g.dep_indptr[members]
        prv, _, pos = gather(g.dep_indptr, g.dep_indices, members)
        row = np.repeat(np.arange(members.size), lens)
        if not _names_sorted(g.names):
            order = np.lexsort((_name_rank(g.names)[prv], row))
            prv, pos, row = prv[order], pos[order], row[order]
        inside = self.affected_mask[prv]
        boot = g.dep_bootstrap[pos]

        def grouped(keep):
            flat = names[prv[keep]].tolist()
            ends = np.cumsum(np.bincount(row[keep], minlength=members.size)).tolist()
            return [collect(flat[a:b]) for a, b in zip([0] + ends[:-1], ends)]

        return zip(names[members].tolist(), sched.level[members].tolist(),
                   grouped(inside & ~boot), grouped(inside & boot),
                   np.round(self.durations[members], 3).tolist(),
                   np.round(sched.remaining[members], 3).tolist())

    def _nodes_dict(self) -> dict:
        names = np.asarray(self.graph.names, dtype=object)
        return {
            name: {"tier": t, "deps": d, "bootstrap_deps": b,
                   "duration_seconds": s, "remaining_seconds": r}
            for name, t, d, b, s, r in self._node_rows(names, list)
        }

    def to_json(self, extra: Optional[Mapping] = None) -> str:
        """``json.dumps`` of :meth:`to_dict` plus ``extra``, with the per-node part (most
        of a big plan) written directly: half the time of building and encoding dicts."""
        from json import dumps
        from json.encoder import encode_basestring_ascii

        out = self.to_dict(include_nodes=False)
        out.update(extra or {})
        names = np.asarray(list(map(encode_basestring_ascii, self.graph.names)), dtype=object)
        nodes = ", ".join(
            '%s: {"tier": %d, "deps": [%s], "bootstrap_deps": [%s], '
            '"duration_seconds": %r, "remaining_seconds": %r}' % row
            for row in self._node_rows(names, ", ".join))
        return f'{dumps(out)[:-1]}, "nodes": {{{nodes}}}}}'

    def to_dict(self, include_nodes: bool = True) -> dict:
        """The ``discomy plan --json`` object."""
        affected = self.affected
        out = {
            "changed": list(self.changed),
            "excluded": list(self.excluded),
            "affected": list(affected),
            "tiers": [list(t) for t in self.tiers],
            "cycles": [list(c) for c in self.cycles],
            "critical_path": list(self.critical_path),
            "critical_path_seconds": round(self.critical_path_seconds, 3),
            "total_build_seconds": round(self.total_seconds, 3),
            "unresolved": {name: list(self.graph.unresolved[name]) for name in affected
                           if name in self.graph.unresolved},
            "uninstallable": {name: list(self.graph.uninstallable[name]) for name in affected
                              if name in self.graph.uninstallable},
        }
        if include_nodes:
            out["nodes"] = self._nodes_dict()
        return out


def _names_sorted(names: tuple) -> bool:
    return all(a < b for a, b in zip(names, names[1:]))


def _name_rank(names: tuple) -> np.ndarray:
    """Each node's position in name order."""
    rank = np.empty(len(names), dtype=np.int64)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return rank


class PlanNodes(Mapping):
    """A lazy ``name -> PlanNode`` view; nodes are built when asked for."""

    def __init__(self, plan: Plan):
        self._plan = plan

    def __getitem__(self, name: str) -> PlanNode:
        if name not in self._plan.graph:
            raise KeyError(name)
        return self._plan.node(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._plan.affected)

    def __len__(self) -> int:
        return int(self._plan.sched.members.size)


Durations = Union[Mapping[str, float], np.ndarray, None]


def make_plan(graph: BuildGraph, changed: Iterable[str], exclude: Iterable[str] = (),
              durations: Durations = None, rebuild_all: bool = False) -> Plan:
    """Plan the rebuild that follows a change of ``changed`` (names or NVRs).

    ``exclude`` names packages that are neither rebuilt nor looked through.
    ``durations`` is a name -> seconds mapping (or a per-node array); missing
    packages fall back to :mod:`discomy.planning.durations`' size model.
    ``rebuild_all`` plans a mass rebuild of every package instead.
    """
    excluded = resolve_changed(graph, exclude) if list(exclude := list(exclude)) else []
    blocked = None
    if excluded:
        blocked = np.zeros(len(graph), dtype=bool)
        blocked[excluded] = True
    if rebuild_all:
        ids = []
        mask = np.ones(len(graph), dtype=bool)
        if blocked is not None:
            mask &= ~blocked
    else:
        ids = resolve_changed(graph, changed)
        mask = reverse_closure(graph, np.asarray(ids), blocked)
    if isinstance(durations, np.ndarray):
        dur = durations
    else:
        dur = durations_array(graph.names, graph.sizes, durations)
    sched = schedule(graph, mask, dur)
    return Plan(graph, tuple(ids), sched, dur, mask,
                tuple(graph.names[i] for i in excluded))


def release_ready(plan: Plan, done: Iterable[str]) -> list:
    """Per-edge release: affected packages not in ``done`` whose release edges are all done."""
    g = plan.graph
    done_mask = np.zeros(len(g), dtype=bool)
    for name in done:
        done_mask[g.index_of(name)] = True
    members = plan.sched.members
    waiting = np.zeros(len(g), dtype=np.int64)
    np.add.at(waiting, plan.sched.edge_user, ~done_mask[plan.sched.edge_dep])
    ready = members[(waiting[members] == 0) & ~done_mask[members]]
    return [g.names[i] for i in ready.tolist()]
