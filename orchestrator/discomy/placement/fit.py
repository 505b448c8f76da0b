"""Does a host meet a task's hard constraints, and how does Discomy rank it?

Pure. :func:`fits` checks memory, disk, cpus, virtualization and features; a
value the host has not published is *unknown*, not a violation. The same
verdict decides on both sides: the hub's pass (:mod:`discomy.placement.schedule`)
and the builder's refusal (:func:`refusal_reason`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from discomy.common.units import format_size_mb
from discomy.placement.config import PlacementConfig
from discomy.placement.hostdata import HostData
from discomy.placement.hosts import HostCapabilities
from discomy.placement.requirements import TaskRequirements


@dataclass(frozen=True)
class Fit:
    """Hard-constraint verdict. ``reasons`` name violations (``ok`` false) or unknowns."""

    ok: bool
    reasons: tuple = ()
    unknown: int = 0


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


def effective_speed(host: HostCapabilities) -> float:
    return host.speed if host.speed is not None else 1.0


# koji tasks that mostly wait for their subtasks (builder/kojid, koji/tasks.py): they
# hold a maxjobs slot for the whole tree but do next to no work themselves
WAITING_METHODS = frozenset({"build", "chainbuild", "maven", "chainmaven", "wrapperRPM",
                             "newRepo", "distRepo", "waitrepo", "image", "livecd",
                             "appliance", "livemedia", "indirectionimage"})


def preference(host: HostCapabilities, req: TaskRequirements, fit: Fit,
               power_waiting: bool, config: PlacementConfig, method: str = "") -> tuple:
    """Discomy's sort key in front of koji's rank; all equal when there is no Discomy data.

    Power jobs take the fastest fitting host. Other work also goes to the fastest host
    with room (off strong hosts while a power job waits), so the tasks koji's order puts
    first (the orchestrator gives the longest chains the most urgent priority) run
    fastest; a task that only waits for its subtasks takes the slowest, leaving the
    fast hosts' slots to work.
    """
    speed = effective_speed(host)
    if req.power:
        return (fit.unknown, 0, -speed)
    keep_off = 1 if power_waiting and is_strong(host, config) else 0
    return (fit.unknown, keep_off, speed if method in WAITING_METHODS else -speed)


def refusal_reason(host: HostCapabilities, req: TaskRequirements,
                   unknown_fits: bool = True) -> Optional[str]:
    """Why ``host`` must not take a task needing ``req`` (None: it may).

    The pass's fit test (an unknown value counts against the host only with
    ``unknown_fits`` off) as one sentence, for the builder's refusal: the hub
    answers it for a builder (``discomy.fitTask``) with the host in force and
    the task's requirements as the pass sees them.
    """
    verdict = fits(host, req)
    if verdict.ok and (unknown_fits or not verdict.unknown):
        return None
    return "; ".join(verdict.reasons) + (f" ({req.why})" if req.why else "")
