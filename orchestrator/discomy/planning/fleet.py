"""Fleets of koji builders as the estimator sees them (pure core).

A fleet file (YAML) is a list of host groups::

    - name: strong          # group name (hosts are strong-1 .. strong-N)
      count: 4
      arches: [x86_64]
      cpus: 64
      speed: 2.0            # relative throughput per task, 1.0 = reference builder
      capacity: 16          # koji host capacity (koji edit-host --capacity)
      maxjobs: 8            # kojid.conf maxjobs
      memory: 256G
      disk: 2T
      channels: [default, createrepo]   # koji channels (koji add-host-to-channel)

or a mapping with the groups under ``groups`` and, optionally, the deployment's koji
settings where they differ from koji's defaults, each under the file that sets it::

    koji:
      hub.conf: {RunInterval: 30, MaxJobs: 15, CapacityOvercommit: 5, MaxRepoTasks: 10}
      kojid.conf: {sleeptime: 15}
      kojira.conf: {sleeptime: 15}
    groups:
      - name: strong
        ...

``count``, ``arches``, ``speed``, ``capacity`` and ``maxjobs`` are required;
``cpus``, ``memory`` and ``disk`` are optional (unknown when absent); ``channels``
defaults to ``default`` and ``createrepo``: the builds run in the first, repo
regenerations in the second, so some host must be in each.

Every number is finite and within bounds wide enough for any real koji
deployment, so that a typo (or a ``.nan``) is an error, not a simulation that
never ends: ``count`` 1..10,000 hosts per group and 100,000 in the fleet,
``speed`` 0.01..100, ``capacity`` above 0 up to 1,000, ``maxjobs`` 1..1,000,
``cpus`` 1..4,096, ``memory`` and ``disk`` up to 1 EiB.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from discomy.common.units import SizeError, parse_size_mb, short_repr
from discomy.placement import PlacementConfig
from discomy.placement.schedule import min_available, work_room
from discomy.planning import kojimodel as km

# koji's hub defaults (kojihub/kojixmlrpc.py): MaxJobs 15, CapacityOvercommit 5
KOJI_MAXJOBS = km.MAXJOBS
KOJI_CAPACITY_OVERCOMMIT = km.CAPACITY_OVERCOMMIT

MAX_GROUP_HOSTS = 10_000
MAX_FLEET_HOSTS = 100_000
MIN_SPEED, MAX_SPEED = 0.01, 100.0
MAX_CAPACITY = 1000.0
MAX_MAXJOBS = 1000
MAX_CPUS = 4096
NOARCH = "noarch"


class FleetError(ValueError):
    """A fleet description that cannot be used; the message names the group and key."""


@dataclass(frozen=True)
class HostGroup:
    name: str
    count: int
    arches: tuple
    speed: float
    capacity: float
    maxjobs: int
    cpus: Optional[int] = None
    memory_mb: Optional[int] = None
    disk_mb: Optional[int] = None
    channels: tuple = (km.DEFAULT_CHANNEL, km.CREATEREPO_CHANNEL)


@dataclass(frozen=True)
class KojiSettings:
    """The deployment's koji settings the estimate runs with (koji's defaults unless a
    fleet file, or the hub, says otherwise)."""

    run_interval: float = km.RUN_INTERVAL           # hub.conf RunInterval
    maxjobs: int = km.MAXJOBS                       # hub.conf MaxJobs
    overcommit: float = km.CAPACITY_OVERCOMMIT      # hub.conf CapacityOvercommit
    max_repo_tasks: int = km.MAX_REPO_TASKS         # hub.conf MaxRepoTasks
    sleeptime: float = km.KOJID_SLEEPTIME           # kojid.conf sleeptime
    kojira_seconds: float = km.KOJIRA_SLEEPTIME     # kojira.conf sleeptime

    def sim_settings(self) -> dict:
        """The :class:`discomy.planning.simulator.SimConfig` keys these set (the same names)."""
        return dataclasses.asdict(self)


# file -> key as that file spells it -> (KojiSettings field, kind, lowest, highest)
KOJI_KEYS = {
    "hub.conf": {"RunInterval": ("run_interval", int, 1, 3600),
                 "MaxJobs": ("maxjobs", int, 1, MAX_MAXJOBS),
                 "CapacityOvercommit": ("overcommit", int, 0, int(MAX_CAPACITY)),
                 "MaxRepoTasks": ("max_repo_tasks", int, 1, 1000)},
    "kojid.conf": {"sleeptime": ("sleeptime", int, 1, 3600)},
    "kojira.conf": {"sleeptime": ("kojira_seconds", int, 1, 3600)},
}


def koji_conf(values: Mapping) -> dict:
    """Settings by field name (:class:`KojiSettings`, ``SimConfig``) as koji's config
    files name them: ``{"hub.conf": {"RunInterval": 60, ...}, ...}``."""
    return {conf: {key: values[field] for key, (field, *_) in keys.items()}
            for conf, keys in KOJI_KEYS.items()}


def _koji_value_error(key: str, value: Any, low: int, high: int) -> Optional[str]:
    """Why ``value`` is not a setting koji would read (a whole number in bounds), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{key!r} must be a whole number from {low} to {high}, got {short_repr(value)}"
    return None


