"""One pass of koji's hub scheduler, with Discomy's preference in front of its rank.

Pure. :func:`schedule` keeps ``kojihub/scheduler.py``'s ``do_schedule`` rules
exactly (see the package docstring) and adds fit, power jobs and reservations;
with no Discomy data every host's preference is equal and the pass decides
what stock koji decides. The pass's pieces (:class:`PassState`,
:func:`pass_state`, :func:`host_bins`, :func:`reservations`, :func:`exclusion`)
are shared with :mod:`discomy.placement.explain`.
"""

from __future__ import annotations

import functools
import heapq
import operator
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from discomy.placement.config import PlacementConfig
from discomy.placement.fit import (
    _FIT_FREE,
    WAITING_METHODS,
    Fit,
    effective_speed,
    fits,
    is_strong,
    preference,
)
from discomy.placement.hostdata import HostData
from discomy.placement.hosts import HostCapabilities
from discomy.placement.requirements import NO_REQUIREMENTS, TaskRequirements


@dataclass(frozen=True)
class FreeTask:
    """A FREE koji task, in the scheduler's order."""

    task_id: int
    channel_id: int
    arch: str
    weight: float = 1.0
    priority: int = 20
    create_ts: float = 0.0
    method: str = ""
    req: TaskRequirements = NO_REQUIREMENTS


@dataclass(frozen=True)
class ActiveTask:
    """An OPEN or ASSIGNED task: it loads its host."""

    task_id: int
    host_id: Optional[int]
    weight: float = 1.0
    waiting: bool = False


@dataclass(frozen=True)
class Assignment:
    task_id: int
    host_id: int
    why: Any = field(default=None, repr=False, compare=False)

    @property
    def reason(self) -> str:
        """Why it went there (worded when asked: most passes never ask)."""
        return self.why[self.task_id] if self.why is not None else ""


@dataclass(frozen=True)
class Schedule:
    """Result of one pass: assignments in order, and reasons per task."""

    assignments: tuple
    reasons: Mapping[int, str]        # task_id -> why it went where it went, or waits
    reserved: Mapping[int, int]       # host_id -> power task_id it is kept for


_NO_DATA = vars(HostData())


def has_data(host: Optional[HostCapabilities]) -> bool:
    """Whether the host publishes any Discomy host data (a builder with the plugin)."""
    return host is not None and vars(host.data) != _NO_DATA


@dataclass
class PassState:
    """Mutable per-pass totals, indexed by host position (internal)."""

    hosts: Sequence[HostCapabilities]
    load: list
    ntasks: list
    maxjobs: list
    capacity: list
    work_slot: list      # 1: the host keeps its last slot from tasks that only wait


def pass_state(hosts: Sequence[HostCapabilities], active: Iterable[ActiveTask],
            config: PlacementConfig) -> PassState:
    index = {h.host_id: i for i, h in enumerate(hosts)}
    load = [0.0] * len(hosts)
    ntasks = [0] * len(hosts)
    for task in active:
        i = index.get(task.host_id)
        if i is None:
            continue
        if not task.waiting:
            load[i] += task.weight
        ntasks[i] += 1
    maxjobs = [h.maxjobs or config.maxjobs for h in hosts]
    return PassState(hosts, load, ntasks, maxjobs, [h.capacity for h in hosts],
                     work_slots(hosts, config.unknown_fits))


def work_slots(hosts: Sequence[HostCapabilities], unknown_fits: bool = True) -> list:
    """Per host, 1 where it keeps its last slot from tasks that only wait for subtasks.

    A parent holds its slot until its subtasks are done: were every slot that a subtask
    can take held by parents, it would wait for ever. A host with Discomy data keeps one
    slot for work (one with a single slot takes no parent) unless another such host,
    not draining, *covers* it: in every channel and arch it serves, at least as fast,
    and able to take every task it can take (memory, disk, cpus, virtualization,
    features). A host no other covers keeps its slot, so every task that some host can
    take has a work slot on a host that can take it, and parents fill the slow hosts'
    last slots, where little work would go. Hosts without data keep none: they are
    scheduled as stock koji schedules them.
    """
    return list(_work_slots(tuple(_coverage(h) for h in hosts), unknown_fits))


