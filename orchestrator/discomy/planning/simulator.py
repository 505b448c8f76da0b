"""How long a rebuild campaign takes on a fleet: a discrete-event simulation of what
koji, the hub plugin and the orchestrator do (pure core).

A *workload* is a plan's builds with their release edges and reference durations.
The simulation runs the campaign the way it runs for real:

- the orchestrator (:mod:`discomy.orchestration.engine`) steps every ``poll_seconds``:
  it notices finished builds, asks for the buildroot repo once per round
  (``repo.request`` with the tag's last event), notices repos that are ready, and
  submits the builds whose dependencies are in the repo, within ``max_in_flight``;
- each build is koji's task tree (:mod:`discomy.planning.kojimodel`): a ``build``
  parent, a ``buildSRPMFromSCM``, one ``buildArch`` per arch and a ``tagBuild``, each
  subtask one priority ahead of its parent; a repo regeneration is a ``newRepo`` task
  (priority 15, channel ``createrepo``) waiting for one ``createrepo`` per arch,
  made by kojira every ``kojira_seconds`` (half a period out of step with the
  orchestrator's polls: the two keep no common phase) for waiting requests, at most
  ``max_repo_tasks`` at once (``kojihub/repos.py``). A repo covers every request
  made before it began (its create event);
- the hub's scheduler runs every ``run_interval`` over at most 1,000 free tasks in
  ``priority, create_ts`` order, and its pass **is** :func:`discomy.placement.schedule`,
  the pass the hub plugin runs: with no host data and no constraints it is stock
  koji's pass (``kojihub/scheduler.py``), with them it is the plugin's;
- a builder checks in every ``sleeptime`` plus ``kojid_cycle_seconds`` (``builder/kojid``
  main loop: its hub calls, then ``time.sleep(sleeptime)``; it takes one task per loop
  and loops again at once after taking one, so the tasks assigned to it open a loop
  apart and busy builders drift against the scheduler's passes): it reports
  itself ready only while its open tasks weigh no more than its capacity and number
  fewer than its maxjobs (``TaskManager.readyForTask``), opens the tasks assigned to
  it, and wakes its parent tasks whose subtasks are done. A task is assigned at the
  task table's default weight and weighs its handler's weight once open; a buildArch
  then weighs ``1.5 + min(18, average build / 4800)``. A waiting parent weighs nothing
  but holds one of its host's maxjobs slots;
- a task runs ``reference seconds / host speed``.

Policies (:data:`POLICIES`), each something that can be deployed:

- ``koji-stock``: builds released as their dependencies land, at koji's default
  priority, on a hub without the plugin (no host data, no constraints);
- ``tiered``: as koji-stock but MBS-style: a tier is released once the whole previous
  tier is in the repo;
- ``discomy-stock-hub``: the orchestrator's release order and koji priorities
  (:mod:`discomy.planning.priorities`) on a stock hub;
- ``discomy``: the same with the hub plugin: host data from the fleet, package
  constraints, power jobs by history, reservations, long builds waiting for a faster
  host and parents on the slow builders' last slots (``PlacementConfig``, the shipped
  discomy.conf unless given).

The lower bound (:func:`lower_bound`) is what no schedule under this model beats:
the longest chain on the fastest hosts where each hop of a build waits for a
scheduler pass at least ``run_interval`` after the one before (koji never runs two
passes closer), the work over the fleet's throughput per arch, and with a cap on
builds in flight, their least time in flight over the cap.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from discomy.common.units import short_repr
from discomy.placement import (
    NO_REQUIREMENTS,
    ActiveTask,
    FreeTask,
    HostCapabilities,
    PlacementConfig,
    schedule,
    task_requirements,
)
from discomy.placement.hostdata import BUILDROOT_PATH, HostData
from discomy.placement.schedule import admits, min_available
from discomy.planning import kojimodel as km
from discomy.planning.fleet import MAX_CAPACITY, NOARCH, Fleet, koji_conf, task_slots
from discomy.planning.priorities import BUILD_OVERHEAD_SECONDS, koji_priority, release_key

POLICIES = ("koji-stock", "tiered", "discomy-stock-hub", "discomy")
# how each policy releases, prioritises and places
_RELEASE = {"koji-stock": "edge", "tiered": "tier", "discomy-stock-hub": "edge",
            "discomy": "edge"}
_ORCHESTRATED = {"discomy-stock-hub", "discomy"}
_PLUGIN = {"discomy"}

REGEN_MODES = ("pipelined", "serial")
DEFAULT_REPO_REGEN_SECONDS = 300.0
MAX_REPO_REGEN_SECONDS = 86400.0
MAX_TIMING_SECONDS = 86400.0
# with no task opened or closed for this long, koji is stuck (every slot held by
# parents waiting for subtasks that have none): the simulation says so and stops
STUCK_SECONDS = 30 * 86400.0
# the hub plugin's settings the estimate assumes: the shipped discomy.conf
SHIPPED_HUB = PlacementConfig(power_after_s=7200.0, wait_for_faster_s=300.0)


@dataclass(frozen=True, eq=False)
class Workload:
    """Builds in tier order; ``deps[i]`` are the builds ``i`` waits for;
    ``exclusive[i]``, where given, the only arches build ``i`` builds on."""

    names: tuple
    durations: np.ndarray        # reference seconds per task
    noarch: np.ndarray
    deps: tuple
    tiers: np.ndarray
    remaining: np.ndarray        # the orchestrator's urgency: chain with koji's overhead
    artifact_bytes: np.ndarray
    exclusive: tuple = ()

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
        remaining=plan.chain_seconds(BUILD_OVERHEAD_SECONDS)[members],
        artifact_bytes=graph.artifact_sizes[members],
    )


def check_regen_seconds(value: object) -> float:
    """A repo regeneration time as the simulator takes it: 0 s to 1 day."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 <= value <= MAX_REPO_REGEN_SECONDS:       # NaN fails this too
        raise ValueError(f"must be a number of seconds from 0 to {MAX_REPO_REGEN_SECONDS:.0f} "
                         f"(1 day), got {short_repr(value)}")
    return float(value)


