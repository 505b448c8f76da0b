"""How long a rebuild campaign takes on a fleet: a discrete-event simulation (pure core).

A *workload* is a plan's builds with their release edges and reference
durations. Each build is one koji buildArch task per build arch (one ``noarch``
task when it only makes noarch packages); a build is done when all its tasks
are, and it reaches the buildroot after a repo regeneration. Two models:
``pipelined`` (default): every finished build is in the buildroot a fixed delay
later (one regeneration per release); ``serial``: one regeneration runs at a
time and takes in every build finished before it started (kojira's behaviour on
one build tag), so a build that finishes mid-regeneration waits for the next.

A task runs ``reference seconds / host speed``. A host takes a free task while
``ntasks < maxjobs`` and ``capacity - load > max(0, 1.0 - overcommit)`` (koji's
``TaskScheduler.do_schedule``; a free task has the task table's default weight,
1.0). Once running, its weight, and so the host's load, is
``1.5 + min(18, seconds / 4800)`` (kojid's ``BuildArchTask.updateWeight``).

Policies (:data:`POLICIES`), each a small function of release, order and host choice:

- ``koji-stock``: what koji 1.34+'s hub does for a chain of builds released as
  their dependencies land: free tasks in creation order (all at one priority),
  each to the eligible host of lowest ``load + ntasks`` (the demand term is left
  out: it only reorders hosts of equal load).
- ``tiered``: an MBS-style barrier: tier k+1 is released only once all of tier k
  is in the buildroot; within a tier, as koji-stock.
- ``critical-path`` (Discomy's): release per edge; free tasks by longest
  remaining path first (with regenerations, on the fastest host); a task with
  slack (against the campaign's projected end, which grows as chains slip) goes
  to the slowest host that still finishes it within half its slack, which keeps
  the fast hosts free for the chains that decide the makespan; a task with none
  goes to the fastest host with room (heavy jobs to fast hosts).

Inputs are bounded (:class:`SimConfig`, :mod:`discomy.planning.fleet`,
:mod:`discomy.planning.durations`) so that every simulation ends with finite numbers.

The lower bound is ``max(critical path on the fastest host with one repo
regeneration per release edge, total work / fleet throughput)`` (also per arch);
no schedule under this model can beat it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Optional

import numpy as np

from discomy.common.units import short_repr
from discomy.planning.fleet import (
    KOJI_CAPACITY_OVERCOMMIT,
    KOJI_FREE_TASK_WEIGHT,
    MAX_CAPACITY,
    NOARCH,
    Fleet,
    admits,
    task_slots,
)

POLICIES = ("koji-stock", "tiered", "critical-path")
REGEN_MODES = ("pipelined", "serial")
DEFAULT_REPO_REGEN_SECONDS = 300.0
MAX_REPO_REGEN_SECONDS = 86400.0
# share of its slack a build may spend on a slower host (the rest absorbs queueing)
SLACK_SHARE = 0.5


def task_weight(reference_seconds: float) -> float:
    """koji's buildArch weight for a package of this average duration."""
    return 1.5 + min(18.0, reference_seconds / 4800.0)


@dataclass(frozen=True, eq=False)
class Workload:
    """Builds in tier order; ``deps[i]`` are the builds ``i`` waits for."""

    names: tuple
    durations: np.ndarray        # reference seconds per task
    noarch: np.ndarray
    deps: tuple
    tiers: np.ndarray
    remaining: np.ndarray        # longest remaining path (seconds), the priority
    artifact_bytes: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


