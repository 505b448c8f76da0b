"""The kojid plugin's settings, checked one key at a time (pure core).

``/etc/kojid/plugins/discomy.conf`` holds one ``[discomy]`` section of strings.
``parse_builder_config`` turns it into a :class:`BuilderConfig`: a bad value
keeps its default and gives one message naming the key, so one typo never
resets the other settings. An unknown key is reported the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from discomy.builder.buildopts import SmpBounds

SECTION = "discomy"
DEFAULTS = {
    "drain_flag": "/var/lib/discomy-builder/drain",
    "state_file": "/var/lib/discomy-builder/state.json",
    "bench_cache": "/var/cache/discomy-builder/speed.json",
    "paths": "/var/lib/mock /var/lib/koji",
    "probe_ttl": "30",
    "refuse": "true",
    "smp_min": "1",
    "smp_max": "",
    "reserve_cpus": "0",
    "cross_config": "",
}
_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")


@dataclass(frozen=True)
class BuilderConfig:
    drain_flag: str = DEFAULTS["drain_flag"]
    state_file: str = DEFAULTS["state_file"]
    bench_cache: Optional[str] = DEFAULTS["bench_cache"]   # None: no calibrated benchmark
    paths: tuple = tuple(DEFAULTS["paths"].split())
    probe_ttl: float = 30.0
    refuse: bool = True
    bounds: SmpBounds = SmpBounds()
    cross_config: Optional[str] = None                     # the cross.yaml path, if any


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path")
    return value


def _optional_path(value: str) -> Optional[str]:
    return _path(value) if value else None


def _paths(value: str) -> tuple:
    paths = tuple(value.split())
    if not paths:
        raise ValueError("must name at least one directory")
    return tuple(_path(p) for p in paths)


def _seconds(value: str) -> float:
    seconds = float(value)
    if not seconds >= 0:
        raise ValueError("must be a number of seconds, 0 or more")
    return seconds


def _bool(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError("must be true or false")


def _count(minimum: int):
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise ValueError(f"must be a whole number, {minimum} or more")
        return number
    return parse


def _optional_count(value: str) -> Optional[int]:
    return _count(1)(value) if value else None


_PARSERS = {
    "drain_flag": _path, "state_file": _path, "bench_cache": _optional_path,
    "paths": _paths, "probe_ttl": _seconds, "refuse": _bool,
    "smp_min": _count(1), "smp_max": _optional_count, "reserve_cpus": _count(0),
    "cross_config": _optional_path,
}


def parse_builder_config(values: Mapping[str, str]) -> tuple:
    """``(BuilderConfig, errors)``: good keys applied, each bad or unknown key named once."""
    errors = []
    parsed = {key: _PARSERS[key](default) for key, default in DEFAULTS.items()}
    for key in sorted(set(values) - set(DEFAULTS)):
        errors.append(f"unknown option {key!r} ignored; known: {', '.join(DEFAULTS)}")
    for key, parse in _PARSERS.items():
        if key not in values:
            continue
        raw = str(values[key]).strip()
        try:
            parsed[key] = parse(raw)
        except ValueError as exc:
            reason = str(exc) if "must" in str(exc) else "not a valid value"
            errors.append(f"{key} = {raw!r}: {reason}; using the default "
                          f"{DEFAULTS[key] or '(none)'!s}")
    if parsed["smp_max"] is not None and parsed["smp_max"] < parsed["smp_min"]:
        errors.append(f"smp_max = {parsed['smp_max']} is below smp_min = {parsed['smp_min']}; "
                      f"smp_max ignored")
        parsed["smp_max"] = None
    bounds = SmpBounds(parsed.pop("smp_min"), parsed.pop("smp_max"), parsed.pop("reserve_cpus"))
    return BuilderConfig(bounds=bounds, **parsed), errors