def _number(name: str, value: object, low: float, high: float, whole: bool = False,
            low_included: bool = True):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or value > high or value < low or (value == low and not low_included) \
            or (whole and value != int(value)):
        lowest = f"from {low:g}" if low_included else f"above {low:g}"
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{name}: must be {kind} {lowest} to {high:g}, got {short_repr(value)}")
    return int(value) if whole else float(value)


@dataclass(frozen=True)
class SimConfig:
    """How the simulation runs; raises ValueError naming the key of a bad value.

    Koji's own settings default to koji's defaults (:mod:`discomy.planning.kojimodel`);
    ``repo_regen_seconds`` is one ``createrepo`` task (one arch) on the reference
    builder, ``srpm_seconds`` and ``tag_seconds`` the other subtasks of a build.
    ``regen_mode`` ``serial`` is one regeneration at a time (``MaxRepoTasks = 1``),
    ``pipelined`` the hub's ``MaxRepoTasks`` (``max_repo_tasks``). ``max_in_flight``
    caps the builds a campaign has submitted and not yet seen in the repo (None: no
    cap). A fleet file's koji settings come in through
    :meth:`discomy.planning.fleet.KojiSettings.sim_settings`.
    """

    repo_regen_seconds: float = DEFAULT_REPO_REGEN_SECONDS
    regen_mode: str = "pipelined"
    arches: tuple = ()                       # build arches; empty = every fleet arch
    overcommit: float = km.CAPACITY_OVERCOMMIT
    maxjobs: int = km.MAXJOBS                # hub.conf MaxJobs (hosts that publish none)
    max_repo_tasks: int = km.MAX_REPO_TASKS  # hub.conf MaxRepoTasks
    run_interval: float = km.RUN_INTERVAL
    sleeptime: float = km.KOJID_SLEEPTIME
    kojid_cycle_seconds: float = km.KOJID_CYCLE_SECONDS   # a kojid loop's own hub calls
    # where the builders' check-ins fall in their period, as a fraction of it: koji gives
    # them no common phase, and a small campaign's makespan depends on the one it gets,
    # so an estimate of one may average over several (the builders keep their spread)
    checkin_phase: float = 0.0
    kojira_seconds: float = km.KOJIRA_SLEEPTIME
    poll_seconds: float = 2.0                # the daemon's tick: koji's messages wake it
    srpm_seconds: float = 120.0
    tag_seconds: float = 10.0
    max_in_flight: Optional[int] = None
    priority_high: int = 20
    priority_low: int = 30

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
        fixed = {"repo_regen_seconds": regen, "arches": tuple(self.arches),
                 "overcommit": float(oc),
                 "maxjobs": _number("maxjobs", self.maxjobs, 1, 1000, whole=True),
                 "max_repo_tasks": _number("max_repo_tasks", self.max_repo_tasks, 1, 1000,
                                           whole=True)}
        for key in ("run_interval", "sleeptime", "kojira_seconds", "poll_seconds"):
            fixed[key] = _number(key, getattr(self, key), 0, 3600.0, low_included=False)
        fixed["kojid_cycle_seconds"] = _number("kojid_cycle_seconds",
                                               self.kojid_cycle_seconds, 0, 3600.0)
        fixed["checkin_phase"] = _number("checkin_phase", self.checkin_phase, 0, 1.0)
        for key in ("srpm_seconds", "tag_seconds"):
            fixed[key] = _number(key, getattr(self, key), 0, MAX_TIMING_SECONDS)
        if self.max_in_flight is not None:
            fixed["max_in_flight"] = _number("max_in_flight", self.max_in_flight, 1, 10 ** 7,
                                             whole=True)
        for key in ("priority_high", "priority_low"):
            fixed[key] = _number(key, getattr(self, key), -1000, 1000, whole=True)
        if fixed["priority_high"] > fixed["priority_low"]:
            raise ValueError("priority_high: must not be above priority_low")
        for key, value in fixed.items():
            object.__setattr__(self, key, value)

    def koji_conf(self) -> dict:
        """The koji settings this run assumes, named as koji's config files name them."""
        return koji_conf(vars(self))

    @property
    def repo_tasks(self) -> int:
        """newRepo tasks at once: one in ``serial`` mode, else ``max_repo_tasks``."""
        return 1 if self.regen_mode == "serial" else self.max_repo_tasks


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
    flight_seconds: float = 0.0


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
    passes: int = 0
    repos: int = 0
    done: tuple = ()          # per build: when the orchestrator saw it in the repo

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
            "flight_bound_seconds": round(self.bounds.flight_seconds, 1),
            "ratio_to_lower_bound": round(self.makespan_seconds / self.bounds.lower_bound_seconds, 4)
            if self.bounds.lower_bound_seconds else None,
            "utilisation": round(self.utilisation, 4),
            "compute_hours": round(self.compute_hours, 2),
            "storage_bytes": int(self.storage_bytes),
            "hosts": len(self.host_names),
            "builds": self.build_count,
            "tasks": self.task_count,
            "scheduler_passes": self.passes,
            "repo_regenerations": self.repos,
        }