def workload_from_plan(plan) -> Workload:
    """The estimator's view of a :class:`discomy.planning.planner.Plan`."""
    graph, sched = plan.graph, plan.sched
    members = sched.members
    local = np.full(len(graph), -1, dtype=np.int64)
    local[members] = np.arange(members.size)
    users = local[sched.edge_user]
    deps_local = local[sched.edge_dep]
    order = np.argsort(users, kind="stable")
    users, deps_local = users[order], deps_local[order]
    cuts = np.searchsorted(users, np.arange(1, members.size))
    deps = tuple(tuple(chunk.tolist()) for chunk in np.split(deps_local, cuts)) \
        if members.size else ()
    return Workload(
        names=tuple(graph.names[i] for i in members.tolist()),
        durations=plan.durations[members].astype(np.float64),
        noarch=graph.noarch[members],
        deps=deps,
        tiers=sched.level[members].astype(np.int64),
        remaining=sched.remaining[members],
        artifact_bytes=graph.artifact_sizes[members],
    )


def check_regen_seconds(value: object) -> float:
    """A repo regeneration delay as the simulator takes it: 0 s to 1 day."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 <= value <= MAX_REPO_REGEN_SECONDS:       # NaN fails this too
        raise ValueError(f"must be a number of seconds from 0 to {MAX_REPO_REGEN_SECONDS:.0f} "
                         f"(1 day), got {short_repr(value)}")
    return float(value)


@dataclass(frozen=True)
class SimConfig:
    """How the simulation runs; raises ValueError naming the key of a bad value."""

    repo_regen_seconds: float = DEFAULT_REPO_REGEN_SECONDS
    regen_mode: str = "pipelined"
    arches: tuple = ()                       # build arches; empty = every fleet arch
    overcommit: float = KOJI_CAPACITY_OVERCOMMIT

    def __post_init__(self):
        try:
            regen = check_regen_seconds(self.repo_regen_seconds)
        except ValueError as exc:
            raise ValueError(f"repo_regen_seconds: {exc}") from None
        if not isinstance(self.regen_mode, str) or self.regen_mode not in REGEN_MODES:
            raise ValueError(f"regen_mode: unknown regen mode {short_repr(self.regen_mode)}: "
                             f"use one of {', '.join(REGEN_MODES)}")
        if not isinstance(self.arches, (tuple, list)) or not all(
                isinstance(a, str) and a.split() == [a] for a in self.arches):
            raise ValueError(f"arches: expected arch names, got {short_repr(self.arches)}")
        oc = self.overcommit
        if isinstance(oc, bool) or not isinstance(oc, (int, float)) \
                or not 0 <= oc <= MAX_CAPACITY:
            raise ValueError(f"overcommit: must be a number from 0 to {MAX_CAPACITY:g}, "
                             f"got {short_repr(oc)}")
        object.__setattr__(self, "repo_regen_seconds", regen)
        object.__setattr__(self, "arches", tuple(self.arches))
        object.__setattr__(self, "overcommit", float(oc))


@dataclass(frozen=True)
class TaskRun:
    build: int
    arch: str
    host: int
    start: float
    end: float


@dataclass(frozen=True)
class Bounds:
    lower_bound_seconds: float
    critical_path_seconds: float
    work_seconds: float


@dataclass(frozen=True)
class SimResult:
    policy: str
    makespan_seconds: float
    bounds: Bounds
    utilisation: float
    compute_hours: float
    storage_bytes: int
    host_names: tuple
    runs: tuple
    build_count: int

    @property
    def task_count(self) -> int:
        return len(self.runs)

    def to_dict(self) -> dict:
        return {
            "policy": self.policy,
            "makespan_seconds": round(self.makespan_seconds, 1),
            "lower_bound_seconds": round(self.bounds.lower_bound_seconds, 1),
            "critical_path_bound_seconds": round(self.bounds.critical_path_seconds, 1),
            "work_bound_seconds": round(self.bounds.work_seconds, 1),
            "ratio_to_lower_bound": round(self.makespan_seconds / self.bounds.lower_bound_seconds, 4)
            if self.bounds.lower_bound_seconds else None,
            "utilisation": round(self.utilisation, 4),
            "compute_hours": round(self.compute_hours, 2),
            "storage_bytes": int(self.storage_bytes),
            "hosts": len(self.host_names),
            "builds": self.build_count,
            "tasks": self.task_count,
        }


def build_arches(workload: Workload, fleet: Fleet, config: SimConfig) -> list:
    """The task arches of each build."""
    arches = tuple(config.arches) or tuple(a for a in fleet.arches if a != NOARCH)
    if not arches and not workload.noarch.all():
        raise ValueError("no build arch: the fleet builds only noarch")
    return [(NOARCH,) if workload.noarch[i] else arches for i in range(len(workload))]


def fastest_durations(workload: Workload, fleet: Fleet, config: SimConfig) -> np.ndarray:
    """Each build's time on the fastest hosts of its arches."""
    arches_of = build_arches(workload, fleet, config)
    fastest = {a: fleet.fastest_speed(None if a == NOARCH else a) for a in
               {a for arches in arches_of for a in arches}}
    return np.asarray([max(workload.durations[i] / fastest[a] for a in arches_of[i])
                       for i in range(len(workload))], dtype=np.float64)