_COVERAGE: dict = {}      # id(host) -> (host, coverage): hosts a caller passes again


def _coverage(host: HostCapabilities) -> Optional[tuple]:
    """What a host can take, for :func:`work_slots` (None: no Discomy data)."""
    seen = _COVERAGE.get(id(host))
    if seen is not None and seen[0] is host:
        return seen[1]
    coverage = None
    if has_data(host):
        d = host.data
        coverage = (host.draining, frozenset(host.channels), frozenset(host.arches),
                    effective_speed(host), d.memory_mb, d.buildroot_free_mb(), d.cpus,
                    frozenset(d.virt), frozenset(d.features))
    if len(_COVERAGE) > 4096:
        _COVERAGE.clear()
    _COVERAGE[id(host)] = (host, coverage)   # the host is kept, so its id is not reused
    return coverage


def _size_covers(mine: Optional[float], other: Optional[float], unknown_fits: bool) -> bool:
    """A host with ``mine`` takes every task a host with ``other`` takes (None: unknown,
    which takes any need when unknown values fit, else none)."""
    if other is None:
        return mine is None or not unknown_fits
    return (mine is None and unknown_fits) or (mine is not None and mine >= other)


def _covers(b: tuple, a: tuple, unknown_fits: bool) -> bool:
    return (not b[0] and b[1] >= a[1] and b[2] >= a[2] and b[3] >= a[3]
            and all(_size_covers(b[k], a[k], unknown_fits) for k in (4, 5, 6))
            and b[7] >= a[7] and b[8] >= a[8])


@functools.lru_cache(maxsize=8)
def _work_slots(shape: tuple, unknown_fits: bool) -> tuple:
    # a fleet's hosts change rarely: the answer is kept for the next pass. Hosts alike
    # are compared once; a host keeps its slot unless one not alike covers it.
    kinds = {c for c in shape if c is not None}
    covered = {a for a in kinds
               if any(b != a and _covers(b, a, unknown_fits)
                      and not _covers(a, b, unknown_fits) for b in kinds)}
    return tuple(0 if c is None or c in covered else 1 for c in shape)


def host_bins(hosts: Sequence[HostCapabilities]) -> dict:
    """``(channel, arch) -> [host index, ...]`` in host order, noarch in every channel."""
    return _bins(tuple((host.channels, host.arches) for host in hosts))


@functools.lru_cache(maxsize=8)
def _bins(shape: tuple) -> dict:
    # a fleet's channels and arches change rarely: the binning is kept for the next pass
    bins: dict = {}
    for i, (channels, arches) in enumerate(shape):
        for chan in channels:
            for arch in list(arches) + ["noarch"]:
                bins.setdefault((chan, arch), []).append(i)
    return bins


def min_available(weight: float, config: PlacementConfig) -> float:
    """Spare capacity a task of ``weight`` needs (koji: ``weight - CapacityOvercommit``)."""
    return max(0, weight - config.capacity_overcommit)


MAXJOBS, CAPACITY = "maxjobs", "capacity"


def shortfall(capacity: float, load: float, ntasks: int, maxjobs: int,
              min_avail: float) -> Optional[str]:
    """koji's admission test (``kojihub/scheduler.py``, ``do_schedule``), the one copy of it:
    None when a host takes one more task, else which half fails (``MAXJOBS``, ``CAPACITY``).

    The hub plugin's pass, its explanations, the estimator's slots and the simulator
    all ask here.
    """
    if not ntasks < maxjobs:
        return MAXJOBS
    if not capacity - load > min_avail:
        return CAPACITY
    return None