def build_arches(workload: Workload, fleet: Fleet, config: SimConfig) -> list:
    """The buildArch task arches of each build (its exclusive arches, where given)."""
    arches = tuple(config.arches) or tuple(a for a in fleet.arches if a != NOARCH)
    if not arches and not workload.noarch.all():
        raise ValueError("no build arch: the fleet builds only noarch")
    out = []
    for i in range(len(workload)):
        if workload.noarch[i]:
            out.append((NOARCH,))
            continue
        only = workload.exclusive[i] if workload.exclusive else None
        mine = tuple(a for a in arches if a in only) if only else arches
        if not mine:
            raise ValueError(f"{workload.names[i]}: builds on {', '.join(only)}, which no "
                             f"campaign arch ({', '.join(arches)}) is")
        out.append(mine)
    return out


def _channels(group) -> tuple:
    return getattr(group, "channels", None) or (km.DEFAULT_CHANNEL, km.CREATEREPO_CHANNEL)


def _fastest(fleet: Fleet, channel: str, arch: str) -> float:
    speeds = [g.speed for g in fleet.groups if channel in _channels(g)
              and (arch == NOARCH or arch in g.arches)]
    return max(speeds) if speeds else 0.0


def _repo_arches(fleet: Fleet, config: SimConfig) -> tuple:
    return tuple(config.arches) or tuple(a for a in fleet.arches if a != NOARCH)


def lower_bound(workload: Workload, fleet: Fleet, config: SimConfig = SimConfig()) -> Bounds:
    """No schedule of ``workload`` on ``fleet`` under this model finishes sooner.

    Along a chain, each task of a build is placed by its own scheduler pass, and koji
    runs passes at least ``run_interval`` apart; every task runs on the fastest host
    that can take it and waits for nothing else.
    """
    arches_of = build_arches(workload, fleet, config)
    ri = config.run_interval
    f_noarch = _fastest(fleet, km.DEFAULT_CHANNEL, NOARCH)
    f_repo = _fastest(fleet, km.CREATEREPO_CHANNEL, NOARCH)
    fastest = {a: _fastest(fleet, km.DEFAULT_CHANNEL, a)
               for a in {a for arches in arches_of for a in arches}}
    srpm = config.srpm_seconds / f_noarch if f_noarch else math.inf
    tag = config.tag_seconds / f_noarch if f_noarch else math.inf
    regen = config.repo_regen_seconds / f_repo if f_repo else math.inf
    n = len(workload)
    durations = workload.durations.tolist()
    ready = [0.0] * n         # the repo holding the build is ready
    last_pass = [0.0] * n     # the pass that placed its last createrepo
    flight = 0.0
    for i in range(n):        # builds are in tier order: dependencies come first
        r = 0.0
        for d in workload.deps[i]:
            r = max(r, ready[d], last_pass[d] + ri)
        p1 = r                                     # the build task
        p2 = p1 + ri                               # its buildSRPMFromSCM
        p3 = max(p2 + srpm, p2 + ri)               # its buildArch tasks
        run = max(durations[i] / fastest[a] if fastest[a] else math.inf for a in arches_of[i])
        p4 = max(p3 + run, p3 + ri)                # its tagBuild
        p5 = max(p4 + tag, p4 + ri)                # the newRepo
        p6 = p5 + ri                               # its createrepo tasks
        ready[i] = p6 + regen
        last_pass[i] = p6
        flight += ready[i] - p1
    cp = max(ready, default=0.0)

    slots = {g.name: task_slots(g, km.OPEN_WEIGHT[km.BUILDARCH], config.overcommit)
             for g in fleet.groups}
    total_thr = sum(g.count * g.speed * slots[g.name] for g in fleet.groups)
    work_all = 0.0
    work_by_arch: dict = {}
    for i, arches in enumerate(arches_of):
        for a in arches:
            work_all += durations[i]
            if a != NOARCH:
                work_by_arch[a] = work_by_arch.get(a, 0.0) + durations[i]
    work = work_all / total_thr if total_thr else math.inf
    for a, w in work_by_arch.items():
        thr = sum(g.count * g.speed * slots[g.name] for g in fleet.groups if a in g.arches)
        work = max(work, w / thr if thr else math.inf)
    cap = default_max_in_flight(fleet, config)
    flight_bound = flight / cap if cap else 0.0
    return Bounds(float(max(cp, work, flight_bound)), float(cp), float(work), float(flight_bound))