def path_lengths(workload: Workload, own: np.ndarray, regen: float):
    """Longest path ending at / starting from each build, ``regen`` per release edge."""
    n = len(workload)
    finish = np.zeros(n)
    remaining = np.zeros(n)
    own_l = own.tolist()
    fin = [0.0] * n
    for i in range(n):                    # builds are in tier order: deps come first
        fin[i] = max((fin[d] + regen for d in workload.deps[i]), default=0.0) + own_l[i]
    rem = list(own_l)
    for i in range(n - 1, -1, -1):
        r = rem[i] + regen
        for d in workload.deps[i]:
            if rem[d] < r + own_l[d]:
                rem[d] = r + own_l[d]
    finish[:] = fin
    remaining[:] = rem
    return finish, remaining


def lower_bound(workload: Workload, fleet: Fleet, config: SimConfig = SimConfig()) -> Bounds:
    """No schedule of ``workload`` on ``fleet`` finishes sooner than this."""
    arches_of = build_arches(workload, fleet, config)
    finish, _ = path_lengths(workload, fastest_durations(workload, fleet, config),
                             config.repo_regen_seconds)
    cp = float(finish.max()) if len(workload) else 0.0

    slots = {g.name: task_slots(g, 1.5, config.overcommit) for g in fleet.groups}
    total_thr = sum(g.count * g.speed * slots[g.name] for g in fleet.groups)
    work_all = 0.0
    work_by_arch: dict = {}
    for i, arches in enumerate(arches_of):
        for a in arches:
            work_all += workload.durations[i]
            if a != NOARCH:
                work_by_arch[a] = work_by_arch.get(a, 0.0) + workload.durations[i]
    work = work_all / total_thr if total_thr else float("inf")
    for a, w in work_by_arch.items():
        thr = sum(g.count * g.speed * slots[g.name] for g in fleet.groups if a in g.arches)
        work = max(work, w / thr if thr else float("inf"))
    return Bounds(float(max(cp, work)), cp, float(work))


class _Hosts:
    """Host state, with one lazily updated ``load + ntasks`` heap per group."""

    def __init__(self, fleet: Fleet, overcommit: float):
        self.names, self.group, self.speed, self.capacity, self.maxjobs = [], [], [], [], []
        self.groups = fleet.groups
        for gi, g in enumerate(fleet.groups):
            for k in range(g.count):
                self.names.append(f"{g.name}-{k + 1}")
                self.group.append(gi)
                self.speed.append(g.speed)
                self.capacity.append(g.capacity)
                self.maxjobs.append(g.maxjobs)
        n = len(self.names)
        self.load = [0.0] * n
        self.ntasks = [0] * n
        self.version = [0] * n
        self.overcommit = overcommit
        self.heaps = [[] for _ in fleet.groups]
        for h in range(n):
            self.heaps[self.group[h]].append((0.0, h, 0))
        for heap in self.heaps:
            heapq.heapify(heap)
        self.by_speed = sorted(range(len(fleet.groups)), key=lambda gi: -fleet.groups[gi].speed)

    def fits(self, h: int) -> bool:
        return admits(self.capacity[h], self.load[h], self.ntasks[h], self.maxjobs[h],
                      self.overcommit)

    def best_in_group(self, gi: int) -> Optional[int]:
        heap = self.heaps[gi]
        while heap:
            rank, h, version = heap[0]
            if version != self.version[h]:
                heapq.heappop(heap)
                continue
            return h if self.fits(h) else None
        return None

    def change(self, h: int, weight: float, tasks: int) -> None:
        self.load[h] += weight
        self.ntasks[h] += tasks
        self.version[h] += 1
        heapq.heappush(self.heaps[self.group[h]],
                       (self.load[h] + self.ntasks[h], h, self.version[h]))