# builder/kojid BuildArchTask: a buildArch opens at 1.5 (_taskWeight) and updateWeight
# adds 0.75 per hour of the package's average build, at most 18 more
BUILDARCH_OPEN_WEIGHT = 1.5
BUILDARCH_WEIGHT_PER_SECOND = 1.0 / 4800.0
BUILDARCH_MAX_RAISE = 18.0
# schemas/schema.sql: task.weight DEFAULT 1.0: a task is admitted at this weight
FREE_TASK_WEIGHT = 1.0


def buildarch_weight(seconds: float) -> float:
    """A running buildArch task's weight for a package whose builds take ``seconds``."""
    return BUILDARCH_OPEN_WEIGHT + min(BUILDARCH_MAX_RAISE,
                                       max(0.0, seconds) * BUILDARCH_WEIGHT_PER_SECOND)


def admits(capacity: float, load: float, ntasks: int, maxjobs: int, min_avail: float) -> bool:
    return shortfall(capacity, load, ntasks, maxjobs, min_avail) is None


def work_room(capacity: float, load: float, ntasks: int, maxjobs: int, min_avail: float,
              weight: float = BUILDARCH_OPEN_WEIGHT) -> int:
    """How many more tasks a host admits at this load, each by koji's test for a free
    task needing ``min_avail`` and weighing ``weight`` once open (at least the base
    buildArch weight: an ordinary build)."""
    room = 0
    while admits(capacity, load, ntasks + room, maxjobs, min_avail):
        room += 1
        load += weight
    return room


def has_room(p: PassState, i: int, min_avail: float, waiting: bool = False) -> bool:
    ntasks = p.ntasks[i] + (p.work_slot[i] if waiting else 0)
    return admits(p.capacity[i], p.load[i], ntasks, p.maxjobs[i], min_avail)


def _room(p: PassState, min_avail: float, waits: bool) -> list:
    """Per host: ready, not draining, and room for a task needing ``min_avail`` (koji's
    test, and for a task that only waits, a slot left for work)."""
    keep = p.work_slot if waits else [0] * len(p.hosts)
    return [h.ready and not h.draining
            and admits(capacity, load, ntasks + k, maxjobs, min_avail)
            for h, capacity, load, ntasks, maxjobs, k in
            zip(p.hosts, p.capacity, p.load, p.ntasks, p.maxjobs, keep)]


def _hard(req: TaskRequirements) -> tuple:
    """The part of a requirement that ``fits`` reads; tasks alike in it see the same hosts."""
    return (req.memory_mb, req.disk_mb, req.cpus, req.virt, req.features)


class FitCache:
    """``fits`` memoised per (host index, requirements) for one pass."""

    def __init__(self, hosts: Sequence[HostCapabilities]):
        self.hosts = hosts
        self.cache: dict = {}

    def __call__(self, i: int, req: TaskRequirements) -> Fit:
        if req.is_hard_free():
            return _FIT_FREE
        key = (i, _hard(req))
        fit = self.cache.get(key)
        if fit is None:
            fit = self.cache[key] = fits(self.hosts[i], req)
        return fit


def _fit_counts(fit: Fit, config: PlacementConfig) -> bool:
    return fit.ok and (config.unknown_fits or not fit.unknown)


