"""Capability-aware task placement: the decisions behind koji's hub scheduler.

Pure: plain typed data in, decisions out. The hub plugin gathers koji's rows,
converts them here, calls :func:`schedule` and writes the assignments back; the
builder plugin calls :func:`fits` to refuse tasks its host cannot meet.

Stable interface:

- ``HostCapabilities.from_koji(row, drained=False) -> (HostCapabilities, warnings)``
  from a koji scheduler host row (``id, name, arches, channels, capacity,
  task_load, ready, update_ts, data``); ``HostCapabilities.from_data(name,
  HostData)`` for a builder describing itself.
- ``TaskRequirements`` and ``requirements_for(package, defaults, tag_rules,
  last_duration_s, power_after_s) -> TaskRequirements``.
- ``fits(host, req) -> Fit``: hard capability constraints only (memory, disk,
  cpus, virt, features); ``Fit.ok``, ``Fit.reasons`` ("builder3: needs 32 GiB
  memory, has 16 GiB"), ``Fit.unknown``. A value the host has not published is
  *unknown*: not a violation, but noted, and such hosts rank after hosts known
  to fit (with ``unknown_fits = false`` in the hub config they are excluded).
- ``PlacementConfig`` and ``parse_config(sections) -> PlacementConfig``
  (discomy.conf ``[scheduler]`` / ``[constraints]``), ``ConfigError``.
- ``is_power_by_history(last_duration_s, power_after_s) -> bool`` and
  ``last_build_durations(rows) -> {package: seconds}`` (the history rule).
- ``schedule(free_tasks, active_tasks, hosts, refusals, config, now) -> Schedule``:
  one scheduler pass.
- ``explain(task, ...) -> list[HostVerdict]``: per-host verdicts for one task.

Koji's own rules are kept exactly (``kojihub/scheduler.py``,
``TaskScheduler.do_schedule``): free tasks in the given ``priority, create_ts``
order; hosts binned by ``channel:arch`` plus ``noarch``; a host qualifies when
ready, ``ntasks < maxjobs``, ``capacity - load > weight - overcommit`` and it
has not refused the task; demand ``weight / len(options)`` normalised to 1;
rank ``load + ntasks + demand``, ties kept in host order. Discomy adds, in
front of the rank, a preference that is equal for every host when there is no
Discomy data, so such a pass decides exactly what stock koji decides:

1. hosts that are known to fit before hosts with unknown values;
2. power jobs go to the fastest fitting host; other jobs keep off *strong*
   hosts (``speed >= strong_speed``) while any power job is waiting;
3. reservation: a power job waiting longer than ``reserve_after_s`` whose
   fitting hosts are all busy reserves the strongest of them, which then takes
   no new non-power task. A reservation ends ``reserve_max_s`` after it began
   and at most ``reserve_max_hosts`` hosts are reserved at once, so nothing
   starves;
4. draining hosts take nothing new.
"""

from __future__ import annotations

import functools
import heapq
import operator
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional, Sequence

from discomy import constraints as cons
from discomy.drain import drain_sources
from discomy.hostdata import HostData, from_host_data
from discomy.units import format_size_mb

POWER_METHODS = frozenset({"buildArch"})


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class HostCapabilities:
    """One enabled host as the scheduler sees it, with Discomy's host data."""

    host_id: int
    name: str
    arches: tuple = ()
    channels: tuple = ()
    capacity: float = 2.0
    task_load: float = 0.0
    ready: bool = True
    maxjobs: Optional[int] = None  # host data ``maxjobs``; None -> hub MaxJobs
    data: HostData = field(default_factory=HostData)
    drained: bool = False  # drained on the hub by an admin
    update_ts: Optional[float] = None

    @property
    def draining(self) -> bool:
        return self.drained or self.data.draining

    @property
    def speed(self) -> Optional[float]:
        return self.data.speed

    @classmethod
    def from_data(cls, name: str, data: HostData, host_id: int = 0,
                  arches: Sequence[str] = ()) -> "HostCapabilities":
        """A builder describing itself (the builder plugin, before it takes a task)."""
        return cls(host_id=host_id, name=name, arches=tuple(arches), data=data)

    @classmethod
    def from_koji(cls, row: Mapping[str, Any],
                  drained: bool = False) -> "tuple[HostCapabilities, list[str]]":
        """From a ``TaskScheduler._get_hosts()`` row; unknown host-data keys give warnings."""
        raw = row.get("data") or {}
        if not isinstance(raw, Mapping):
            raw = {}
        data, warnings = from_host_data(raw)
        name = str(row.get("name"))
        maxjobs = raw.get("maxjobs")
        if isinstance(maxjobs, bool) or not isinstance(maxjobs, (int, float)):
            maxjobs = None
        host = cls(
            host_id=int(row["id"]),
            name=name,
            arches=tuple(str(row.get("arches") or "").split()),
            channels=tuple(row.get("channels") or ()),
            capacity=float(row.get("capacity") or 0.0),
            task_load=float(row.get("task_load") or 0.0),
            ready=bool(row.get("ready")),
            maxjobs=maxjobs,
            data=data,
            drained=drained,
            update_ts=row.get("update_ts"),
        )
        return host, [f"{name}: {w}" for w in warnings]


