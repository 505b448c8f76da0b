"""A synthetic distribution with the shapes that make estimates hard (tests and bench).

Deterministic from its seed. What it has, and why:

- tens of thousands of builds of minutes (log-normal, median 4 min) in a layered
  dependency graph where a few core packages are build-required by many;
- a few builds of tens of hours (a browser, compilers, an office suite), some deep
  in chains, some with dependents of their own;
- three arches, one of them thin (``s390x``: four big hosts against 72 x86_64 and 26
  aarch64 ones in the fleet below);
- packages whose arches exclude host groups: x86_64-only (ExclusiveArch), not on
  s390x (ExcludeArch), noarch; and package constraints (memory, cpus) that the
  small hosts cannot meet;
- a fleet whose hosts' capacity is below the largest koji weights (a 20 h build
  weighs 1.5 + 15 once running; capacity 8 and 16 hosts).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from discomy.placement import parse_config
from discomy.planning.fleet import fleet_from_data
from discomy.planning.graph import graph_from_mapping
from discomy.planning.planner import make_plan
from discomy.planning.simulator import workload_from_plan

ARCHES = ("x86_64", "aarch64", "s390x")
HEAVY = ("chromium", "llvm", "libreoffice", "firefox", "gcc", "qt6-webengine", "texlive",
         "rust", "ghc", "ceph", "kernel", "openjdk", "thunderbird", "webkitgtk", "boost",
         "tensorflow", "julia", "root", "paraview", "octave")

FLEET = [
    {"name": "x-strong", "count": 8, "arches": ["x86_64"], "speed": 2.0, "capacity": 16,
     "maxjobs": 8, "cpus": 64, "memory": "256G", "disk": "2T"},
    {"name": "x-medium", "count": 24, "arches": ["x86_64"], "speed": 1.0, "capacity": 8,
     "maxjobs": 6, "cpus": 16, "memory": "64G", "disk": "500G"},
    {"name": "x-small", "count": 40, "arches": ["x86_64"], "speed": 0.5, "capacity": 4,
     "maxjobs": 3, "cpus": 4, "memory": "16G", "disk": "100G"},
    {"name": "a-strong", "count": 6, "arches": ["aarch64"], "speed": 1.8, "capacity": 16,
     "maxjobs": 8, "cpus": 80, "memory": "256G", "disk": "2T"},
    {"name": "a-small", "count": 20, "arches": ["aarch64"], "speed": 0.6, "capacity": 6,
     "maxjobs": 4, "cpus": 8, "memory": "32G", "disk": "200G"},
    {"name": "z", "count": 4, "arches": ["s390x"], "speed": 1.0, "capacity": 24,
     "maxjobs": 10, "cpus": 32, "memory": "128G", "disk": "1T"},
]

# the shipped discomy.conf's history rules; the heavy packages need what only the
# bigger hosts have
HUB_CONFIG = {"scheduler": {"power_after": "2h", "wait_for_faster": "5m"},
              "constraints": {name: '{"memory": "48G", "cpus": 16}' for name in HEAVY}}


def synthetic(builds: int = 30000, levels: int = 40, heavy: int = len(HEAVY), seed: int = 11):
    """(workload, fleet, hub config): a mass rebuild of ``builds`` packages."""
    rng = np.random.default_rng(seed)
    names = [f"pkg{i:05d}" for i in range(builds)]
    heavy_at = sorted(rng.choice(np.arange(builds // 10, builds - builds // 10), heavy,
                             replace=False).tolist())
    for k, i in enumerate(heavy_at):
        names[i] = HEAVY[k % len(HEAVY)] + ("" if k < len(HEAVY) else f"-{k}")
    # levels grow with the index, so dependencies (on lower levels) come first
    level = np.sort(rng.integers(0, levels, builds))
    level[: max(1, builds // 200)] = 0
    first_of = np.searchsorted(level, np.arange(levels + 1))
    popularity = 1.0 / np.arange(1, builds + 1) ** 1.1         # a few core packages
    deps: dict = {}
    for i in range(builds):
        lv = int(level[i])
        wanted = set()
        if lv > 0:
            lo, hi = first_of[lv - 1], first_of[lv]
            if hi > lo:
                wanted.add(int(rng.integers(lo, hi)))          # keeps the levels apart
            below = first_of[lv]
            if below:
                weights = popularity[:below] / popularity[:below].sum()
                count = min(below, int(rng.poisson(2.5)))
                wanted.update(int(j) for j in rng.choice(below, count, p=weights,
                                                         replace=False))
        deps[names[i]] = sorted(names[j] for j in wanted)
    seconds = np.clip(rng.lognormal(np.log(240.0), 0.9, builds), 60.0, 4 * 3600.0)
    for i in heavy_at:
        seconds[i] = rng.uniform(10, 40) * 3600.0
    noarch = rng.random(builds) < 0.15
    for i in heavy_at:
        noarch[i] = False
    roll = rng.random(builds)
    exclusive = tuple(("x86_64",) if r < 0.03 else ("x86_64", "aarch64") if r < 0.08 else ()
                      for r in roll)
    graph = graph_from_mapping(deps, noarch=[n for n, flag in zip(names, noarch) if flag])
    plan = make_plan(graph, [], rebuild_all=True, durations=dict(zip(names, seconds.tolist())))
    workload = workload_from_plan(plan)
    order = {name: i for i, name in enumerate(names)}
    workload = replace(workload, exclusive=tuple(exclusive[order[n]] for n in workload.names))
    return workload, fleet_from_data(FLEET, "synthetic fleet"), parse_config(HUB_CONFIG)