def reservations(tasks: Sequence[FreeTask], p: PassState, bins: Mapping, refusals: Mapping,
             config: PlacementConfig, now: float, fit_of: FitCache) -> dict:
    """host index -> power task id, for long-waiting power jobs whose fitting hosts are all busy."""
    reserved: dict = {}
    if config.reserve_after_s is None or config.reserve_max_hosts <= 0:
        return reserved
    capable_by_kind: dict = {}
    for task in tasks:
        if len(reserved) >= config.reserve_max_hosts:
            break
        if not task.req.power:
            continue
        waited = now - task.create_ts
        if not config.reserve_after_s <= waited < config.reserve_after_s + config.reserve_max_s:
            continue
        kind = ((task.channel_id, task.arch), _hard(task.req))
        capable = capable_by_kind.get(kind)
        if capable is None:
            capable = capable_by_kind[kind] = [
                i for i in bins.get(kind[0], ())
                if p.hosts[i].ready and not p.hosts[i].draining
                and _fit_counts(fit_of(i, task.req), config)]
        # a host that publishes no Discomy data is never reserved: with no data a
        # pass decides what stock koji decides, whatever discomy.conf says
        reservable = [i for i in capable if has_data(p.hosts[i])]
        refused = refusals.get(task.task_id)
        if refused:
            capable = [i for i in capable if p.hosts[i].host_id not in refused]
        min_avail = min_available(task.weight, config)
        if not capable or any(has_room(p, i, min_avail) for i in capable):
            continue
        if refused:
            reservable = [i for i in reservable if p.hosts[i].host_id not in refused]
        free = [i for i in reservable if i not in reserved]
        if not free:
            continue
        best = min(free, key=lambda i: (-effective_speed(p.hosts[i]),
                                        p.load[i] + p.ntasks[i], i))
        reserved[best] = task.task_id
    return reserved


def exclusion(p: PassState, i: int, task: FreeTask, min_avail: float, refused,
               reserved: Mapping, fit_of: FitCache,
               unknown_fits: bool = True) -> Optional[str]:
    """Why host ``i`` cannot take ``task`` now (None if it can); koji's reasons first."""
    return busy_reason(p, i, task, min_avail) or \
        never_reason(p, i, task, refused, fit_of, unknown_fits) or \
        reserved_reason(p, i, task, reserved)


def busy_reason(p: PassState, i: int, task: FreeTask, min_avail: float) -> Optional[str]:
    """Why host ``i`` has no room for ``task`` now (it may have later)."""
    host = p.hosts[i]
    if not host.ready:
        return f"{host.name}: not ready"
    short = shortfall(p.capacity[i], p.load[i], p.ntasks[i], p.maxjobs[i], min_avail)
    if short == MAXJOBS:
        return f"{host.name}: at maxjobs ({p.ntasks[i]}/{p.maxjobs[i]})"
    if short is None and task.method in WAITING_METHODS and not has_room(p, i, min_avail, True):
        return (f"{host.name}: keeps its last slot for work, not a {task.method} task that "
                f"waits ({p.ntasks[i]}/{p.maxjobs[i]})")
    if short == CAPACITY:
        return (f"{host.name}: not enough capacity (capacity {p.capacity[i]:g}, "
                f"load {p.load[i]:g}, task weight {task.weight:g})")
    return None


def never_reason(p: PassState, i: int, task: FreeTask, refused, fit_of: FitCache,
                 unknown_fits: bool = True) -> Optional[str]:
    """Why host ``i`` cannot take ``task`` however idle it is (refused, draining, unfit)."""
    host = p.hosts[i]
    if host.host_id in refused:
        return f"{host.name}: refused the task"
    if host.draining:
        return f"{host.name}: draining"
    fit = fit_of(i, task.req)
    if not fit.ok or (fit.unknown and not unknown_fits):
        # with unknown_fits off, an unpublished value counts as a violation
        return "; ".join(fit.reasons)
    return None


def power_floor(p: PassState, candidates: Sequence[int], task: FreeTask, fit_of: FitCache,
                config: PlacementConfig) -> bool:
    """A power job waits for a strong host when one fits it (on a host at a fraction of
    the speed, a build of hours takes a multiple of them); with none, it takes any."""
    return task.req.power and any(
        is_strong(p.hosts[i], config) and never_reason(p, i, task, (), fit_of,
                                                       config.unknown_fits) is None
        for i in candidates)