@dataclass(frozen=True)
class TaskRequirements:
    """What a task needs; the empty value (no requirement) is the stock case."""

    memory_mb: Optional[int] = None
    disk_mb: Optional[int] = None
    cpus: Optional[int] = None
    virt: tuple = ()
    features: tuple = ()
    power: bool = False
    why: str = ""  # where the requirements came from, for reasons

    @classmethod
    def from_constraints(cls, c: cons.Constraints, power: bool = False,
                         why: str = "") -> "TaskRequirements":
        return cls(memory_mb=c.memory_mb, disk_mb=c.disk_mb, cpus=c.cpus, virt=c.virt,
                   features=c.features, power=bool(c.power) or power, why=why)

    def is_hard_free(self) -> bool:
        return (self.memory_mb is None and self.disk_mb is None and self.cpus is None
                and not self.virt and not self.features)

    def describe(self) -> str:
        c = cons.Constraints(self.memory_mb, self.disk_mb, self.cpus, self.power or None,
                             self.virt, self.features)
        return c.describe()


NO_REQUIREMENTS = TaskRequirements()


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
class PlacementConfig:
    """Scheduler settings: koji's own (hub.conf) and Discomy's (discomy.conf)."""

    maxjobs: int = 15                      # hub.conf MaxJobs
    capacity_overcommit: float = 5         # hub.conf CapacityOvercommit
    enabled: bool = True
    power_after_s: Optional[float] = None  # history: slower buildArch -> power job
    strong_speed: Optional[float] = 1.5    # hosts this fast or faster are "strong"
    reserve_after_s: Optional[float] = 1800.0
    reserve_max_s: float = 7200.0
    reserve_max_hosts: int = 1
    log_reasons: bool = True
    unknown_fits: bool = True              # a host that has not published a value may take the task
    defaults: Mapping[str, cons.Constraints] = field(default_factory=dict)


@dataclass(frozen=True)
class Fit:
    """Hard-constraint verdict. ``reasons`` name violations (``ok`` false) or unknowns."""

    ok: bool
    reasons: tuple = ()
    unknown: int = 0


@dataclass(frozen=True)
class Assignment:
    task_id: int
    host_id: int
    reason: str


@dataclass(frozen=True)
class Schedule:
    """Result of one pass: assignments in order, and reasons per task."""

    assignments: tuple
    reasons: Mapping[int, str]        # task_id -> why it went where it went, or waits
    reserved: Mapping[int, int]       # host_id -> power task_id it is kept for


@dataclass(frozen=True)
class HostVerdict:
    host_id: int
    name: str
    eligible: bool
    reasons: tuple


# --------------------------------------------------------------------------- config