def simulate(workload: Workload, fleet: Fleet, policy: str,
             config: SimConfig = SimConfig()) -> SimResult:
    """Run the campaign under ``policy``; returns makespan, bounds and every task run."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {short_repr(policy)}: use one of {', '.join(POLICIES)}")
    arches_of = build_arches(workload, fleet, config)
    hosts = _Hosts(fleet, config.overcommit)
    bin_groups = {NOARCH: list(range(len(fleet.groups)))}
    for a in sorted({a for arches in arches_of for a in arches}):
        if a != NOARCH:
            bin_groups[a] = [gi for gi, g in enumerate(fleet.groups) if a in g.arches]
        if not bin_groups[a]:
            raise ValueError(f"no host in the fleet builds {a}")
        # an idle host that admits one task is what keeps the simulation going
        if not any(admits(fleet.groups[gi].capacity, 0.0, 0, fleet.groups[gi].maxjobs,
                          config.overcommit) for gi in bin_groups[a]):
            raise ValueError(f"no {a} host ever takes a task: koji needs a capacity above "
                             f"{max(0.0, KOJI_FREE_TASK_WEIGHT - config.overcommit):g} "
                             f"with overcommit {config.overcommit:g}")
    n = len(workload)
    durations = workload.durations.tolist()
    regen = config.repo_regen_seconds
    fast = fastest_durations(workload, fleet, config)
    finish_fast, remaining_fast = path_lengths(workload, fast, regen)
    horizon = float(finish_fast.max()) if n else 0.0
    remaining = remaining_fast.tolist()
    fast_l = fast.tolist()
    target = [horizon]      # the projected end of the campaign: grows as chains slip
    weights = [task_weight(d) for d in durations]
    users = [[] for _ in range(n)]
    for i, deps in enumerate(workload.deps):
        for d in deps:
            users[d].append(i)
    waiting = [len(deps) for deps in workload.deps]
    tasks_left = [len(a) for a in arches_of]
    tiers = workload.tiers.tolist()
    tier_members: dict = {}
    for i, t in enumerate(tiers):
        tier_members.setdefault(t, []).append(i)
    tier_left = {t: len(m) for t, m in tier_members.items()}

    queues = {a: [] for a in bin_groups}
    fast_first = {a: sorted(gs, key=lambda g: -fleet.groups[g].speed) for a, gs in bin_groups.items()}
    events: list = []
    seq = 0
    runs = []
    serial = config.regen_mode == "serial"
    regen_busy = False
    regen_pending: list = []
    by_edge = policy != "tiered"
    speed_first = policy == "critical-path"

    def release(i: int, now: float) -> None:
        nonlocal seq
        for a in arches_of[i]:
            seq += 1
            key = (-remaining[i], seq) if speed_first else (now, seq)
            heapq.heappush(queues[a], (key, i, a))

    def start_regen(now: float, builds: list) -> None:
        nonlocal seq, regen_busy
        regen_busy = True
        seq += 1
        heapq.heappush(events, (now + regen, seq, "regen", builds))

    def finish_time_on(h: int, now: float, i: int) -> float:
        return now + durations[i] / hosts.speed[h]

    def choose_host(a: str, i: int, now: float) -> Optional[int]:
        if not speed_first:
            best = None
            for gi in bin_groups[a]:
                h = hosts.best_in_group(gi)
                if h is not None:
                    key = (hosts.load[h] + hosts.ntasks[h], h)
                    if best is None or key < best[0]:
                        best = (key, h)
            return None if best is None else best[1]
        # critical-path: the slowest host that keeps the build within its slack ...
        groups = fast_first[a]
        best_speed = fleet.groups[groups[0]].speed
        d = durations[i]
        # slack: how late it may finish without moving the projected end of the campaign
        target[0] = max(target[0], now + remaining[i])
        slack = target[0] - (now + remaining[i])
        if slack > 0:
            for gi in reversed(groups):
                if d / fleet.groups[gi].speed - d / best_speed <= slack * SLACK_SHARE:
                    h = hosts.best_in_group(gi)
                    if h is not None:
                        return h
        # ... else the fastest host with room
        for gi in groups:
            h = hosts.best_in_group(gi)
            if h is not None:
                return h
        return None

    def schedule_pass(now: float) -> None:
        nonlocal seq
        blocked = set()
        while True:
            best = None
            for a, q in queues.items():
                if q and a not in blocked and (best is None or q[0][0] < queues[best][0][0]):
                    best = a
            if best is None:
                return
            key, i, a = queues[best][0]
            h = choose_host(a, i, now)
            if h is None:
                blocked.add(best)
                continue
            heapq.heappop(queues[best])
            end = finish_time_on(h, now, i)
            hosts.change(h, weights[i], 1)
            target[0] = max(target[0], end + remaining[i] - fast_l[i])
            runs.append(TaskRun(i, a, h, now, end))
            seq += 1
            heapq.heappush(events, (end, seq, "finish", (i, h)))

    for i in range(n):
        if (by_edge and waiting[i] == 0) or (not by_edge and tiers[i] == 0):
            release(i, 0.0)
    schedule_pass(0.0)
    makespan = 0.0
    while events:
        now = events[0][0]
        while events and events[0][0] == now:
            _, _, kind, data = heapq.heappop(events)
            if kind == "finish":
                i, h = data
                hosts.change(h, -weights[i], -1)
                tasks_left[i] -= 1
                if tasks_left[i] == 0:
                    makespan = max(makespan, now)
                    if not serial:
                        seq += 1
                        heapq.heappush(events, (now + regen, seq, "regen", [i]))
                    elif regen_busy:
                        regen_pending.append(i)
                    else:
                        start_regen(now, [i])
            else:
                if serial:
                    regen_busy = False
                for b in data:
                    if by_edge:
                        for u in users[b]:
                            waiting[u] -= 1
                            if waiting[u] == 0:
                                release(u, now)
                    else:
                        t = tiers[b]
                        tier_left[t] -= 1
                        if tier_left[t] == 0:
                            for u in tier_members.get(t + 1, ()):
                                release(u, now)
                if regen_pending:
                    builds, regen_pending = regen_pending, []
                    start_regen(now, builds)
        schedule_pass(now)
    if any(tasks_left):
        raise AssertionError("simulation ended with unbuilt packages")

    busy = sum(r.end - r.start for r in runs)
    slot_total = sum(g.count * task_slots(g, 1.5, config.overcommit) for g in fleet.groups)
    storage = int(sum(workload.artifact_bytes[i] * len(arches_of[i]) for i in range(n)))
    return SimResult(
        policy=policy,
        makespan_seconds=makespan,
        bounds=lower_bound(workload, fleet, config),
        utilisation=busy / (slot_total * makespan) if makespan and slot_total else 0.0,
        compute_hours=busy / 3600.0,
        storage_bytes=storage,
        host_names=tuple(hosts.names),
        runs=tuple(runs),
        build_count=n,
    )