def koji_settings_from_data(data: Any, source: str = "fleet") -> KojiSettings:
    """The fleet file's ``koji`` mapping; :class:`FleetError` naming the file and key.
    Koji reads each of these as a whole number (``kojixmlrpc.py``, ``kojid``, ``kojira``)."""
    if data is None:
        return KojiSettings()
    if not isinstance(data, dict):
        raise FleetError(f"{source}: 'koji' must be a mapping of hub.conf, kojid.conf and "
                         f"kojira.conf settings")
    unknown = sorted(short_repr(k) for k in data if k not in KOJI_KEYS)
    if unknown:
        raise FleetError(f"{source}: koji: unknown file(s) {', '.join(unknown)}: use "
                         f"{', '.join(KOJI_KEYS)}")
    values: dict = {}
    for conf, settings in data.items():
        where = f"{source}: koji: {conf}"
        if not isinstance(settings, dict):
            raise FleetError(f"{where}: expected a mapping of its settings")
        keys = KOJI_KEYS[conf]
        unknown = sorted(short_repr(k) for k in settings if k not in keys)
        if unknown:
            raise FleetError(f"{where}: unknown setting(s) {', '.join(unknown)}: use "
                             f"{', '.join(keys)}")
        for key, value in settings.items():
            field, kind, low, high = keys[key]
            error = _koji_value_error(key, value, low, high)
            if error:
                raise FleetError(f"{where}: {error}")
            values[field] = kind(value)
    return KojiSettings(**values)


def koji_settings_from_hub(opts: Any) -> tuple:
    """``(KojiSettings, warnings)`` from the hub plugin's ``discomy.schedulerSettings``:
    outside input, so a missing or out-of-bounds value keeps koji's default with a
    warning rather than failing the estimate."""
    values, warnings = {}, []
    if not isinstance(opts, Mapping):
        return KojiSettings(), [f"hub settings {short_repr(opts)} are not a mapping; "
                                f"koji's defaults are used"]
    for key, (field, kind, low, high) in KOJI_KEYS["hub.conf"].items():
        value = opts.get(key)
        if value is None:
            continue
        error = _koji_value_error(key, value, low, high)
        if error:
            warnings.append(f"hub.conf {error}; koji's default is used")
            continue
        values[field] = kind(value)
    return KojiSettings(**values), warnings


@dataclass(frozen=True)
class Fleet:
    groups: tuple
    koji: KojiSettings = KojiSettings()

    @property
    def arches(self) -> tuple:
        return tuple(sorted({a for g in self.groups for a in g.arches}))

    @property
    def host_count(self) -> int:
        return sum(g.count for g in self.groups)

    def fastest_speed(self, arch: Optional[str] = None) -> float:
        speeds = [g.speed for g in self.groups if arch is None or arch in g.arches]
        return max(speeds) if speeds else 0.0


_KEYS = {"name", "count", "arches", "cpus", "speed", "capacity", "maxjobs", "memory", "disk",
         "channels"}

# key -> (kind, lowest, highest, lowest allowed itself)
_BOUNDS = {
    "count": (int, 1, MAX_GROUP_HOSTS, True),
    "speed": (float, MIN_SPEED, MAX_SPEED, True),
    "capacity": (float, 0, MAX_CAPACITY, False),
    "maxjobs": (int, 1, MAX_MAXJOBS, True),
    "cpus": (int, 1, MAX_CPUS, True),
}


