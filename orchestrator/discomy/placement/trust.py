"""What the hub believes of a builder: its claims, the admin's policy, its learned speed.

Pure. Contributed builders publish their own cpus, memory, disk, features and
speed (a sha256 benchmark, which SHA-NI makes look fast). Three things stand
between those claims and placement:

- **bounds** (``[trust]`` in discomy.conf): a claim outside them is ignored, as
  if the host had not published it (unknown, never zero);
- **the admin's policy** per host (:class:`HostPolicy`, ``koji
  discomy-host-policy``): pin a value (``speed``, ``cpus``, ``memory``,
  ``features``) or cap it (``max_speed``, ``max_cpus``, ``max_memory``,
  ``max_disk``);
- **the learned speed** (:func:`learn_speeds`), from the host's finished
  buildArch tasks compared with other hosts' durations for the same packages.

:func:`in_force` combines them into the :class:`HostCapabilities` that the pass,
``explain`` and the builder's refusal all use, plus a :class:`Trusted` record of
what was claimed, learned and used, and why.

Speed in force: a pinned speed wins; otherwise the claim, unless the learned
speed differs from it by more than ``learn_tolerance`` (or there is no usable
claim from a host that publishes Discomy data), in which case the learned one;
then ``max_speed`` caps it. A host without Discomy data (no builder plugin) keeps
an unknown speed, so placement treats it as stock koji does.

Learning. A buildArch duration is modelled as ``work(package, arch) /
speed(host)``. From the hosts' durations (per host and package, the median of
its builds no shorter than ``learn_min_build``; only packages built by two hosts
or more count) the model is fitted in log space by alternating means (least
squares). Durations fix speeds only relative to each other, within groups of
hosts linked by shared packages; each group is put on the claims' scale by the
median, over its hosts, of learned/claimed (hosts whose speed an admin pinned
are left out; a group without claims has its median host at 1.0). So hosts
claiming too much stand out as long as most hosts tell the truth; a pin changes
only what placement believes of that one host. A host gets a learned speed once
it shares ``learn_min_packages`` packages with others.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Optional

from discomy.common.units import SizeError, format_size_mb, parse_size_mb, short_repr
from discomy.placement.config import TrustConfig
from discomy.placement.hostdata import HostData
from discomy.placement.hosts import HostCapabilities

PINS = ("speed", "cpus", "memory", "features")
CAPS = ("max_speed", "max_cpus", "max_memory", "max_disk")
POLICY_KEYS = PINS + CAPS

CLAIMED, LEARNED, PINNED, CAPPED = "claimed", "learned", "pinned", "capped"


class PolicyError(ValueError):
    """A host policy that cannot be accepted; one sentence naming the key."""


@dataclass(frozen=True)
class HostPolicy:
    """An admin's override for one host: pinned values and caps; ``None`` = not set."""

    speed: Optional[float] = None
    cpus: Optional[int] = None
    memory_mb: Optional[int] = None
    features: Optional[tuple] = None
    max_speed: Optional[float] = None
    max_cpus: Optional[int] = None
    max_memory_mb: Optional[int] = None
    max_disk_mb: Optional[int] = None

    def is_empty(self) -> bool:
        return self == HostPolicy()

    def describe(self) -> str:
        parts = []
        for key, value in policy_to_json(self).items():
            if key in ("memory", "max_memory", "max_disk"):
                value = format_size_mb(parse_size_mb(value))
            elif key in ("speed", "max_speed"):
                value = format(value, "g")
            elif key == "features":
                value = ",".join(value) or "none"
            parts.append(f"{key}={value}")
        return " ".join(parts) or "none"


NO_POLICY = HostPolicy()

_FIELDS = {"speed": "speed", "cpus": "cpus", "memory": "memory_mb", "features": "features",
           "max_speed": "max_speed", "max_cpus": "max_cpus", "max_memory": "max_memory_mb",
           "max_disk": "max_disk_mb"}


