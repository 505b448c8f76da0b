"""What a rebuild would do, before anything is recorded (shell): the plan of what
a change affects, and how long it takes on a fleet.

``discomy rebuild --dry-run`` and the REST API's campaign preview both call
:func:`make_preview` and show :func:`preview_json`, so the two never disagree.
The fleet is a fleet file's (read by the caller) or koji's: its enabled hosts
with the host data their builders publish (:func:`koji_hosts`, the same rows
the API's fleet view shows) and, on a hub that runs discomy_hub, the hub's own
scheduler settings (``discomy.schedulerSettings``). When neither is at hand the ETA
is left out and the preview says why.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from discomy.common.units import count

log = logging.getLogger(__name__)


class NoKojiFleet(Exception):
    """Koji's hosts could not be read: the sentence says why."""


@dataclass(frozen=True)
class Preview:
    plan: object                    # discomy.planning.planner.Plan
    eta: Optional[dict]             # the simulated run on the fleet, or None
    eta_unavailable: Optional[str]  # why there is no ETA


def koji_hosts(session, enabled: Optional[bool] = True) -> tuple:
    """``(listHosts rows, scheduler.getHostData rows)``; a hub before koji 1.34 has no
    scheduler data (an empty list then). Koji's faults and network errors go up."""
    import koji

    hosts = session.listHosts(enabled=enabled) if enabled is not None else session.listHosts()
    try:
        data = session.scheduler.getHostData()
    except koji.GenericError:
        data = []
    return hosts or [], data or []


def koji_fleet(session, target: str) -> tuple:
    """``(fleet, arches of the target's build tag, whether the hub runs discomy_hub)``
    from koji's enabled hosts; :class:`NoKojiFleet` when koji cannot be asked or knows
    no usable host."""
    import koji

    from discomy.orchestration.backends import HubUnavailable
    from discomy.orchestration.backends.koji import NETWORK_FAULTS, KojiBackendError
    from discomy.planning.fleet import fleet_from_koji_hosts, koji_settings_from_hub

    try:
        session = session()
        hosts, data = koji_hosts(session)
        try:        # the hub plugin answers its own calls
            plugin = "discomy.hostCapabilities" in (session.system.listMethods() or [])
        except koji.GenericError:
            plugin = False
        info = session.getBuildTarget(target) if target else None
        arches = ((session.getBuildConfig(info["build_tag_name"]) or {}).get("arches") or "") \
            .split() if info else []
        settings = None
        if plugin:
            try:    # the hub's own RunInterval, MaxJobs, ... (a plugin older than the call: none)
                settings = session.discomy.schedulerSettings()
            except koji.GenericError:
                pass
    except (KojiBackendError, HubUnavailable, koji.GenericError) + NETWORK_FAULTS as exc:
        raise NoKojiFleet(f"koji's hosts are unknown ({exc})") from None
    fleet, warnings = fleet_from_koji_hosts(hosts, data)
    for warning in warnings:
        log.warning("koji host %s", warning)
    if settings is not None:
        koji_settings, warnings = koji_settings_from_hub(settings)
        fleet = dataclasses.replace(fleet, koji=koji_settings)
        for warning in warnings:
            log.warning("koji hub: %s", warning)
    return fleet, tuple(arches), plugin


def estimate(plan, backend: str, target: str, fleet=None, fleet_name: str = "",
             session: Optional[Callable] = None, hint: str = "pass --fleet FLEET.yaml",
             config: Optional[dict] = None) -> tuple:
    """``(eta, why not)``: the simulated makespan of ``plan`` on ``fleet`` (a
    :class:`discomy.planning.fleet.Fleet` named ``fleet_name``) or, for koji, on the
    enabled hosts ``session()`` reads; ``hint`` says what to give when there is none.
    The run is what the campaign deploys: ``config``'s caps, priorities and poll (the
    defaults without one), with the ``discomy`` policy on a fleet file or a hub with
    discomy_hub, ``discomy-stock-hub`` on a stock hub."""
    from discomy.planning.fleet import FleetError
    from discomy.planning.simulator import SimConfig, simulate, workload_from_plan

    arches: tuple = ()
    plugin = True          # a fleet given: as if the hub had the plugin
    if fleet is not None:
        where = f"{fleet_name} ({count(fleet.host_count, 'host')})"
    elif backend == "koji" and session is not None:
        try:
            fleet, arches, plugin = koji_fleet(session, target)
        except (NoKojiFleet, FleetError) as exc:
            return None, f"{exc}; {hint}"
        where = f"koji's fleet ({count(fleet.host_count, 'enabled host')})"
    else:
        return None, f"no fleet for local builds: {hint}"
    arches = tuple(a for a in arches if a in fleet.arches)
    settings = fleet.koji.sim_settings()
    if config is not None:
        c = config["campaign"]
        settings.update(max_in_flight=min(c["max_in_flight"], c["max_in_flight_global"]),
                        poll_seconds=config["koji"]["poll_seconds"],
                        priority_high=c["priority_high"], priority_low=c["priority_low"])
    try:
        result_config = SimConfig(arches=arches, **settings)
        result = simulate(workload_from_plan(plan), fleet,
                          "discomy" if plugin else "discomy-stock-hub", result_config)
    except ValueError as exc:
        return None, str(exc)
    return {**result.to_dict(), "fleet": where, "koji": result_config.koji_conf()}, None


def make_preview(repos: Sequence, names: Sequence[str], depth: str, cache_dir: Path,
                 backend: str, target: str, fleet=None, fleet_name: str = "",
                 session: Optional[Callable] = None,
                 hint: str = "pass --fleet FLEET.yaml",
                 module_streams: Sequence[str] = (),
                 config: Optional[dict] = None) -> Preview:
    """The plan of what ``names`` affects over ``repos``, with its ETA (see
    :func:`estimate`). :class:`discomy.planning.planner.PlanError` and
    :class:`discomy.planning.repodata.RepodataError` go up."""
    from discomy.planning.planner import make_plan
    from discomy.planning.repodata import load_graph

    plan = make_plan(load_graph(repos, depth=depth, cache_dir=cache_dir,
                                module_streams=module_streams), names)
    eta, why = estimate(plan, backend, target, fleet, fleet_name, session, hint, config)
    return Preview(plan, eta, why)


def preview_json(preview: Preview) -> dict:
    """The preview as one JSON object (what ``discomy rebuild --dry-run --json`` prints)."""
    plan = preview.plan
    return {
        "changed": list(plan.changed), "affected": len(plan.affected),
        "tiers": [list(t) for t in plan.tiers], "cycles": [list(c) for c in plan.cycles],
        "compute_hours": round(plan.total_seconds / 3600, 2),
        "critical_path_hours": round(plan.critical_path_seconds / 3600, 2),
        "eta": preview.eta, "eta_unavailable": preview.eta_unavailable}