def fleet_from_data(data: Any, source: str = "fleet") -> Fleet:
    """Validate a parsed fleet file; raises :class:`FleetError` naming the bad entry."""
    koji = KojiSettings()
    if isinstance(data, dict) and "groups" in data:
        unknown = sorted(short_repr(k) for k in set(data) - {"groups", "koji"})
        if unknown:
            raise FleetError(f"{source}: unknown key(s) {', '.join(unknown)}: use groups "
                             f"and koji")
        koji = koji_settings_from_data(data.get("koji"), source)
        data = data["groups"]
    if not isinstance(data, list) or not data:
        raise FleetError(f"{source}: expected a non-empty list of host groups")
    groups, seen = [], set()
    for i, raw in enumerate(data):
        where = f"{source}: group {i + 1}"
        if not isinstance(raw, dict):
            raise FleetError(f"{where}: expected a mapping")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise FleetError(f"{where}: 'name' must be a non-empty string")
        where = f"{source}: group {short_repr(name)}"
        if name in seen:
            raise FleetError(f"{where}: duplicate group name")
        seen.add(name)
        unknown = sorted(short_repr(k) for k in set(raw) - _KEYS)
        if unknown:
            raise FleetError(f"{where}: unknown key(s) {', '.join(unknown)}")
        for key in ("count", "arches", "speed", "capacity", "maxjobs"):
            if key not in raw:
                raise FleetError(f"{where}: missing required key {key!r}")
        arches = raw["arches"]
        if isinstance(arches, str):
            arches = arches.split()
        if not isinstance(arches, list) or not arches or not all(
                isinstance(a, str) and a.split() == [a] for a in arches):
            raise FleetError(f"{where}: 'arches' must be a non-empty list of arch names")
        channels = raw.get("channels", list(HostGroup.channels))
        if isinstance(channels, str):
            channels = channels.split()
        if not isinstance(channels, list) or not channels or not all(
                isinstance(c, str) and c.split() == [c] for c in channels):
            raise FleetError(f"{where}: 'channels' must be a non-empty list of channel names")
        numbers = {key: check_number(raw[key], key, where) for key in _BOUNDS if key in raw}
        sizes = {}
        for key in ("memory", "disk"):
            if key in raw:
                try:
                    sizes[key] = parse_size_mb(raw[key])
                except SizeError as exc:
                    raise FleetError(f"{where}: {key}: {exc}") from None
        groups.append(HostGroup(name, numbers["count"], tuple(dict.fromkeys(arches)),
                                numbers["speed"], numbers["capacity"], numbers["maxjobs"],
                                numbers.get("cpus"), sizes.get("memory"), sizes.get("disk"),
                                tuple(dict.fromkeys(channels))))
    return _checked_fleet(groups, source, koji)