def speed_floor(speeds: Sequence[float], task: FreeTask,
                config: PlacementConfig) -> Optional[float]:
    """The slowest host speed a buildArch of known duration may take now (None: any).

    ``speeds`` are those of the hosts that can ever take it (fit, not draining). On a
    host of speed ``s`` the build ends ``seconds * (1/s - 1/best)`` later than on the
    fastest of them; where that exceeds ``wait_for_faster_s``, it waits for a faster
    host: at a pass a minute, one frees a slot far sooner. Hosts with no Discomy data
    all count speed 1: with none, nothing waits and the pass is stock koji's.
    """
    seconds, patience = task.req.seconds, config.wait_for_faster_s
    if patience is None or not seconds or not speeds:
        return None
    best = max(speeds)
    floor = 1.0 / (1.0 / best + patience / seconds)
    # the slowest host speed at or above the floor: tasks alike in it see the same hosts
    return min(s for s in speeds if s >= floor * (1 - 1e-9))


def fitting_speeds(p: PassState, candidates: Sequence[int], task: FreeTask,
                   fit_of: FitCache, config: PlacementConfig,
                   speed: Optional[Sequence[float]] = None) -> list:
    """The distinct speeds of the hosts in ``candidates`` that can ever take ``task``
    (``speed``: each host's effective speed, where the caller has them)."""
    if speed is None:
        speed = [effective_speed(h) for h in p.hosts]
    if task.req.is_hard_free():
        # nothing to fit: only draining keeps a host off it for good
        return sorted({speed[i] for i in candidates if not p.hosts[i].draining})
    return sorted({speed[i] for i in candidates
                   if never_reason(p, i, task, (), fit_of, config.unknown_fits) is None})


def slow_reason(p: PassState, i: int, floor: Optional[float], task: FreeTask,
                config: PlacementConfig) -> Optional[str]:
    speed = effective_speed(p.hosts[i])
    if floor is None or speed >= floor:
        return None
    return (f"{p.hosts[i].name}: too slow (speed {speed:g}) for a build this long: it "
            f"would end over {config.wait_for_faster_s:.0f} s later than on a speed "
            f"{floor:g} host; it waits for one")


def weak_reason(p: PassState, i: int, floor: bool, config: PlacementConfig) -> Optional[str]:
    if floor and not is_strong(p.hosts[i], config):
        return (f"{p.hosts[i].name}: not strong (speed {effective_speed(p.hosts[i]):g} "
                f"< {config.strong_speed:g}); a power job waits for a strong host")
    return None


def reserved_reason(p: PassState, i: int, task: FreeTask, reserved: Mapping) -> Optional[str]:
    if i in reserved and not task.req.power:
        return f"{p.hosts[i].name}: reserved for power task {reserved[i]}"
    return None


