"""The hub plugin's settings: ``/etc/koji-hub/plugins/discomy.conf``.

Pure. :func:`parse_config` turns the file's ``[scheduler]``, ``[trust]`` and
``[constraints]`` sections (already read by the plugin) into a
:class:`PlacementConfig`; koji's own hub.conf values (MaxJobs,
CapacityOvercommit) are carried in the same object. Any problem is one
:class:`ConfigError` naming the section and key.

koji's config reader folds option names to lower case, so the globs of
``[constraints]`` are kept in lower case and matched without regard to case
(:func:`discomy.placement.constraints.resolve`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional

from discomy.common.units import SizeError, parse_size_mb
from discomy.placement import constraints as cons


@dataclass(frozen=True)
class TrustConfig:
    """What the hub believes of hosts' own claims (``[trust]``, see ``placement.trust``)."""

    min_speed: float = 0.1                 # claims outside the bounds are ignored
    max_speed: float = 4.0
    max_cpus: int = 1024
    max_memory_mb: int = 16 * 1024 ** 2    # 16 TiB
    max_disk_mb: int = 1024 ** 3           # 1 PiB
    learn: bool = True                     # learn speeds from finished buildArch tasks
    learn_window_s: float = 30 * 86400.0
    learn_min_build_s: float = 600.0       # shorter builds are mostly buildroot setup
    learn_min_packages: int = 3
    learn_tolerance: float = 0.25          # learned/claimed beyond 1.25 either way: learned


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
    wait_for_faster_s: Optional[float] = None  # history: a build this much later on a slower host waits
    log_reasons: bool = True
    unknown_fits: bool = True              # a host that has not published a value may take the task
    defaults: Mapping[str, cons.Constraints] = field(default_factory=dict)
    trust: TrustConfig = TrustConfig()

    @property
    def uses_history(self) -> bool:
        """Whether a pass needs each package's last buildArch duration (power jobs,
        ``wait_for_faster``): the hub reads build history only then."""
        return self.power_after_s is not None or self.wait_for_faster_s is not None


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


def _size(text: str) -> int:
    try:
        value = parse_size_mb(text)
    except SizeError as exc:
        raise ValueError(str(exc)) from None
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive size")
    return value


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive whole number")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 10:
        raise ValueError(f"{text!r} is not a number between 0 and 10 (0.25 = 25 %)")
    return value


SCHEDULER_KEYS = {
    "enabled": ("enabled", _bool),
    "power_after": ("power_after_s", _optional(parse_duration_s)),
    "strong_speed": ("strong_speed", _optional(_positive_float)),
    "reserve_after": ("reserve_after_s", _optional(parse_duration_s)),
    "reserve_max": ("reserve_max_s", parse_duration_s),
    "reserve_max_hosts": ("reserve_max_hosts", _whole),
    "wait_for_faster": ("wait_for_faster_s", _optional(parse_duration_s)),
    "log_reasons": ("log_reasons", _bool),
    "unknown_fits": ("unknown_fits", _bool),
}

TRUST_KEYS = {
    "min_speed": ("min_speed", _positive_float),
    "max_speed": ("max_speed", _positive_float),
    "max_cpus": ("max_cpus", _positive_int),
    "max_memory": ("max_memory_mb", _size),
    "max_disk": ("max_disk_mb", _size),
    "learn": ("learn", _bool),
    "learn_window": ("learn_window_s", parse_duration_s),
    "learn_min_build": ("learn_min_build_s", parse_duration_s),
    "learn_min_packages": ("learn_min_packages", _positive_int),
    "learn_tolerance": ("learn_tolerance", _fraction),
}

SECTIONS = ("scheduler", "trust", "constraints")


def _section(sections: Mapping, name: str, keys: Mapping) -> dict:
    changes: dict = {}
    for key, text in (sections.get(name) or {}).items():
        if key not in keys:
            raise ConfigError(f"[{name}] {key}: unknown option; known options are "
                              f"{', '.join(sorted(keys))}")
        field_name, parse = keys[key]
        try:
            changes[field_name] = parse(text)
        except ValueError as exc:
            raise ConfigError(f"[{name}] {key}: {exc}") from None
    return changes


def parse_config(sections: Mapping[str, Mapping[str, str]],
                 base: PlacementConfig = PlacementConfig()) -> PlacementConfig:
    """Build the config from discomy.conf's ``[scheduler]``, ``[trust]`` and ``[constraints]``.

    ``[constraints]`` maps a package glob to a JSON object of constraints; the
    globs are kept in lower case. Raises :class:`ConfigError` naming the
    section and key at the first problem.
    """
    import json

    for section in sections:
        if section not in SECTIONS:
            raise ConfigError(f"[{section}]: unknown section; known sections are "
                              f"{', '.join(SECTIONS)}")
    changes = _section(sections, "scheduler", SCHEDULER_KEYS)
    trust = replace(base.trust, **_section(sections, "trust", TRUST_KEYS))
    if trust.min_speed > trust.max_speed:
        raise ConfigError(f"[trust] min_speed: {trust.min_speed:g} is above max_speed "
                          f"{trust.max_speed:g}")
    changes["trust"] = trust
    raw_rules: dict = {}
    for glob, text in (sections.get("constraints") or {}).items():
        try:
            raw_rules[glob.lower()] = json.loads(text)
        except ValueError:
            raise ConfigError(f"[constraints] {glob}: value is not a JSON object such as "
                              '{"memory": "16G", "power": true}') from None
    try:
        rules, _ = cons.parse_rules(raw_rules, strict=True)
    except cons.ConstraintError as exc:
        raise ConfigError(f"[constraints] {exc}") from None
    changes["defaults"] = rules
    return replace(base, **changes)