def check_number(value: Any, key: str, where: str = "fleet"):
    """``value`` as the fleet key ``key`` takes it; :class:`FleetError` if out of bounds."""
    kind, low, high, low_included = _BOUNDS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FleetError(f"{where}: {key!r} must be a number, got {short_repr(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FleetError(f"{where}: {key!r} must be a finite number, got {short_repr(value)}")
    if kind is int and value != int(value):
        raise FleetError(f"{where}: {key!r} must be a whole number, got {short_repr(value)}")
    if value > high or value < low or (value == low and not low_included):
        lowest = f"at least {low:g}" if low_included else f"above {low:g}"
        raise FleetError(f"{where}: {key!r} must be {lowest} and at most {high:g}, "
                         f"got {short_repr(value)}")
    return kind(value)


def _checked_fleet(groups: list, source: str, koji: KojiSettings = KojiSettings()) -> Fleet:
    fleet = Fleet(tuple(groups), koji)
    if fleet.host_count > MAX_FLEET_HOSTS:
        raise FleetError(f"{source}: 'count' adds up to {fleet.host_count} hosts, more than "
                         f"{MAX_FLEET_HOSTS}")
    if not any(a != NOARCH for a in fleet.arches):
        raise FleetError(f"{source}: 'arches': no group builds an arch other than {NOARCH}")
    return fleet


def task_slots(group: HostGroup, weight: float = 1.5,
               overcommit: float = KOJI_CAPACITY_OVERCOMMIT) -> int:
    """How many running tasks of ``weight`` koji's scheduler puts on one host of ``group``:
    each free task is admitted at the task table's default weight (placement's test)
    and weighs ``weight`` once running."""
    min_avail = min_available(km.FREE_TASK_WEIGHT, PlacementConfig(capacity_overcommit=overcommit))
    return work_room(group.capacity, 0.0, 0, group.maxjobs, min_avail, weight)


def fleet_from_koji_hosts(hosts: list, host_data: Optional[list] = None,
                          default_speed: float = 1.0) -> tuple:
    """The fleet koji knows, and warnings about what it says: from
    ``listHosts(enabled=True)`` rows and, where the hub has them (koji 1.34+),
    ``scheduler.getHostData()`` rows.

    Disabled, draining and zero-capacity hosts are left out: they take no new
    work. A builder that publishes no Discomy host data counts at ``default_speed``
    with koji's hub ``MaxJobs``; identical hosts are grouped so the simulator
    stays fast on large fleets.

    Hub and builders are outside input too: a value that is not a number, or is
    out of the fleet file's bounds, is ignored with a warning, as if unknown. A
    capacity that is not a number leaves the host out (koji's scheduler never
    gives it a task); one above the bound counts as the bound.
    """
    from discomy.placement.hostdata import from_host_data

    data_by_host = {row.get("host_id"): row.get("data") for row in host_data or []
                    if isinstance(row, Mapping) and isinstance(row.get("host_id"), int)}
    shapes: dict = {}
    notes: dict = {}
    for host in hosts:
        if not isinstance(host, Mapping):
            continue
        name = host.get("name")
        name = name if isinstance(name, str) and name else short_repr(host.get("id"))

        def warn(text: str, name: str = name) -> None:
            notes.setdefault(text, []).append(name)

        arches = host.get("arches")
        arches = tuple(sorted(set(arches.split()))) if isinstance(arches, str) else ()
        if not host.get("enabled", True) or not arches:
            continue
        capacity = host.get("capacity")
        if isinstance(capacity, bool) or not isinstance(capacity, (int, float)) \
                or capacity != capacity:
            warn(f"capacity {short_repr(capacity)} is not a number; the host is left out")
            continue
        if capacity <= 0:
            continue
        if capacity > MAX_CAPACITY:
            warn(f"capacity {short_repr(capacity)} counts as {MAX_CAPACITY:g}")
            capacity = MAX_CAPACITY
        data = data_by_host.get(host.get("id"))
        parsed, warnings = from_host_data(data)
        for text in warnings:
            warn(text)
        if parsed.draining:
            continue
        maxjobs = data.get("maxjobs") if isinstance(data, Mapping) else None
        # koji's hub reads a missing or zero maxjobs as its own MaxJobs
        maxjobs = (_bounded(maxjobs, "maxjobs", warn) if maxjobs else None) or KOJI_MAXJOBS
        shape = (arches, _bounded(parsed.speed, "speed", warn) or default_speed,
                 float(capacity), maxjobs, _bounded(parsed.cpus, "cpus", warn),
                 parsed.memory_mb, parsed.buildroot_free_mb())
        shapes.setdefault(shape, []).append(name)
    if not shapes:
        raise FleetError("koji knows no enabled host with arches and capacity")
    groups = []
    for (arches, speed, capacity, maxjobs, cpus, memory, disk), names in sorted(
            shapes.items(), key=lambda item: sorted(item[1])[0]):
        groups.append(HostGroup(_group_name(names), len(names), arches, speed, capacity,
                                maxjobs, cpus, memory, disk))
    warnings = sorted(f"{_group_name(names)}: {text}" for text, names in notes.items())
    return _checked_fleet(groups, "koji's hosts"), warnings


def _bounded(value: Any, key: str, warn) -> Any:
    if value is None:
        return None
    try:
        return check_number(value, key, "host data")
    except FleetError as exc:
        warn(f"{exc}; treated as unknown")
        return None


def _group_name(names: list) -> str:
    names.sort()
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"