def _summary(excluded: Sequence[str], limit: int = 3) -> str:
    if not excluded:
        return ""
    shown = "; ".join(excluded[:limit])
    more = len(excluded) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def schedule(free_tasks: Sequence[FreeTask], active_tasks: Sequence[ActiveTask],
             hosts: Sequence[HostCapabilities], refusals: Mapping[int, Any],
             config: PlacementConfig, now: float) -> Schedule:
    """One scheduler pass: which free task goes to which host, and why.

    ``free_tasks`` must already be in koji's order (``priority, create_ts``) and
    ``hosts`` in the order koji read them; ``refusals`` maps task id to the host
    ids that refused it (unexpired). Work is grouped by tasks that see the same
    hosts, so a pass costs about (distinct task kinds x hosts) + tasks x log(hosts).
    """
    p = pass_state(hosts, active_tasks, config)
    bins = host_bins(hosts)
    fit_of = FitCache(hosts)
    reserved = reservations(free_tasks, p, bins, refusals, config, now, fit_of)
    power_waiting = any(t.req.power for t in free_tasks)

    # 1. options per task (koji: task['_hosts']), computed once per kind of task
    base_options: dict = {}   # (bin, min_avail, hard req, power, waits, slowest speed) -> hosts
    groups: dict = {}         # (base key, refused) -> group id
    group_options: list = []  # group id -> [host index, ...] in bin order
    group_base: list = []
    group_task: list = []     # group id -> its first task (what its kind needs)
    task_group: list = []
    room: dict = {}           # (min_avail, waits) -> per host: koji and Discomy let it in now
    kinds: dict = {}          # what a task looks like -> its kind's key (a shortcut)
    speeds_of: dict = {}      # (bin, hard req) -> speeds of the hosts that can ever take it
    host_speed = ([effective_speed(h) for h in hosts]
                  if config.wait_for_faster_s is not None else [])
    for task in free_tasks:
        look = (task.weight, task.channel_id, task.arch, id(task.req), task.method)
        key = kinds.get(look)
        if key is None:
            bin_key, hard = (task.channel_id, task.arch), _hard(task.req)
            slowest = None
            if task.req.seconds and config.wait_for_faster_s is not None:
                speeds = speeds_of.get((bin_key, hard))
                if speeds is None:
                    speeds = speeds_of[(bin_key, hard)] = fitting_speeds(
                        p, bins.get(bin_key, ()), task, fit_of, config, host_speed)
                slowest = speed_floor(speeds, task, config)
            key = kinds[look] = (bin_key, min_available(task.weight, config), hard,
                                 task.req.power, task.method in WAITING_METHODS, slowest)
        bin_key, min_avail, _, _, waits, slowest = key
        options = base_options.get(key)
        if options is None:
            candidates = bins.get(bin_key, ())
            ok = room.get((min_avail, waits))
            if ok is None:
                ok = room[(min_avail, waits)] = _room(p, min_avail, waits)
            if task.req.is_hard_free() and not task.req.power:
                # the common case: nothing to fit, only room, draining and reservations
                options = [i for i in candidates if ok[i] and i not in reserved]
            else:
                floor = power_floor(p, candidates, task, fit_of, config)
                options = [i for i in candidates if ok[i]
                           and never_reason(p, i, task, (), fit_of, config.unknown_fits) is None
                           and weak_reason(p, i, floor, config) is None
                           and reserved_reason(p, i, task, reserved) is None]
            if slowest is not None:
                options = [i for i in options if host_speed[i] >= slowest]
            base_options[key] = options
        refused = refusals.get(task.task_id)
        refused_here = frozenset()
        if refused:
            refused_here = frozenset(i for i in options if hosts[i].host_id in refused)
        gkey = (key, refused_here)
        gid = groups.get(gkey)
        if gid is None:
            gid = groups[gkey] = len(group_options)
            if refused_here:
                options = [i for i in options if i not in refused_here]
            group_options.append(options)
            group_base.append(key)
            group_task.append(task)
        task_group.append(gid)

    # 2. demand, summed per host in task order exactly as koji does, once per
    #    set of hosts that share the same option lists
    membership: list = [dict() for _ in hosts]
    for gid, options in enumerate(group_options):
        for i in options:
            membership[i][gid] = membership[i].get(gid, 0) + 1
    tasks_in_group: dict = {}
    for n, gid in enumerate(task_group):
        if group_options[gid]:
            tasks_in_group.setdefault(gid, []).append(n)
    contribution = [free_tasks[n].weight / len(group_options[gid]) if group_options[gid] else 0.0
                    for n, gid in enumerate(task_group)]
    demand_by_sig: dict = {}
    demand = [0.0] * len(hosts)
    for i, member in enumerate(membership):
        if not member:
            continue
        sig = tuple(sorted(member.items()))
        value = demand_by_sig.get(sig)
        if value is None:
            order = sorted(n for gid, count in sig for n in tasks_in_group.get(gid, ())
                           for _ in range(count))
            value = functools.reduce(operator.add, (contribution[n] for n in order), 0.0)
            demand_by_sig[sig] = value
        demand[i] = value
    total = sum(demand)
    if total > 0.0:
        demand = [d / total for d in demand]
    rank = [p.load[i] + p.ntasks[i] + demand[i] for i in range(len(hosts))]

    # 3. assign in task order: best (preference, rank, host order) with room
    heaps: dict = {}
    assignments = []
    outcome: dict = {}      # task id -> (task position, chosen host index or None)
    reasons = _Reasons(outcome, free_tasks, task_group, group_options, group_base, group_task,
                       bins, p, fit_of, refusals, reserved, config, power_waiting)
    speed: list = []
    keep_off: list = []
    raised: dict = {}       # host index -> weight its power jobs of this pass add once open
    free_avail = min_available(FREE_TASK_WEIGHT, config)    # an ordinary task's admission
    for n, task in enumerate(free_tasks):
        gid = task_group[n]
        min_avail, waiting = group_base[gid][1], group_base[gid][4]
        heap = heaps.get(gid)
        if heap is None:
            if task.req.is_hard_free() and not task.req.power:
                # preference() for a task with nothing to fit, inlined
                if not speed:
                    speed = host_speed or [effective_speed(h) for h in hosts]
                    keep_off = [1 if power_waiting and is_strong(h, config) else 0
                                for h in hosts]
                sign = 1 if waiting else -1
                heap = [((0, keep_off[i], sign * speed[i]), rank[i], i)
                        for i in group_options[gid]]
            else:
                heap = [(preference(hosts[i], task.req, fit_of(i, task.req), power_waiting,
                                    config, task.method), rank[i], i)
                        for i in group_options[gid]]
            heapq.heapify(heap)
            heaps[gid] = heap
        chosen = None
        if task.req.power and has_data(hosts[heap[0][2]] if heap else None):
            # power jobs pack by weight: among hosts alike, the one where this build's
            # weight once open costs the fewest ordinary tasks (a day-long build weighs
            # 19.5: on a host of capacity 24 it leaves room for three; next to another
            # such build it costs none more), then the busiest that still takes one
            # (koji's rank would spread them). Unknown duration: the busiest.
            best = None
            opened = buildarch_weight(task.req.seconds) if task.req.seconds else None
            for pref, _, i in heap:
                if has_room(p, i, min_avail, waiting):
                    cost = 0
                    if opened is not None:
                        load = p.load[i] + raised.get(i, 0.0)
                        cost = work_room(p.capacity[i], load, p.ntasks[i], p.maxjobs[i],
                                         free_avail) - \
                            work_room(p.capacity[i], load + opened, p.ntasks[i] + 1,
                                      p.maxjobs[i], free_avail)
                    key = (pref, cost, -rank[i], i)
                    if best is None or key < best:
                        best = key
            chosen = None if best is None else best[3]
            if chosen is not None and opened is not None:
                raised[chosen] = raised.get(chosen, 0.0) + max(0.0, opened - task.weight)
        while chosen is None and heap:
            pref, r, i = heap[0]
            if r != rank[i]:
                heapq.heapreplace(heap, (pref, rank[i], i))
                continue
            if has_room(p, i, min_avail, waiting):
                chosen = i
                break
            heapq.heappop(heap)  # load only grows in a pass: never room for this group again
        outcome[task.task_id] = (n, chosen)
        if chosen is None:
            continue
        p.load[chosen] += task.weight
        p.ntasks[chosen] += 1
        rank[chosen] = p.load[chosen] + p.ntasks[chosen] + demand[chosen]
        assignments.append(Assignment(task.task_id, hosts[chosen].host_id, reasons))
    return Schedule(tuple(assignments), reasons,
                    {hosts[i].host_id: t for i, t in reserved.items()})


