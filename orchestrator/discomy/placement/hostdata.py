"""The scheduler host-data contract between the builder plugin and the hub plugin.

kojid sends ``host.updateHost(task_load, ready, data)``; the hub stores ``data``
and its scheduler sees it as ``host['data']``. Koji's own keys (``methods``,
``maxjobs``) stay at the top level; everything of Discomy's lives under the
single key ``"discomy"`` so a stock hub ignores it. Sizes are MiB, ``speed`` is
relative throughput (1.0 = reference builder), and a missing key means
*unknown*, never zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

HOSTDATA_KEY = "discomy"
HOSTDATA_VERSION = 1
# The directory whose free space bounds a buildroot (mock's default basedir).
BUILDROOT_PATH = "/var/lib/mock"

VIRT_KINDS = ("kvm", "xen", "chroot")


@dataclass(frozen=True)
class HostData:
    """What a builder says about itself. ``None`` / empty means unknown."""

    cpus: Optional[int] = None
    memory_mb: Optional[int] = None
    memory_available_mb: Optional[int] = None
    disk_free_mb: Mapping[str, int] = field(default_factory=dict)
    speed: Optional[float] = None
    virt: tuple = ()
    arches_native: tuple = ()
    arches_emulated: tuple = ()
    cross_toolchains: tuple = ()
    features: tuple = ()
    draining: bool = False
    load1: Optional[float] = None
    running_tasks: Optional[int] = None
    probed_at: Optional[float] = None

    def buildroot_free_mb(self, path: str = BUILDROOT_PATH) -> Optional[int]:
        """Free MiB where buildroots live: ``path`` if published, else the smallest entry."""
        if path in self.disk_free_mb:
            return self.disk_free_mb[path]
        if self.disk_free_mb:
            return min(self.disk_free_mb.values())
        return None


def to_host_data(host: HostData) -> dict:
    """The JSON-ready ``"discomy"`` sub-dict for ``host.updateHost``; unknowns are left out."""
    out: dict = {"version": HOSTDATA_VERSION, "draining": bool(host.draining)}
    for name in ("cpus", "memory_mb", "memory_available_mb", "speed", "load1",
                 "running_tasks", "probed_at"):
        value = getattr(host, name)
        if value is not None:
            out[name] = value
    if host.disk_free_mb:
        out["disk_free_mb"] = {str(k): int(v) for k, v in host.disk_free_mb.items()}
    for name in ("virt", "arches_native", "arches_emulated", "cross_toolchains", "features"):
        value = getattr(host, name)
        if value:
            out[name] = sorted(set(value))
    return out


def merge_host_data(koji_data: Optional[Mapping[str, Any]], host: HostData) -> dict:
    """Koji's host-data dict with Discomy's key added; koji's own keys are kept as they are."""
    merged = dict(koji_data or {})
    merged[HOSTDATA_KEY] = to_host_data(host)
    return merged


def _number(value: Any, kind: type, minimum: float = 0) -> Optional[Any]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value < minimum:
        return None
    return kind(value)


def _strings(value: Any) -> tuple:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(sorted({v for v in value if isinstance(v, str) and v}))
    return ()


def from_host_data(data: Optional[Mapping[str, Any]]) -> tuple[HostData, list[str]]:
    """Read a host's scheduler data leniently.

    Returns the parsed :class:`HostData` and a list of warnings. Unknown keys and
    ill-typed values are ignored (reported as warnings); a host without Discomy's
    key yields an all-unknown ``HostData``, which placement treats like stock koji.
    """
    warnings: list[str] = []
    if not data or not isinstance(data, Mapping):
        return HostData(), warnings
    raw = data.get(HOSTDATA_KEY)
    if raw is None:
        return HostData(), warnings
    if not isinstance(raw, Mapping):
        return HostData(), [f"host data key {HOSTDATA_KEY!r} is not a mapping; ignored"]
    known = {f for f in HostData.__dataclass_fields__} | {"version"}
    for key in sorted(set(raw) - known):
        warnings.append(f"unknown host data key {key!r} ignored")

    def num(name: str, kind: type, minimum: float = 0):
        if name not in raw:
            return None
        value = _number(raw[name], kind, minimum)
        if value is None:
            warnings.append(f"host data {name}={raw[name]!r} is not a valid number; treated as unknown")
        return value

    disk: dict = {}
    raw_disk = raw.get("disk_free_mb")
    if isinstance(raw_disk, Mapping):
        for path, value in raw_disk.items():
            parsed = _number(value, int)
            if parsed is None:
                warnings.append(f"host data disk_free_mb[{path!r}]={value!r} is not a valid number")
            else:
                disk[str(path)] = parsed
    elif raw_disk is not None:
        warnings.append("host data disk_free_mb is not a mapping; treated as unknown")

    speed = num("speed", float)
    if speed == 0:
        warnings.append("host data speed=0 treated as unknown")
        speed = None
    host = HostData(
        cpus=num("cpus", int, 1),
        memory_mb=num("memory_mb", int),
        memory_available_mb=num("memory_available_mb", int),
        disk_free_mb=disk,
        speed=speed,
        virt=_strings(raw.get("virt")),
        arches_native=_strings(raw.get("arches_native")),
        arches_emulated=_strings(raw.get("arches_emulated")),
        cross_toolchains=_strings(raw.get("cross_toolchains")),
        features=_strings(raw.get("features")),
        draining=raw.get("draining") is True,
        load1=num("load1", float),
        running_tasks=num("running_tasks", int),
        probed_at=num("probed_at", float),
    )
    return host, warnings
