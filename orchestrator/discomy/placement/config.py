"""The hub plugin's settings: ``/etc/koji-hub/plugins/discomy.conf``.

Pure. :func:`parse_config` turns the file's ``[scheduler]`` and
``[constraints]`` sections (already read by the plugin) into a
:class:`PlacementConfig`; koji's own hub.conf values (MaxJobs,
CapacityOvercommit) are carried in the same object. Any problem is one
:class:`ConfigError` naming the section and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional

from discomy.placement import constraints as cons


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


SCHEDULER_KEYS = {
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
        if key not in SCHEDULER_KEYS:
            raise ConfigError(f"[scheduler] {key}: unknown option; known options are "
                              f"{', '.join(sorted(SCHEDULER_KEYS))}")
        name, parse = SCHEDULER_KEYS[key]
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
