"""Why a task goes where it goes, or waits: per-host verdicts and JSON views.

Pure. :func:`explain` replays the next pass for one task
(``koji explain-task``); :func:`host_summary` and :func:`requirements_summary`
are what the hub's ``discomy.*`` calls return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from discomy.placement import constraints as cons
from discomy.placement.config import PlacementConfig
from discomy.placement.drain import drain_sources
from discomy.placement.fit import is_strong
from discomy.placement.hosts import HostCapabilities
from discomy.placement.requirements import TaskRequirements
from discomy.placement.schedule import (
    ActiveTask,
    FitCache,
    FreeTask,
    exclusion,
    fitting_speeds,
    host_bins,
    min_available,
    pass_state,
    power_floor,
    reservations,
    slow_reason,
    speed_floor,
    weak_reason,
)


@dataclass(frozen=True)
class HostVerdict:
    host_id: int
    name: str
    eligible: bool
    reasons: tuple


def explain(task: FreeTask, active_tasks: Sequence[ActiveTask],
            hosts: Sequence[HostCapabilities], refusals: Mapping[int, Any],
            config: PlacementConfig, now: float,
            other_free: Sequence[FreeTask] = ()) -> list:
    """Per-host verdicts for ``task`` as the next pass would see it (before it assigns anything)."""
    p = pass_state(hosts, active_tasks, config)
    bins = host_bins(hosts)
    everyone = list(other_free) if any(t.task_id == task.task_id for t in other_free) \
        else [task, *other_free]
    fit_of = FitCache(hosts)
    reserved = reservations(everyone, p, bins, refusals, config, now, fit_of)
    in_bin = set(bins.get((task.channel_id, task.arch), ()))
    refused = refusals.get(task.task_id, ())
    min_avail = min_available(task.weight, config)
    floor = power_floor(p, sorted(in_bin), task, fit_of, config)
    slowest = speed_floor(fitting_speeds(p, sorted(in_bin), task, fit_of, config), task, config)
    verdicts = []
    for i, host in enumerate(hosts):
        if i not in in_bin:
            why = (f"{host.name}: not in channel {task.channel_id} "
                   f"with arch {task.arch}")
            verdicts.append(HostVerdict(host.host_id, host.name, False, (why,)))
            continue
        why = exclusion(p, i, task, min_avail, refused, reserved, fit_of, config.unknown_fits) \
            or weak_reason(p, i, floor, config) or slow_reason(p, i, slowest, task, config)
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
