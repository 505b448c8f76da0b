"""``/api/v1/hosts``: koji's builders with what they publish, read-only.

Koji's ``listHosts`` rows and ``scheduler.getHostData`` (koji 1.34+) are read in
one look, converted by the placement core (:class:`HostCapabilities`,
:func:`host_summary`, the same view as the hub's ``discomy.hostCapabilities``)
and grouped by the estimator's fleet reader
(:func:`discomy.planning.fleet.fleet_from_koji_hosts`). The look is kept for
``[api] hosts_cache_seconds``, one at a time, so many readers cost koji one
call a period. A koji that does not answer is a 503, one that refuses a 502.

When the hub runs the Discomy plugin, its own view is read in the same look:
``discomy.hostCapabilities`` (enabled hosts: the hub's drain, running tasks,
claimed, learned and in-force values) and ``discomy.getDrainState`` for the
disabled hosts (:data:`DISABLED_ASKED` at most), so a host drained from the
dashboard shows at once. A hub without the plugin gives what ``listHosts``
says, and ``drained`` is None.
"""

from __future__ import annotations

import threading
import time
from typing import Optional

from fastapi import APIRouter, Depends

from discomy.web import schemas as s
from discomy.web.auth import Principal, reader
from discomy.web.context import ApiContext, context
from discomy.web.errors import ApiError, unavailable

router = APIRouter(prefix="/api/v1/hosts", tags=["hosts"])
_fetching = threading.Lock()
DISABLED_ASKED = 100      # disabled hosts whose drain is asked of the hub, per look


@router.get("", response_model=s.Hosts, summary="Koji's hosts with their Discomy host data",
            responses={502: {"model": s.ErrorBody}, 503: {"model": s.ErrorBody}})
def list_hosts(enabled: Optional[bool] = None, ctx: ApiContext = Depends(context),
               who: Principal = Depends(reader)):
    view = _cached(ctx)
    if enabled is None:
        return view
    return {**view, "hosts": [h for h in view["hosts"] if h["enabled"] == enabled]}


def _cached(ctx: ApiContext) -> dict:
    ttl = ctx.settings.hosts_cache_seconds
    with _fetching:
        held = ctx.caches.get("hosts")
        if held is not None and time.monotonic() - held[0] < ttl:
            return held[1]
        view = _look(ctx)
        ctx.caches["hosts"] = (time.monotonic(), view)
        return view


def _look(ctx: ApiContext) -> dict:
    import koji

    from discomy.orchestration.backends import HubUnavailable
    from discomy.orchestration.backends.koji import NETWORK_FAULTS, KojiBackendError
    from discomy.orchestration.preview import koji_hosts

    try:
        session = ctx.koji_session()
        rows, data = koji_hosts(session, enabled=None)
        hub, unread = hub_hosts(session, rows)
    except (KojiBackendError, HubUnavailable) + NETWORK_FAULTS as exc:
        raise unavailable(f"koji is unreachable: {_line(exc)}") from None
    except koji.GenericError as exc:
        raise ApiError(502, f"koji refused: {_line(exc)}") from None
    view = convert(rows, data, time.time(), hub)
    return {**view, "unread": view["unread"] + unread}


def plugin_missing(exc: BaseException) -> bool:
    """Whether a koji fault says the hub has no such call (no discomy_hub plugin)."""
    return "Invalid method" in str(exc)


def hub_hosts(session, rows: list) -> tuple:
    """``(host id -> the hub plugin's view of the host, what could not be read)``: the
    view has ``drained``, and for enabled hosts ``running_tasks``, ``claimed``,
    ``learned``, ``speed_source`` and the ``speed`` in force; it is None when the hub
    does not run discomy_hub, or its plugin refuses (then said in the second item:
    the fleet is still what ``listHosts`` says)."""
    import koji

    try:
        found = session.discomy.hostCapabilities()
    except koji.GenericError as exc:
        if plugin_missing(exc):
            return None, []
        return None, [f"the hub's discomy.hostCapabilities refused: {_line(exc)}"]
    out = {h["id"]: h for h in found or () if isinstance(h, dict) and isinstance(h.get("id"), int)}
    others = [r["id"] for r in rows if isinstance(r, dict) and isinstance(r.get("id"), int)
              and r["id"] not in out][:DISABLED_ASKED]
    if others:
        with session.multicall(strict=False) as m:
            calls = [m.discomy.getDrainState(i) for i in others]
        for i, call in zip(others, calls):
            try:
                state = call.result
            except koji.GenericError:       # a host gone between the two calls
                continue
            if isinstance(state, dict):
                out[i] = {"id": i, "drained": bool(state.get("drained"))}
    return out, []


def convert(rows: list, host_data: list, fetched_at: float, hub: Optional[dict] = None) -> dict:
    """The fleet view of koji's rows: each host as the placement core sees it, and the
    enabled ones grouped as the estimator does; ``hub`` is :func:`hub_hosts`' answer
    (None: the hub does not run discomy_hub)."""
    from discomy.placement.explain import host_summary
    from discomy.placement.hosts import HostCapabilities
    from discomy.planning.fleet import FleetError, fleet_from_koji_hosts

    by_id = {d.get("host_id"): d.get("data") for d in host_data if isinstance(d, dict)}
    hosts, unread = [], []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("id"), int):
            unread.append(f"a host row without an id: {str(row)[:100]}")
            continue
        try:
            host, warnings = HostCapabilities.from_koji({**row, "data": by_id.get(row["id"])})
        except (TypeError, ValueError) as exc:     # koji's rows are outside input too
            unread.append(f"host {row['id']}: {exc}")
            continue
        view = host_summary(host)
        for key in ("channels", "running_tasks", "drained", "drain"):
            view.pop(key)         # listHosts does not say; the hub plugin does
        said = (hub or {}).get(row["id"]) or {}
        view.update(drained=bool(said["drained"]) if "drained" in said else None,
                    running_tasks=said.get("running_tasks"),
                    claimed=said.get("claimed"), learned=said.get("learned"),
                    speed_source=said.get("speed_source"))
        if isinstance(said.get("speed"), (int, float)):
            view["speed"] = said["speed"]          # the speed in force on the hub
        hosts.append({**view, "enabled": bool(row.get("enabled", True)),
                      "comment": row.get("comment"), "warnings": warnings})
    hosts.sort(key=lambda h: h["name"])
    try:
        fleet, _ = fleet_from_koji_hosts([r for r in rows if isinstance(r, dict)], host_data)
        grouped, why = {"hosts": fleet.host_count, "arches": list(fleet.arches),
                        "groups": [{"name": g.name, "count": g.count, "arches": list(g.arches),
                                    "speed": g.speed, "capacity": g.capacity,
                                    "maxjobs": g.maxjobs, "cpus": g.cpus,
                                    "memory_mb": g.memory_mb, "disk_mb": g.disk_mb}
                                   for g in fleet.groups]}, None
    except FleetError as exc:
        grouped, why = None, str(exc)
    return {"hosts": hosts, "fleet": grouped, "fleet_unavailable": why,
            "unread": unread, "fetched_at": fetched_at, "hub_plugin": hub is not None}


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