def default_max_in_flight(fleet: Fleet, config: SimConfig) -> int:
    """``max_in_flight`` as given, else half the fleet's maxjobs slots: a build in koji
    holds its parent task's slot until it is done, and a stock hub given more parents
    than slots has none left for their subtasks."""
    if config.max_in_flight is not None:
        return config.max_in_flight
    return max(1, sum(g.count * g.maxjobs for g in fleet.groups) // 2)


def fleet_hosts(fleet: Fleet, config: SimConfig, with_data: bool) -> tuple:
    """The fleet as koji's scheduler sees it: one :class:`HostCapabilities` per host
    (channel ids: 1 default, 2 createrepo), and whether each publishes Discomy data."""
    channel_ids = {km.DEFAULT_CHANNEL: 1, km.CREATEREPO_CHANNEL: 2}
    hosts, group_of = [], []
    for gi, g in enumerate(fleet.groups):
        channels = tuple(channel_ids.setdefault(c, len(channel_ids) + 1) for c in _channels(g))
        data = HostData()
        if with_data:
            data = HostData(cpus=g.cpus, memory_mb=g.memory_mb,
                            disk_free_mb={BUILDROOT_PATH: g.disk_mb} if g.disk_mb else {},
                            speed=g.speed)
        for k in range(g.count):
            hosts.append(HostCapabilities(host_id=len(hosts) + 1, name=f"{g.name}-{k + 1}",
                                          arches=tuple(a for a in g.arches if a != NOARCH),
                                          channels=channels, capacity=g.capacity,
                                          maxjobs=g.maxjobs, data=data))
            group_of.append(gi)
    return tuple(hosts), tuple(group_of), channel_ids


def simulate(workload: Workload, fleet: Fleet, policy: str,
             config: SimConfig = SimConfig(),
             hub: PlacementConfig = SHIPPED_HUB) -> SimResult:
    """Run the campaign under ``policy``; returns makespan, bounds and every buildArch run.

    ``hub`` is the hub plugin's discomy.conf (its constraints included) for ``discomy``.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {short_repr(policy)}: use one of {', '.join(POLICIES)}")
    sim = _Simulation(workload, fleet, policy, config, hub)
    sim.run()
    return sim.result()


# event kinds, in the order they happen at one instant
_FINISH, _CHECKIN, _ENGINE, _KOJIRA, _PASS = range(5)
_KEY_SHIFT = 1 << 32
# node states as the engine names them
_WAITING, _READY, _BUILDING, _WAITING_REPO, _DONE = range(5)


class _Simulation:
    """One campaign under one policy (internal)."""

    def __init__(self, workload: Workload, fleet: Fleet, policy: str, config: SimConfig,
                 hub: PlacementConfig):
        self.w, self.fleet, self.policy, self.config = workload, fleet, policy, config
        self.arches_of = build_arches(workload, fleet, config)
        self.repo_arches = _repo_arches(fleet, config)
        plugin = policy in _PLUGIN
        self.hosts, self.group_of, channel_ids = fleet_hosts(fleet, config, plugin)
        self.chan_default = channel_ids[km.DEFAULT_CHANNEL]
        self.chan_repo = channel_ids[km.CREATEREPO_CHANNEL]
        self.placement = replace(hub if plugin else PlacementConfig(),
                                 maxjobs=config.maxjobs,
                                 capacity_overcommit=config.overcommit)
        self._check_fleet()
        n = len(workload)
        self.durations = workload.durations.tolist()
        self.names = workload.names
        H = len(self.hosts)
        self.speed = [fleet.groups[g].speed for g in self.group_of]
        self.capacity = [h.capacity for h in self.hosts]
        self.kojid_maxjobs = [h.maxjobs for h in self.hosts]
        # builder/kojid main loop: updateTasks, getNextTask, then time.sleep(sleeptime):
        # a builder checks in every sleeptime plus its loop's own hub calls, so its
        # check-ins drift against the RunInterval and the engine's poll (no common phase)
        self.period = config.sleeptime + config.kojid_cycle_seconds
        golden = (math.sqrt(5) - 1) / 2
        self.phase = [(((k + 1) * golden + config.checkin_phase) % 1.0) * self.period
                      for k in range(H)]
        order = sorted(range(H), key=self.phase.__getitem__)
        self.by_phase = order
        self.phases = [self.phase[k] for k in order]
        self.not_ready = [replace(h, ready=False) for h in self.hosts]
        self.ready = [True] * H
        self.open_load = [0.0] * H
        self.n_open = [0] * H
        self.assigned = [[] for _ in range(H)]
        self.wake = [[] for _ in range(H)]
        self.checkin_at = [None] * H
        self.took_at = [None] * H       # when each builder last took a task

        # tasks: one entry per field
        self.t_kind, self.t_ref, self.t_arch, self.t_prio = [], [], [], []
        self.t_host, self.t_parent, self.t_left, self.t_weight = [], [], [], []
        self.t_stage, self.t_created = [], []
        self.free_keys: list = []
        self.free_obj: dict = {}
        self.active: dict = {}

        # the orchestrator
        orchestrated = policy in _ORCHESTRATED
        self.orchestrated = orchestrated
        self.remaining = workload.remaining.tolist()
        # the longest chain not submitted yet, for priorities at submission (the engine's rule)
        self.open_chains = [(-r, i) for i, r in enumerate(self.remaining)]
        heapq.heapify(self.open_chains)
        if plugin:
            self.req = [task_requirements(name, {}, d, self.placement)
                        for name, d in zip(workload.names, self.durations)]
        else:
            self.req = [NO_REQUIREMENTS] * n
        tiers = workload.tiers.tolist()
        remaining = workload.remaining.tolist()
        self.order_key = ([release_key(remaining[i], tiers[i], workload.names[i])
                           for i in range(n)] if orchestrated else None)
        self.per_tier = _RELEASE[policy] == "tier"
        self.tiers = tiers
        self.tier_members: dict = {}
        for i, t in enumerate(tiers):
            self.tier_members.setdefault(t, []).append(i)
        self.tier_left = {t: len(m) for t, m in self.tier_members.items()}
        self.open_tier = min(self.tier_left) if self.tier_left else 0
        self.users = [[] for _ in range(n)]
        for i, deps in enumerate(workload.deps):
            for d in deps:
                self.users[d].append(i)
        self.waiting = [len(deps) for deps in workload.deps]
        self.state = [_WAITING] * n
        self.done_at = [0.0] * n
        self.ready_heap: list = []
        self.ready_seq = 0
        self.cap = default_max_in_flight(fleet, config)
        self.in_flight = 0
        self.closed_builds: list = []
        self.unasked: list = []
        self.satisfied: list = []
        self.done_count = 0

        # repo requests and repos (kojihub/repos.py)
        self.req_min, self.req_task, self.req_nodes = [], [], []
        self.req_open: list = []          # active requests, oldest first
        self.req_running: set = set()     # active requests whose newRepo runs
        self.tag_changed = -math.inf
        self.repo_created = -math.inf     # create event of the newest ready repo
        self.repos = 0

        self.events: list = []
        self.seq = 0
        self.now = 0.0
        self.pass_at: Optional[float] = None
        self.pass_host: Optional[int] = None
        self.pass_wanted = False
        # kojihub/scheduler.py: an idle builder's host.getTasks runs a pass whenever
        # RunInterval has gone by (get_tasks_for_host -> TaskScheduler.run), free
        # tasks or not, so koji's passes already run when a campaign begins: its
        # first builds wait for the next one (a pass has just run, as on the real hub)
        self.last_pass = 0.0
        self.engine_at: Optional[float] = None
        self.kojira_at: Optional[float] = None
        self.dirty = True
        self.passes = 0
        self.progress_at = 0.0
        self.runs: list = []
        self.busy = 0.0
        self.makespan = 0.0

    # -- set-up checks ---------------------------------------------------------------
    def _check_fleet(self) -> None:
        config = self.config
        bins = {(self.chan_default, NOARCH), (self.chan_repo, NOARCH)}
        bins |= {(self.chan_default, a) for arches in self.arches_of for a in arches}
        min_avail = min_available(km.FREE_TASK_WEIGHT, self.placement)
        for chan, arch in sorted(bins):
            serving = [h for h in self.hosts if chan in h.channels
                       and (arch == NOARCH or arch in h.arches)]
            name = km.DEFAULT_CHANNEL if chan == self.chan_default else km.CREATEREPO_CHANNEL
            if not serving:
                what = f"builds {arch}" if arch != NOARCH else f"is in channel {name}"
                raise ValueError(f"no host in the fleet {what}")
            # an idle host that admits one task is what keeps koji going
            if not any(admits(h.capacity, 0.0, 0, h.maxjobs, min_avail) for h in serving):
                raise ValueError(f"no host ever takes a{'n' if arch[0] in 'aeiou' else ''} "
                                 f"{arch} task (channel {name}): koji needs a capacity "
                                 f"above {min_avail:g} with overcommit {config.overcommit:g}")

    # -- the event loop ----------------------------------------------------------------
    def push(self, time: float, kind: int, data=None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, kind, self.seq, data))

    def grid(self, step: float, at_least: float, offset: float = 0.0) -> float:
        """The first tick of a ``step`` grid (from ``offset``) at or after ``at_least``."""
        k = math.ceil((at_least - offset) / step - 1e-9)
        return max(0.0, offset + k * step)

    def run(self) -> None:
        n = len(self.w)
        for i in range(n):
            if self._may_release(i):
                self._make_ready(i)
        self._engine_soon(0.0)
        events = self.events
        while events and self.done_count < n:
            time, kind, _, data = heapq.heappop(events)
            self.now = time
            if kind == _FINISH:
                self._finish(data)
            elif kind == _CHECKIN:
                if self.took_at[data] != time:      # else it is in its loop already
                    self._checkin(data)
            elif kind == _ENGINE:
                self._engine_step()
            elif kind == _KOJIRA:
                self._kojira_step()
            else:
                self._pass(data)
            if time - self.progress_at > STUCK_SECONDS:
                raise ValueError(self._stuck())
        if self.done_count < n:
            raise ValueError(self._stuck())

    def _stuck(self) -> str:
        """Why koji would never finish: the scheduler's own reasons for the tasks it
        leaves waiting."""
        hosts = [h if self.ready[k] else self.not_ready[k] for k, h in enumerate(self.hosts)]
        window = [self.free_obj[key % _KEY_SHIFT] for key in self.free_keys[:km.FREE_TASK_LIMIT]]
        result = schedule(window, list(self.active.values()), hosts, {}, self.placement,
                          self.now)
        waits = [f"{km.METHODS[self.t_kind[t.task_id]]} of "
                 f"{self.names[self.t_ref[t.task_id]] if self.t_kind[t.task_id] < km.NEWREPO else 'the repo'}"
                 f": {result.reasons[t.task_id]}" for t in window[:3]]
        return (f"koji never finishes this campaign: after {self.now / 3600:.1f} h no task "
                f"can start; " + " | ".join(waits))

    # -- tasks ---------------------------------------------------------------------------
    def _new_task(self, kind: int, ref: int, arch: str, channel: int, prio: int,
                  parent: Optional[int], req=NO_REQUIREMENTS) -> int:
        t = len(self.t_kind)
        self.t_kind.append(kind)
        self.t_ref.append(ref)
        self.t_arch.append(arch)
        self.t_prio.append(prio)
        self.t_host.append(None)
        self.t_parent.append(parent)
        self.t_left.append(0)
        self.t_weight.append(km.FREE_TASK_WEIGHT)
        self.t_stage.append(0)
        self.t_created.append(self.now)
        key = (prio + 1000) * _KEY_SHIFT + t
        self.free_obj[t] = FreeTask(t, channel, arch, km.FREE_TASK_WEIGHT, prio, self.now,
                                    km.METHODS[kind], req)
        bisect.insort(self.free_keys, key)
        if parent is not None:
            self.t_left[parent] += 1
        self._pass_soon()
        return t

    def _subtask(self, parent: int, kind: int, arch: str, req=NO_REQUIREMENTS) -> int:
        chan = self.chan_repo if self.t_kind[parent] == km.NEWREPO else self.chan_default
        return self._new_task(kind, self.t_ref[parent], arch, chan,
                              self.t_prio[parent] - km.SUBTASK_PRIORITY_STEP, parent, req)

    def _pass_soon(self) -> None:
        """The scheduler runs when a ready builder with nothing assigned asks for work
        (``host.getTasks`` -> ``get_tasks_for_host``), at most every ``run_interval``
        (``TaskScheduler.check_ts``), whether or not a task is free: passes follow one
        another a run interval apart. Find the first at or after now."""
        self.dirty = True
        self.pass_wanted = True
        if self.pass_at is not None:
            return
        ri = self.config.run_interval
        last = self.last_pass
        if last != -math.inf and self.now - last > 3 * ri:
            # a long idle spell: passes a run interval apart all along it; step over
            # them at once (their exact phase is lost to kojid's drift anyway)
            last = self.last_pass = last + (math.floor((self.now - last) / ri) - 2) * ri
        while True:
            found = self._asking_host(self.now if last == -math.inf else last + ri)
            if found is None:
                return        # no builder asks: the next that can will (_checkin)
            if found[0] >= self.now - 1e-9:
                break
            last = self.last_pass = found[0]      # a pass found nothing to do then
        self.pass_at, self.pass_host = found
        self.push(self.pass_at, _PASS, self.pass_host)

    def _eligible(self, h: int) -> bool:
        return not self.assigned[h] and self._kojid_ready(h)

    def _asking_host(self, at: float):
        """(time, host) of the first check-in at or after ``at`` of a host that would ask
        for work, judged by what it holds now (checked again when the time comes)."""
        s = self.period
        base = math.floor(at / s) * s
        start = bisect.bisect_left(self.phases, at - base - 1e-9)
        H = len(self.by_phase)
        for k in range(H):
            j = start + k
            h = self.by_phase[j % H]
            if self._eligible(h):
                return base + self.phases[j % H] + (s if j >= H else 0.0), h
        return None

    def _pass(self, h: int) -> None:
        self.pass_at = None
        if not self.pass_wanted:
            return
        if not self._eligible(h) or self.took_at[h] == self.now:
            # that host has work of its own by now, or has just taken a task and asks
            # again only on its next loop: the next one
            self._pass_soon()
            return
        self.pass_wanted = False
        self.last_pass = self.now
        if not self.free_keys or not self.dirty:
            return
        self.dirty = False
        self.passes += 1
        hosts = [h if self.ready[k] else self.not_ready[k] for k, h in enumerate(self.hosts)]
        window = [self.free_obj[key % _KEY_SHIFT] for key in self.free_keys[:km.FREE_TASK_LIMIT]]
        result = schedule(window, list(self.active.values()), hosts, {}, self.placement,
                          self.now)
        for a in result.assignments:
            t, to = a.task_id, a.host_id - 1
            key = (self.t_prio[t] + 1000) * _KEY_SHIFT + t
            del self.free_keys[bisect.bisect_left(self.free_keys, key)]
            del self.free_obj[t]
            self.t_host[t] = to
            self.active[t] = ActiveTask(t, to + 1, km.FREE_TASK_WEIGHT)
            self.assigned[to].append((self.t_prio[t], t))
            self._checkin_soon(to)
        if result.reserved or any(w.req.power for w in window):
            self.dirty = True     # reservations change with time alone
        if self.free_keys and self.dirty:
            self._pass_soon()
        if self.assigned[h]:
            self._checkin(h)      # getTasks answers the asking host at once

    def _checkin_soon(self, h: int) -> None:
        if self.checkin_at[h] is None:
            s = self.period
            phase = self.phase[h]
            at = phase + math.ceil((self.now - phase) / s - 1e-9) * s
            self.checkin_at[h] = at
            self.push(at, _CHECKIN, h)

    def _kojid_ready(self, h: int) -> bool:
        """koji/daemon.py ``TaskManager.readyForTask``."""
        return self.open_load[h] <= self.capacity[h] and self.n_open[h] < self.kojid_maxjobs[h]

    def _checkin(self, h: int) -> None:
        """One pass of kojid's main loop: wake parents, then take assigned tasks while ready."""
        self.checkin_at[h] = None
        if self.wake[h]:
            woken, self.wake[h] = self.wake[h], []
            for t in woken:
                self._resume(t)
        if self.assigned[h]:
            self.assigned[h].sort()
            cycle = self.config.kojid_cycle_seconds
            while self.assigned[h] and self._kojid_ready(h):
                _, t = self.assigned[h].pop(0)
                self._open(t, h)
                if cycle:
                    # builder/kojid main loop: getNextTask takes one task (koji/daemon.py
                    # TaskManager.getNextTask returns after one takeTask), then the loop
                    # runs again at once ("Only sleep if we didn't take a task"): the next
                    # task opens one loop later, and its sleep, and every check-in after
                    # it, come one loop later per task taken
                    self._shift_phase(h, cycle)
                    self.took_at[h] = self.now
                    self.checkin_at[h] = self.now + cycle
                    self.push(self.now + cycle, _CHECKIN, h)
                    return
        was = self.ready[h]
        self.ready[h] = self._kojid_ready(h)
        if self.ready[h] and not was:
            self.dirty = True
        if self.pass_wanted and self.pass_at is None and self._eligible(h):
            self._pass_soon()

    def _shift_phase(self, h: int, delay: float) -> None:
        old = self.phase[h]
        j = bisect.bisect_left(self.phases, old - 1e-9)
        while self.by_phase[j] != h:
            j += 1
        del self.phases[j], self.by_phase[j]
        new = (old + delay) % self.period
        j = bisect.bisect_left(self.phases, new)
        self.phases.insert(j, new)
        self.by_phase.insert(j, h)
        self.phase[h] = new

    def _set_active(self, t: int, h: int, weight: float, waiting: bool = False) -> None:
        self.active[t] = ActiveTask(t, h + 1, weight, waiting)

    def _open(self, t: int, h: int) -> None:
        kind = self.t_kind[t]
        self.progress_at = self.now
        weight = km.OPEN_WEIGHT[kind]
        if kind == km.BUILDARCH:
            weight = km.buildarch_weight(self.durations[self.t_ref[t]])
        self.t_weight[t] = weight
        self.n_open[h] += 1
        if kind in (km.BUILD, km.NEWREPO):
            self._set_active(t, h, weight, waiting=True)
            self._start_parent(t)
            return
        self.open_load[h] += weight
        self._set_active(t, h, weight)
        if kind == km.BUILDARCH:
            seconds = self.durations[self.t_ref[t]]
        elif kind == km.SRPM:
            seconds = self.config.srpm_seconds
        elif kind == km.TAG:
            seconds = self.config.tag_seconds
        else:
            seconds = self.config.repo_regen_seconds
        end = self.now + seconds / self.speed[h]
        if kind == km.BUILDARCH:
            self.runs.append(TaskRun(self.t_ref[t], self.t_arch[t], h, self.now, end))
        self.busy += end - self.now
        self.push(end, _FINISH, t)

    def _finish(self, t: int) -> None:
        h = self.t_host[t]
        self.progress_at = self.now
        self.open_load[h] -= self.t_weight[t]
        self.n_open[h] -= 1
        del self.active[t]
        self.dirty = True
        if self.free_keys:
            self._pass_soon()
        if self.t_kind[t] == km.TAG:
            self.tag_changed = self.now
        if not self.ready[h]:
            self._checkin_soon(h)       # it reports ready again at its next check-in
        parent = self.t_parent[t]
        self.t_left[parent] -= 1
        if self.t_left[parent] == 0:
            ph = self.t_host[parent]
            self.wake[ph].append(parent)
            self._checkin_soon(ph)

    def _start_parent(self, t: int) -> None:
        if self.t_kind[t] == km.BUILD:
            self._subtask(t, km.SRPM, NOARCH)
        else:
            self.t_stage[t] = 1
            self.t_created[t] = self.now      # the repo's create event: repoInit
            for _ in self.repo_arches:
                self._subtask(t, km.CREATEREPO, NOARCH)

    def _resume(self, t: int) -> None:
        """A parent whose subtasks are done goes on (builder/kojid BuildTask.handler)."""
        kind = self.t_kind[t]
        if kind == km.NEWREPO:
            self._close_parent(t)
            self._repo_done(t)
            return
        stage = self.t_stage[t] = self.t_stage[t] + 1
        i = self.t_ref[t]
        if stage == 1:
            for arch in self.arches_of[i]:
                self._subtask(t, km.BUILDARCH, arch, self.req[i])
        elif stage == 2:
            self._subtask(t, km.TAG, NOARCH)
        else:
            self.t_stage[t] = 4
            self._close_parent(t)
            self.closed_builds.append(i)
            self._engine_soon(self.now)

    def _close_parent(self, t: int) -> None:
        h = self.t_host[t]
        self.n_open[h] -= 1
        del self.active[t]
        self.dirty = True
        if self.free_keys:
            self._pass_soon()

    # -- repos (kojihub/repos.py) ----------------------------------------------------------
    def _request_repo(self, nodes: list) -> None:
        """``repo.request(tag, min_event="last")``: a repo begun after the tag's last
        change serves it at once; else an active request that asks as much or more; else
        a new request."""
        min_event = self.tag_changed
        if self.repo_created >= min_event:
            for i in nodes:
                self._repo_ready(i)
            return
        for r in self.req_open:
            if self.req_min[r] >= min_event:
                self.req_nodes[r].extend(nodes)
                return
        self.req_open.append(len(self.req_min))
        self.req_min.append(min_event)
        self.req_task.append(None)
        self.req_nodes.append(list(nodes))
        self._kojira_soon()

    def _kojira_soon(self) -> None:
        if self.kojira_at is None:
            # util/kojira threadLoop: do_regen (repo.checkQueue), then time.sleep(sleeptime),
            # from whenever kojira started: its checks keep no phase with the orchestrator's
            # polls, so a request waits half a sleeptime for the next one on average, and
            # here always (a grid locked to the polls' would serve every request at once)
            step = self.config.kojira_seconds
            self.kojira_at = self.grid(step, self.now, step / 2)
            self.push(self.kojira_at, _KOJIRA)

    def _kojira_step(self) -> None:
        """kojira's regen thread: ``repo.checkQueue`` (``check_repo_queue``)."""
        self.kojira_at = None
        for r in self.req_open:
            # only the active requests' tasks count towards MaxRepoTasks
            if len(self.req_running) >= self.config.repo_tasks:
                break
            if self.req_task[r] is None:
                self.req_task[r] = self._new_task(km.NEWREPO, r, NOARCH, self.chan_repo,
                                                  km.NEWREPO_PRIORITY, None)
                self.req_running.add(r)

    def _repo_done(self, t: int) -> None:
        """``repo_done_hook``: the new repo serves every request it is new enough for."""
        created = self.t_created[t]
        self.req_running.discard(self.t_ref[t])
        self.repos += 1
        self.repo_created = max(self.repo_created, created)
        still = []
        for r in self.req_open:
            if self.req_min[r] <= created:
                self.req_running.discard(r)
                self.satisfied.append(r)
            else:
                still.append(r)
        self.req_open = still
        if any(self.req_task[r] is None for r in still):
            self._kojira_soon()
        self._engine_soon(self.now)

    # -- the orchestrator (orchestration/engine.py) ----------------------------------------
    def _engine_soon(self, at: float) -> None:
        if self.engine_at is None:
            self.engine_at = self.grid(self.config.poll_seconds, at)
            self.push(self.engine_at, _ENGINE)

    def _engine_step(self) -> None:
        """Settle finished builds, ask for and notice repos, release what is ready."""
        self.engine_at = None
        if self.closed_builds:
            self.unasked.extend(self.closed_builds)
            for i in self.closed_builds:
                self.state[i] = _WAITING_REPO
            self.closed_builds = []
        if self.satisfied:
            for r in self.satisfied:
                for i in self.req_nodes[r]:
                    self._repo_ready(i)
                self.req_nodes[r] = []
            self.satisfied = []
        if self.unasked:
            nodes, self.unasked = self.unasked, []
            self._request_repo(nodes)
        self._release()

    def _repo_ready(self, i: int) -> None:
        self.state[i] = _DONE
        self.done_at[i] = self.now
        self.done_count += 1
        self.makespan = max(self.makespan, self.now)
        self.in_flight -= 1
        self.progress_at = self.now
        for u in self.users[i]:
            self.waiting[u] -= 1
            if self._may_release(u):
                self._make_ready(u)
        if self.per_tier:
            t = self.tiers[i]
            self.tier_left[t] -= 1
            while self.tier_left.get(self.open_tier) == 0:
                self.open_tier += 1
                for u in self.tier_members.get(self.open_tier, ()):
                    if self._may_release(u):
                        self._make_ready(u)

    def _may_release(self, i: int) -> bool:
        return self.state[i] == _WAITING and self.waiting[i] == 0 and \
            (not self.per_tier or self.tiers[i] <= self.open_tier)

    def _make_ready(self, i: int) -> None:
        self.state[i] = _READY
        self.ready_seq += 1
        key = self.order_key[i] if self.order_key is not None else (self.ready_seq,)
        heapq.heappush(self.ready_heap, (key, i))

    def _release(self) -> None:
        while self.ready_heap and self.in_flight < self.cap:
            _, i = heapq.heappop(self.ready_heap)
            priority = self._priority(i)
            self.state[i] = _BUILDING
            self.in_flight += 1
            self._new_task(km.BUILD, i, NOARCH, self.chan_default, priority, None)

    def _priority(self, i: int) -> int:
        if not self.orchestrated:
            return km.PRIO_DEFAULT
        chains = self.open_chains
        while chains and self.state[chains[0][1]] not in (_WAITING, _READY):
            heapq.heappop(chains)
        longest = -chains[0][0] if chains else 0.0
        return koji_priority(self.remaining[i], longest, self.config.priority_low,
                             self.config.priority_high)

    # -- the answer --------------------------------------------------------------------------
    def result(self) -> SimResult:
        fleet, config = self.fleet, self.config
        slot_total = sum(g.count * task_slots(g, km.OPEN_WEIGHT[km.BUILDARCH], config.overcommit)
                         for g in fleet.groups)
        build_busy = sum(r.end - r.start for r in self.runs)
        storage = int(sum(self.w.artifact_bytes[i] * len(self.arches_of[i])
                          for i in range(len(self.w))))
        makespan = self.makespan
        return SimResult(
            policy=self.policy,
            makespan_seconds=makespan,
            bounds=lower_bound(self.w, fleet, config),
            utilisation=build_busy / (slot_total * makespan) if makespan and slot_total else 0.0,
            compute_hours=self.busy / 3600.0,
            storage_bytes=storage,
            host_names=tuple(h.name for h in self.hosts),
            runs=tuple(self.runs),
            build_count=len(self.w),
            passes=self.passes,
            repos=self.repos,
            done=tuple(self.done_at),
        )