class _Reasons(Mapping):
    """task id -> reason, worded on demand from the pass's end state: the hub logs the
    reasons of constrained tasks only, and the simulator none."""

    def __init__(self, outcome, tasks, task_group, group_options, group_base, group_task,
                 bins, p, fit_of, refusals, reserved, config, power_waiting):
        self.outcome, self.tasks, self.task_group = outcome, tasks, task_group
        self.group_options, self.group_base, self.group_task = \
            group_options, group_base, group_task
        self.bins, self.p, self.fit_of, self.refusals = bins, p, fit_of, refusals
        self.reserved, self.config, self.power_waiting = reserved, config, power_waiting
        self.cache: dict = {}
        self.kinds: dict = {}

    def __getitem__(self, task_id: int) -> str:
        text = self.cache.get(task_id)
        if text is None:
            text = self.cache[task_id] = self._word(*self.outcome[task_id])
        return text

    def __iter__(self):
        return iter(self.outcome)

    def __len__(self) -> int:
        return len(self.outcome)

    def _kind(self, gid: int) -> tuple:
        """(excluded, busy): the hosts of the task's bin that can never take it, and
        those that fit but have no room (or are kept for a power job)."""
        key = self.group_base[gid]
        found = self.kinds.get(key)
        if found is None:
            p, task, config = self.p, self.group_task[gid], self.config
            candidates = self.bins.get(key[0], ())
            floor = power_floor(p, candidates, task, self.fit_of, config)
            excluded, busy = [], []
            for i in candidates:
                never = never_reason(p, i, task, (), self.fit_of, config.unknown_fits) or \
                    weak_reason(p, i, floor, config)
                if never is not None:
                    excluded.append(never)
                    continue
                why = busy_reason(p, i, task, key[1]) or \
                    reserved_reason(p, i, task, self.reserved) or \
                    slow_reason(p, i, key[5], task, config)
                if why is not None:
                    busy.append(why)
            found = self.kinds[key] = (excluded, busy)
        return found

    def _word(self, n: int, chosen: Optional[int]) -> str:
        task, p = self.tasks[n], self.p
        gid = self.task_group[n]
        excluded, busy = self._kind(gid)
        if chosen is not None:
            return _assigned_reason(task, p.hosts[chosen], self.config, self.power_waiting,
                                    excluded + busy, self.fit_of(chosen, task.req))
        refused = self.refusals.get(task.task_id, ())
        gone = [r for r in (never_reason(p, i, task, refused, self.fit_of)
                            for i in self.bins.get(self.group_base[gid][0], ())
                            if p.hosts[i].host_id in refused) if r]
        return _waiting_reason(task, busy, gone + excluded)