class ConfigError(ValueError):
    """Invalid discomy.conf; the message names the section, key and reason."""


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_DURATION_FACTORS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration_s(value: Any) -> float:
    """``"90m"`` -> 5400.0; a bare number is seconds."""
    if isinstance(value, bool):
        raise ValueError(f"duration {value!r} is not a number")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration {value!r} is negative")
        return float(value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValueError(f"duration {value!r} is not a number with an optional s, m, h or d suffix")
    return float(match.group(1)) * _DURATION_FACTORS[match.group(2).lower()]


def _bool(text: str) -> bool:
    low = str(text).strip().lower()
    if low in ("1", "yes", "true", "on"):
        return True
    if low in ("0", "no", "false", "off"):
        return False
    raise ValueError(f"{text!r} is not true or false")


def _optional(parse):
    def inner(text):
        if str(text).strip().lower() in ("", "none", "off", "never"):
            return None
        return parse(text)
    return inner


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive number")
    return value


def _whole(text: str) -> int:
    value = int(str(text).strip())
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return value


_SCHEDULER_KEYS = {
    "enabled": ("enabled", _bool),
    "power_after": ("power_after_s", _optional(parse_duration_s)),
    "strong_speed": ("strong_speed", _optional(_positive_float)),
    "reserve_after": ("reserve_after_s", _optional(parse_duration_s)),
    "reserve_max": ("reserve_max_s", parse_duration_s),
    "reserve_max_hosts": ("reserve_max_hosts", _whole),
    "log_reasons": ("log_reasons", _bool),
    "unknown_fits": ("unknown_fits", _bool),
}


def parse_config(sections: Mapping[str, Mapping[str, str]],
                 base: PlacementConfig = PlacementConfig()) -> PlacementConfig:
    """Build the config from discomy.conf's ``[scheduler]`` and ``[constraints]`` sections.

    ``[constraints]`` maps a package glob to a JSON object of constraints.
    Raises :class:`ConfigError` naming the section and key at the first problem.
    """
    import json

    changes: dict = {}
    for section in sections:
        if section not in ("scheduler", "constraints"):
            raise ConfigError(f"[{section}]: unknown section; known sections are scheduler, constraints")
    for key, text in (sections.get("scheduler") or {}).items():
        if key not in _SCHEDULER_KEYS:
            raise ConfigError(f"[scheduler] {key}: unknown option; known options are "
                              f"{', '.join(sorted(_SCHEDULER_KEYS))}")
        name, parse = _SCHEDULER_KEYS[key]
        try:
            changes[name] = parse(text)
        except ValueError as exc:
            raise ConfigError(f"[scheduler] {key}: {exc}") from None
    raw_rules: dict = {}
    for glob, text in (sections.get("constraints") or {}).items():
        try:
            raw_rules[glob] = json.loads(text)
        except ValueError:
            raise ConfigError(f"[constraints] {glob}: value is not a JSON object such as "
                              '{"memory": "16G", "power": true}') from None
    try:
        rules, _ = cons.parse_rules(raw_rules, strict=True)
    except cons.ConstraintError as exc:
        raise ConfigError(f"[constraints] {exc}") from None
    changes["defaults"] = rules
    return replace(base, **changes)


# --------------------------------------------------------------------------- requirements

def is_power_by_history(last_duration_s: Optional[float], power_after_s: Optional[float]) -> bool:
    """A package whose last successful buildArch took longer than the threshold is a power job."""
    return (last_duration_s is not None and power_after_s is not None
            and last_duration_s > power_after_s)


def requirements_for(package: Optional[str],
                     defaults: Mapping[str, cons.Constraints],
                     tag_rules: Mapping[str, cons.Constraints],
                     last_duration_s: Optional[float] = None,
                     power_after_s: Optional[float] = None) -> TaskRequirements:
    """A task's requirements from the hub defaults, the tag's rules and build history."""
    if not package:
        return NO_REQUIREMENTS
    constraints = cons.resolve(package, defaults, tag_rules)
    history = is_power_by_history(last_duration_s, power_after_s)
    if constraints.is_empty() and not history:
        return NO_REQUIREMENTS
    why = f"package {package}"
    if history:
        why += f", last buildArch took {_duration_text(last_duration_s)}"
    return TaskRequirements.from_constraints(constraints, power=history, why=why)


def last_build_durations(rows: Iterable[tuple]) -> dict:
    """package -> seconds of the slowest buildArch of its latest build.

    ``rows`` are ``(package, build_id, seconds)`` for closed buildArch tasks of
    complete builds; the highest build id is the latest build. Rows without a
    duration are skipped.
    """
    latest: dict = {}
    for package, build_id, seconds in rows:
        if seconds is None:
            continue
        best = latest.get(package)
        if best is None or (build_id, seconds) > best:
            latest[package] = (build_id, float(seconds))
    return {package: seconds for package, (_, seconds) in latest.items()}


def _duration_text(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def package_from_srpm(path: str) -> Optional[str]:
    """``"tasks/1/2/llvm-17.0.6-1.el9.src.rpm"`` -> ``"llvm"`` (None if not an SRPM name)."""
    if not str(path).endswith(".src.rpm"):
        return None
    return cons.package_from_source(path)


# --------------------------------------------------------------------------- fit

def fits(host: HostCapabilities, req: TaskRequirements) -> Fit:
    """Does ``host`` meet ``req``'s hard constraints? Reasons read "builder3: needs ..., has ..."."""
    if req.is_hard_free():
        return _FIT_FREE
    data = host.data
    known = data != HostData()
    bad: list = []
    unknown: list = []

    def size(what, need, have):
        if need is None:
            return
        if have is None:
            unknown.append(f"{host.name}: {what} unknown (needs {format_size_mb(need)})")
        elif have < need:
            bad.append(f"{host.name}: needs {format_size_mb(need)} {what}, has {format_size_mb(have)}")

    size("memory", req.memory_mb, data.memory_mb)
    size("disk", req.disk_mb, data.buildroot_free_mb())
    if req.cpus is not None:
        if data.cpus is None:
            unknown.append(f"{host.name}: cpus unknown (needs {req.cpus})")
        elif data.cpus < req.cpus:
            bad.append(f"{host.name}: needs {req.cpus} cpus, has {data.cpus}")
    if req.virt:
        if not data.virt and not known:
            unknown.append(f"{host.name}: virtualization unknown (needs {'|'.join(req.virt)})")
        elif not set(req.virt) & set(data.virt):
            have = ",".join(data.virt) or "none"
            bad.append(f"{host.name}: needs virtualization {'|'.join(req.virt)}, has {have}")
    if req.features:
        if not data.features and not known:
            unknown.append(f"{host.name}: features unknown (needs {','.join(req.features)})")
        else:
            missing = sorted(set(req.features) - set(data.features))
            if missing:
                bad.append(f"{host.name}: needs features {','.join(missing)}, lacks them")
    if bad:
        return Fit(False, tuple(bad), len(unknown))
    return Fit(True, tuple(unknown), len(unknown))


_FIT_FREE = Fit(True)


def is_strong(host: HostCapabilities, config: PlacementConfig) -> bool:
    return (config.strong_speed is not None and host.speed is not None
            and host.speed >= config.strong_speed)


def _effective_speed(host: HostCapabilities) -> float:
    return host.speed if host.speed is not None else 1.0


def preference(host: HostCapabilities, req: TaskRequirements, fit: Fit,
               power_waiting: bool, config: PlacementConfig) -> tuple:
    """Discomy's sort key in front of koji's rank; all zeros when there is no Discomy data."""
    if req.power:
        return (fit.unknown, -_effective_speed(host))
    keep_off = 1 if power_waiting and is_strong(host, config) else 0
    return (fit.unknown, keep_off)


# --------------------------------------------------------------------------- schedule

@dataclass
class _Pass:
    """Mutable per-pass totals, indexed by host position (internal)."""

    hosts: Sequence[HostCapabilities]
    load: list
    ntasks: list
    maxjobs: list
    capacity: list


def _totals(hosts: Sequence[HostCapabilities], active: Iterable[ActiveTask],
            config: PlacementConfig) -> _Pass:
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
    return _Pass(hosts, load, ntasks,
                 [h.maxjobs or config.maxjobs for h in hosts],
                 [h.capacity for h in hosts])


def _bins(hosts: Sequence[HostCapabilities]) -> dict:
    bins: dict = {}
    for i, host in enumerate(hosts):
        for chan in host.channels:
            for arch in list(host.arches) + ["noarch"]:
                bins.setdefault((chan, arch), []).append(i)
    return bins


def _min_avail(weight: float, config: PlacementConfig) -> float:
    return max(0, weight - config.capacity_overcommit)


def _has_room(p: _Pass, i: int, min_avail: float) -> bool:
    return p.capacity[i] - p.load[i] > min_avail and p.ntasks[i] < p.maxjobs[i]


def _hard(req: TaskRequirements) -> tuple:
    """The part of a requirement that ``fits`` reads; tasks alike in it see the same hosts."""
    return (req.memory_mb, req.disk_mb, req.cpus, req.virt, req.features)


class _Fits:
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


def _reserve(tasks: Sequence[FreeTask], p: _Pass, bins: Mapping, refusals: Mapping,
             config: PlacementConfig, now: float, fit_of: _Fits) -> dict:
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
        refused = refusals.get(task.task_id)
        if refused:
            capable = [i for i in capable if p.hosts[i].host_id not in refused]
        min_avail = _min_avail(task.weight, config)
        if not capable or any(_has_room(p, i, min_avail) for i in capable):
            continue
        free = [i for i in capable if i not in reserved]
        if not free:
            continue
        best = min(free, key=lambda i: (-_effective_speed(p.hosts[i]),
                                        p.load[i] + p.ntasks[i], i))
        reserved[best] = task.task_id
    return reserved


def _exclusion(p: _Pass, i: int, task: FreeTask, min_avail: float, refused,
               reserved: Mapping, fit_of: _Fits,
               unknown_fits: bool = True) -> Optional[str]:
    """Why host ``i`` cannot take ``task`` now (None if it can); koji's reasons first."""
    host = p.hosts[i]
    if not host.ready:
        return f"{host.name}: not ready"
    if not p.ntasks[i] < p.maxjobs[i]:
        return f"{host.name}: at maxjobs ({p.ntasks[i]}/{p.maxjobs[i]})"
    if not p.capacity[i] - p.load[i] > min_avail:
        return (f"{host.name}: not enough capacity (capacity {p.capacity[i]:g}, "
                f"load {p.load[i]:g}, task weight {task.weight:g})")
    if host.host_id in refused:
        return f"{host.name}: refused the task"
    if host.draining:
        return f"{host.name}: draining"
    fit = fit_of(i, task.req)
    if not fit.ok or (fit.unknown and not unknown_fits):
        # with unknown_fits off, an unpublished value counts as a violation
        return "; ".join(fit.reasons)
    if i in reserved and not task.req.power:
        return f"{host.name}: reserved for power task {reserved[i]}"
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
    p = _totals(hosts, active_tasks, config)
    bins = _bins(hosts)
    fit_of = _Fits(hosts)
    reserved = _reserve(free_tasks, p, bins, refusals, config, now, fit_of)
    power_waiting = any(t.req.power for t in free_tasks)

    # 1. options per task (koji: task['_hosts']), computed once per kind of task
    base_options: dict = {}   # (bin, min_avail, hard req, power) -> (options, excluded reasons)
    groups: dict = {}         # (base key, refused) -> group id
    group_options: list = []  # group id -> [host index, ...] in bin order
    group_base: list = []
    task_group: list = []
    for task in free_tasks:
        min_avail = _min_avail(task.weight, config)
        bin_key = (task.channel_id, task.arch)
        key = (bin_key, min_avail, _hard(task.req), task.req.power)
        if key not in base_options:
            options, excluded = [], []
            for i in bins.get(bin_key, ()):
                why = _exclusion(p, i, task, min_avail, (), reserved, fit_of,
                                 config.unknown_fits)
                if why is None:
                    options.append(i)
                else:
                    excluded.append(why)
            base_options[key] = (options, excluded)
        refused = refusals.get(task.task_id)
        refused_here = frozenset()
        if refused:
            refused_here = frozenset(i for i in base_options[key][0]
                                     if hosts[i].host_id in refused)
        gkey = (key, refused_here)
        gid = groups.get(gkey)
        if gid is None:
            gid = groups[gkey] = len(group_options)
            options = base_options[key][0]
            if refused_here:
                options = [i for i in options if i not in refused_here]
            group_options.append(options)
            group_base.append(key)
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
    reasons: dict = {}
    for n, task in enumerate(free_tasks):
        gid = task_group[n]
        min_avail = group_base[gid][1]
        heap = heaps.get(gid)
        if heap is None:
            heap = []
            for i in group_options[gid]:
                pref = preference(hosts[i], task.req, fit_of(i, task.req), power_waiting, config)
                heap.append((pref, rank[i], i))
            heapq.heapify(heap)
            heaps[gid] = heap
        chosen = None
        while heap:
            pref, r, i = heap[0]
            if r != rank[i]:
                heapq.heapreplace(heap, (pref, rank[i], i))
                continue
            if _has_room(p, i, min_avail):
                chosen = i
                break
            heapq.heappop(heap)  # load only grows in a pass: never room for this group again
        if chosen is None:
            reasons[task.task_id] = _waiting_reason(task, group_options[gid],
                                                    base_options[group_base[gid]][1])
            continue
        host = hosts[chosen]
        p.load[chosen] += task.weight
        p.ntasks[chosen] += 1
        rank[chosen] = p.load[chosen] + p.ntasks[chosen] + demand[chosen]
        reason = _assigned_reason(task, host, config, power_waiting,
                                  base_options[group_base[gid]][1], fit_of(chosen, task.req))
        reasons[task.task_id] = reason
        assignments.append(Assignment(task.task_id, host.host_id, reason))
    return Schedule(tuple(assignments), reasons,
                    {hosts[i].host_id: t for i, t in reserved.items()})


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


def _waiting_reason(task: FreeTask, options: Sequence[int], excluded: Sequence[str]) -> str:
    if options:
        head = f"waits: {len(options)} fitting host(s), none with room now"
    else:
        head = "waits: no host fits"
    if task.req.why:
        head += f"; needs {task.req.describe()} ({task.req.why})"
    if excluded:
        head += "; " + _summary(excluded)
    return head


def explain(task: FreeTask, active_tasks: Sequence[ActiveTask],
            hosts: Sequence[HostCapabilities], refusals: Mapping[int, Any],
            config: PlacementConfig, now: float,
            other_free: Sequence[FreeTask] = ()) -> list:
    """Per-host verdicts for ``task`` as the next pass would see it (before it assigns anything)."""
    p = _totals(hosts, active_tasks, config)
    bins = _bins(hosts)
    everyone = list(other_free) if any(t.task_id == task.task_id for t in other_free) \
        else [task, *other_free]
    fit_of = _Fits(hosts)
    reserved = _reserve(everyone, p, bins, refusals, config, now, fit_of)
    in_bin = set(bins.get((task.channel_id, task.arch), ()))
    refused = refusals.get(task.task_id, ())
    min_avail = _min_avail(task.weight, config)
    verdicts = []
    for i, host in enumerate(hosts):
        if i not in in_bin:
            why = (f"{host.name}: not in channel {task.channel_id} "
                   f"with arch {task.arch}")
            verdicts.append(HostVerdict(host.host_id, host.name, False, (why,)))
            continue
        why = _exclusion(p, i, task, min_avail, refused, reserved, fit_of, config.unknown_fits)
        if why is not None:
            verdicts.append(HostVerdict(host.host_id, host.name, False, tuple(why.split("; "))))
            continue
        notes = list(fit_of(i, task.req).reasons)
        if host.speed is not None:
            notes.append(f"{host.name}: speed {host.speed:g}")
        notes.append(f"{host.name}: load {p.load[i]:g} of capacity {p.capacity[i]:g}, "
                     f"{p.ntasks[i]}/{p.maxjobs[i]} tasks")
        verdicts.append(HostVerdict(host.host_id, host.name, True, tuple(notes)))
    return verdicts


def host_summary(host: HostCapabilities, running: int = 0,
                 config: PlacementConfig = PlacementConfig()) -> dict:
    """JSON-ready view of one host for the ``discomy.hostCapabilities`` call; unknown -> None."""
    d = host.data
    return {
        "id": host.host_id, "name": host.name, "arches": list(host.arches),
        "channels": list(host.channels), "capacity": host.capacity,
        "task_load": host.task_load, "ready": host.ready,
        "maxjobs": host.maxjobs or config.maxjobs, "running_tasks": running,
        "draining": host.draining, "drained": host.drained,
        "drain": drain_sources(builder=host.data.draining, hub=host.drained),
        "cpus": d.cpus, "memory_mb": d.memory_mb, "memory_available_mb": d.memory_available_mb,
        "disk_free_mb": d.buildroot_free_mb(), "speed": d.speed, "virt": list(d.virt),
        "arches_emulated": list(d.arches_emulated), "features": list(d.features),
        "load1": d.load1, "strong": is_strong(host, config), "probed_at": d.probed_at,
    }


def requirements_summary(req: TaskRequirements) -> dict:
    """JSON-ready view of a task's requirements."""
    c = cons.Constraints(req.memory_mb, req.disk_mb, req.cpus, req.power or None,
                         req.virt, req.features)
    return {"constraints": cons.to_json(c), "power": req.power, "why": req.why,
            "text": req.describe()}


def refusal_reason(host: HostCapabilities, req: TaskRequirements) -> Optional[str]:
    """Why a builder should refuse a task it cannot meet (None: take it).

    The builder plugin's safety net for hubs without the hub plugin: only a
    definite violation refuses; an unknown value does not.
    """
    verdict = fits(host, req)
    if verdict.ok:
        return None
    return "; ".join(verdict.reasons) + (f" ({req.why})" if req.why else "")