def _speed(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PolicyError(f"{key}: {short_repr(value)} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise PolicyError(f"{key}: {short_repr(value)} is not a number") from None
    if not math.isfinite(number) or number <= 0 or number > 1000:
        raise PolicyError(f"{key}: {short_repr(value)} is not a speed above 0 (1.0 = the "
                          "reference builder)")
    return number


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) \
            or not str(value).strip().isdigit() or not 0 < int(value) < 2 ** 31:
        raise PolicyError(f"{key}: {short_repr(value)} is not a positive whole number")
    return int(value)


def _size(key: str, value: Any) -> int:
    try:
        mb = parse_size_mb(value)
    except SizeError as exc:
        raise PolicyError(f"{key}: {exc}") from None
    if mb <= 0:
        raise PolicyError(f"{key}: {short_repr(value)} is not a positive size")
    return mb


def _features(key: str, value: Any) -> tuple:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{key}: {short_repr(value)} is not a list of feature names")
    return tuple(sorted(set(value)))


_PARSERS = {"speed": _speed, "max_speed": _speed, "cpus": _count, "max_cpus": _count,
            "memory": _size, "max_memory": _size, "max_disk": _size, "features": _features}


def parse_policy(raw: Any) -> HostPolicy:
    """A policy from its JSON form (``{"speed": 1.0, "max_memory": "64G"}``); strict."""
    if raw is None:
        return NO_POLICY
    if not isinstance(raw, Mapping):
        raise PolicyError(f"a host policy is a mapping such as {{\"speed\": 1.0}}, "
                          f"not {short_repr(raw)}")
    values = {}
    for key, value in raw.items():
        if key not in _PARSERS:
            raise PolicyError(f"{key}: unknown policy key; known keys are "
                              f"{', '.join(POLICY_KEYS)}")
        if value is not None:
            values[_FIELDS[key]] = _PARSERS[key](key, value)
    policy = HostPolicy(**values)
    for pin, cap in (("speed", "max_speed"), ("cpus", "max_cpus"), ("memory_mb", "max_memory_mb")):
        low, high = getattr(policy, pin), getattr(policy, cap)
        if low is not None and high is not None and low > high:
            raise PolicyError(f"{pin.replace('_mb', '')}: the pinned value is above "
                              f"{cap.replace('_mb', '')}")
    return policy


def policy_to_json(policy: HostPolicy) -> dict:
    """The stored form: only keys that are set; sizes as ``"65536M"``."""
    out: dict = {}
    for key in POLICY_KEYS:
        value = getattr(policy, _FIELDS[key])
        if value is None:
            continue
        if key in ("memory", "max_memory", "max_disk"):
            value = f"{value}M"
        elif key == "features":
            value = list(value)
        out[key] = value
    return out


def merge_policy(current: HostPolicy, changes: Mapping[str, Any],
                 unset: Iterable[str] = ()) -> HostPolicy:
    """``current`` with ``changes`` applied and the ``unset`` keys removed; strict."""
    raw = policy_to_json(current)
    for key in unset:
        if key not in _PARSERS:
            raise PolicyError(f"{key}: unknown policy key; known keys are "
                              f"{', '.join(POLICY_KEYS)}")
        raw.pop(key, None)
    raw.update(changes)
    return parse_policy(raw)


def parse_policies(raw: Any) -> tuple[dict, list]:
    """Stored policies ``{"<host id>": {...}}`` read leniently: (host id -> policy, warnings)."""
    policies: dict = {}
    warnings: list = []
    if not isinstance(raw, Mapping):
        return policies, ([] if raw is None else ["host policies are not a mapping; ignored"])
    for key, value in raw.items():
        try:
            policies[int(key)] = parse_policy(value)
        except (PolicyError, ValueError) as exc:
            warnings.append(f"host policy of host {key} ignored: {exc}")
    return policies, warnings


# ----------------------------------------------------------------- learning

@dataclass(frozen=True)
class BuildSample:
    """One closed buildArch task: which host built which package for which arch, how long."""

    host_id: int
    package: str
    arch: str
    seconds: float


@dataclass(frozen=True)
class LearnedSpeed:
    speed: float
    packages: int      # packages it shares with other hosts
    builds: int        # its builds among them


def learn_speeds(samples: Iterable[BuildSample], claimed: Mapping[int, Optional[float]],
                 pinned: Mapping[int, float], config: TrustConfig) -> dict:
    """host id -> :class:`LearnedSpeed`, for hosts with enough shared packages (see module doc).

    ``claimed`` are the hosts' speed claims within bounds (None: no usable claim);
    they only set the scale. The claims of hosts in ``pinned`` (their admins
    pinned the speed) are left out of it.
    """
    durations: dict = {}
    for s in samples:
        if s.seconds is not None and s.seconds >= max(config.learn_min_build_s, 1e-3):
            durations.setdefault((s.host_id, (s.package, s.arch)), []).append(float(s.seconds))
    hosts_of: dict = {}
    for host, item in durations:
        hosts_of.setdefault(item, []).append(host)
    # log duration per (host, item), for items that two hosts or more built
    logd = {key: math.log(statistics.median(v)) for key, v in durations.items()
            if len(hosts_of[key[1]]) > 1}
    if not logd:
        return {}
    items_of: dict = {}
    for host, item in logd:
        items_of.setdefault(host, []).append(item)
    hosts = sorted(items_of)
    by_item = {item: [(h, logd[h, item]) for h in hosts_of[item]]
               for item in {i for h in hosts for i in items_of[h]}}
    by_host = {h: [(i, logd[h, i]) for i in items_of[h]] for h in hosts}
    b = {h: 0.0 for h in hosts}            # log speed
    for _ in range(500):
        a = {item: sum(d + b[h] for h, d in pairs) / len(pairs)
             for item, pairs in by_item.items()}
        new = {h: sum(a[i] - d for i, d in pairs) / len(pairs) for h, pairs in by_host.items()}
        change = max(abs(new[h] - b[h]) for h in hosts)
        b = new
        if change < 1e-9:
            break
    learned: dict = {}
    for group in _groups(hosts, items_of, hosts_of):
        # an admin who pinned a host's speed has said its claim is not to be believed
        anchors = {h: math.log(claimed[h]) for h in group if claimed.get(h) and h not in pinned}
        if anchors:
            offset = statistics.median(anchors[h] - b[h] for h in sorted(anchors))
        else:
            offset = -statistics.median(b[h] for h in group)
        for h in group:
            if len(items_of[h]) >= config.learn_min_packages:
                builds = sum(len(durations[h, i]) for i in items_of[h])
                learned[h] = LearnedSpeed(round(math.exp(b[h] + offset), 2), len(items_of[h]),
                                          builds)
    return learned


def _groups(hosts, items_of, hosts_of) -> list:
    """Hosts linked through packages they both built, as sorted lists."""
    parent = {h: h for h in hosts}

    def root(h):
        while parent[h] != h:
            parent[h] = parent[parent[h]]
            h = parent[h]
        return h

    for h in hosts:
        for item in items_of[h]:
            for other in hosts_of[item]:
                if other in parent:
                    parent[root(other)] = root(h)
    groups: dict = {}
    for h in hosts:
        groups.setdefault(root(h), []).append(h)
    return sorted(groups.values())


# ----------------------------------------------------------------- in force

@dataclass(frozen=True)
class Trusted:
    """One host as claimed, learned and in force, with the reasons for each difference."""

    host: HostCapabilities            # in force: what placement uses
    claimed: HostData                 # what the builder published
    learned: Optional[LearnedSpeed]
    policy: HostPolicy
    speed_source: Optional[str]       # claimed, learned, pinned, capped; None: unknown
    notes: tuple = ()


def bounded_speed(speed: Optional[float], config: TrustConfig) -> Optional[float]:
    """A speed claim within bounds, or None."""
    if speed is None or not config.min_speed <= speed <= config.max_speed:
        return None
    return speed


def disagree(claimed: float, learned: float, tolerance: float) -> bool:
    """Learned and claimed differ by more than ``tolerance`` (as a ratio, either way)."""
    return max(claimed / learned, learned / claimed) > 1 + tolerance


def in_force(host: HostCapabilities, policy: HostPolicy = NO_POLICY,
             learned: Optional[LearnedSpeed] = None,
             config: TrustConfig = TrustConfig()) -> Trusted:
    """The host as placement sees it: claims within bounds, the policy, the learned speed."""
    claimed = host.data
    notes: list = []
    name = host.name

    def bound(what, value, limit, text):
        if value is not None and value > limit:
            notes.append(f"{name}: claims {what} {text(value)}, above the bound "
                         f"{text(limit)}; ignored")
            return None
        return value

    cpus = bound("cpus", claimed.cpus, config.max_cpus, str)
    memory = bound("memory", claimed.memory_mb, config.max_memory_mb, format_size_mb)
    # available memory goes with the memory claim: ignored with it, never above it
    available = claimed.memory_available_mb if memory == claimed.memory_mb else None
    disk = {path: free for path, free in claimed.disk_free_mb.items()
            if bound(f"free disk in {path}", free, config.max_disk_mb, format_size_mb)
            is not None}
    features = claimed.features

    speed = claimed.speed
    if speed is not None and bounded_speed(speed, config) is None:
        notes.append(f"{name}: claims speed {speed:g}, outside the bounds "
                     f"{config.min_speed:g}..{config.max_speed:g}; ignored")
        speed = None
    source = CLAIMED if speed is not None else None
    if policy.speed is not None:
        speed, source = policy.speed, PINNED
        notes.append(f"{name}: speed pinned to {speed:g} by policy")
    elif learned is not None and (
            disagree(speed, learned.speed, config.learn_tolerance) if speed is not None
            # a host without Discomy data stays as stock koji sees it
            else claimed != HostData()):
        notes.append(f"{name}: speed learned {learned.speed:g} from {learned.packages} "
                     f"packages built on other hosts too, claimed "
                     f"{'?' if speed is None else format(speed, 'g')}; using learned")
        speed, source = learned.speed, LEARNED
    if policy.max_speed is not None and speed is not None and speed > policy.max_speed:
        notes.append(f"{name}: speed {speed:g} capped at {policy.max_speed:g} by policy")
        speed, source = policy.max_speed, CAPPED

    def pin_or_cap(what, value, pin, cap, text):
        if pin is not None:
            if pin != value:
                notes.append(f"{name}: {what} pinned to {text(pin)} by policy")
            return pin
        if cap is not None and value is not None and value > cap:
            notes.append(f"{name}: {what} {text(value)} capped at {text(cap)} by policy")
            return cap
        return value

    cpus = pin_or_cap("cpus", cpus, policy.cpus, policy.max_cpus, str)
    memory = pin_or_cap("memory", memory, policy.memory_mb, policy.max_memory_mb,
                        format_size_mb)
    if available is not None and memory is not None and available > memory:
        available = memory
    if policy.max_disk_mb is not None:
        capped = {p: min(v, policy.max_disk_mb) for p, v in disk.items()}
        if capped != disk:
            notes.append(f"{name}: free disk capped at {format_size_mb(policy.max_disk_mb)} "
                         "by policy")
        disk = capped
    if policy.features is not None:
        if tuple(policy.features) != tuple(features):
            notes.append(f"{name}: features pinned to "
                         f"{','.join(policy.features) or 'none'} by policy")
        features = tuple(policy.features)

    data = replace(claimed, cpus=cpus, memory_mb=memory, memory_available_mb=available,
                   disk_free_mb=disk, speed=speed, features=features)
    return Trusted(replace(host, data=data), claimed, learned, policy, source, tuple(notes))


def trust_summary(t: Trusted) -> dict:
    """JSON-ready view of claimed, learned and in-force values (``koji discomy-hosts``)."""
    c = t.claimed
    return {
        "claimed": {"speed": c.speed, "cpus": c.cpus, "memory_mb": c.memory_mb,
                    "disk_free_mb": c.buildroot_free_mb(), "features": list(c.features)},
        "learned": None if t.learned is None else {
            "speed": t.learned.speed, "packages": t.learned.packages,
            "builds": t.learned.builds},
        "speed_source": t.speed_source,
        "policy": policy_to_json(t.policy),
        "trust_notes": list(t.notes),
    }