def _assigned_reason(task: FreeTask, host: HostCapabilities, config: PlacementConfig,
                     power_waiting: bool, excluded: Sequence[str], fit: Fit) -> str:
    parts = [f"placed on {host.name}"]
    if task.req.why:
        parts.append(f"needs {task.req.describe()} ({task.req.why})")
    if task.req.power:
        parts.append(f"power job: fastest fitting host with room, speed "
                     f"{host.speed if host.speed is not None else 'unknown'}")
    elif power_waiting and is_strong(host, config) and task.req.is_hard_free():
        parts.append("strong host taken by a small job: no other fitting host had room")
    if fit.reasons:
        parts.append("; ".join(fit.reasons))
    if excluded:
        parts.append("not eligible: " + _summary(excluded))
    return "; ".join(parts)


def _waiting_reason(task: FreeTask, busy: Sequence[str], excluded: Sequence[str]) -> str:
    """"no host fits" only when no host could take the task even if idle; otherwise
    the hosts that fit, each with why it has no room now."""
    if busy:
        head = f"waits: {len(busy)} fitting host(s) busy: {_summary(busy)}"
    else:
        head = "waits: no host fits"
    if task.req.why:
        head += f"; needs {task.req.describe()} ({task.req.why})"
    if excluded:
        head += ("; not eligible: " if busy else "; ") + _summary(excluded)
    return head
