"""``/api/v1/campaigns``: list, start, preview, look at, resume and cancel campaigns.

Each write goes through the same functions as its command: a start is
``discomy rebuild --detach`` (:func:`discomy.orchestration.runner.start_campaign`,
recorded for the daemon to drive), a preview is ``discomy rebuild --dry-run``
(:mod:`discomy.orchestration.preview`), a resume ``discomy resume`` and a cancel
``discomy cancel`` (:mod:`discomy.orchestration.engine`). Reads are made of
grouped counts (:mod:`discomy.orchestration.progress`) and pages of nodes, so a
whole-distribution campaign is as quick to look at as a small one.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Path as PathParam, Query, Request

from discomy.orchestration import campaign as cm
from discomy.orchestration import progress
from discomy.web import schemas as s
from discomy.web.auth import WRITE, Principal, reader, writer
from discomy.web.context import ApiContext, context
from discomy.web.errors import ApiError, bad_request, conflict, not_found, unavailable

log = logging.getLogger(__name__)

PREFIX = "/api/v1/campaigns"
router = APIRouter(prefix=PREFIX, tags=["campaigns"])

Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=2 ** 31 - 1, description="items to skip")]
# the store's ids are 32-bit integers on PostgreSQL
Id = Annotated[int, PathParam(ge=1, le=2 ** 31 - 1, description="the campaign's number")]
FAILURES_SHOWN = 20
TALLIES_KEPT_SECONDS = 5.0      # bounds what a clock stepped back could leave stale
TALLIES_KEPT = 256              # campaigns


# -- views -------------------------------------------------------------------------------
def _summary(row, tallies: list, now: float) -> dict:
    counts = progress.state_counts(tallies)
    total = counts["total"]
    return {
        "id": row.id, "state": row.state, "changed": row.changed.split(",") if row.changed
        else [], "backend": row.backend, "release": row.release, "mode": row.mode or "",
        "target": row.target or "", "created_at": row.created_at, "note": row.note or "",
        "counts": counts, "progress": round(counts[cm.DONE] / total, 4) if total else 1.0,
        "eta": progress.eta(tallies, row.state, row.created_at).to_dict(now),
        "url": f"{PREFIX}/{row.id}",
    }


def _next(request: Request, offset: int, limit: int, total: int,
          after: Optional[str] = None) -> Optional[str]:
    """The next page's path: by ``after`` (the last node shown) where it is given, as it
    is found in an index however deep; else by offset. None on the last page."""
    query = dict(request.query_params)
    if after is not None:
        query.pop("offset", None)
        query["after"] = after
    elif offset + limit < total:
        query["offset"] = str(offset + limit)
    else:
        return None
    return f"{request.url.path}?{urlencode(query)}"


def _tallies(ctx: ApiContext, rows: list) -> dict:
    """``campaign id -> [Tally]`` by tier, for campaign rows read with their
    ``node_version``. Counting a whole-distribution campaign takes ~15 ms, so the
    counts are kept until a node of the campaign changes (its node version moves), and
    a few seconds at most. One reader counts again; the others meanwhile take the
    counts it is replacing, a moment old, rather than queue behind it."""
    cache = ctx.caches.setdefault("tallies", {})
    lock = ctx.caches.setdefault("tallies lock", threading.Lock())
    now = time.monotonic()
    out, missing = {}, []
    for row in rows:
        campaign_id, version = row.id, row.node_version
        held = cache.get(campaign_id)
        if held and held[0] == version and now - held[1] < TALLIES_KEPT_SECONDS:
            out[campaign_id] = held[2]
        else:
            missing.append((campaign_id, version))
    if not missing:
        return out
    if not lock.acquire(blocking=False):
        last = {i: cache.get(i) for i, _ in missing}
        if all(last.values()):
            return {**out, **{i: held[2] for i, held in last.items()}}
        lock.acquire()
    try:
        fresh = ctx.store.tallies([i for i, _ in missing], by_tier=True)
        for campaign_id, version in missing:
            cache[campaign_id] = (version, now, fresh[campaign_id])
            out[campaign_id] = fresh[campaign_id]
        while len(cache) > TALLIES_KEPT:
            cache.pop(next(iter(cache)))
    finally:
        lock.release()
    return out


def _matching(tallies: list, state=None, tier=None, failure_class=None) -> int:
    return sum(t.count for t in tallies if (state is None or t.state == state)
               and (tier is None or t.tier == tier)
               and (failure_class is None or t.failure_class == failure_class))


def _row(ctx: ApiContext, campaign_id: int):
    row = ctx.store.campaign_view(campaign_id)
    if row is None:
        raise not_found(f"no campaign {campaign_id}")
    return row


# -- reads -------------------------------------------------------------------------------
@router.get("", response_model=s.CampaignPage, summary="List campaigns, newest first")
def list_campaigns(request: Request, limit: Limit = 50, offset: Offset = 0,
                   state: Optional[s.CampaignState] = None,
                   backend: Optional[s.Backend] = None,
                   target: Annotated[Optional[s.Tag], Query()] = None,
                   package: Annotated[Optional[s.Name], Query(
                       description="campaigns started by a change of this package")] = None,
                   ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
    rows, total = ctx.store.campaign_page(limit, offset, state=state, backend=backend,
                                          target=target, package=package)
    tallies = _tallies(ctx, rows)
    now = time.time()
    return {"total": total, "limit": limit, "offset": offset,
            "items": [_summary(r, tallies[r.id], now) for r in rows],
            "next": _next(request, offset, limit, total)}


@router.get("/{campaign_id}", response_model=s.CampaignDetail,
            summary="A campaign: counts per state and tier, failures, ETA")
def get_campaign(campaign_id: Id, ctx: ApiContext = Depends(context),
                 who: Principal = Depends(reader)):
    row = _row(ctx, campaign_id)
    tallies = _tallies(ctx, [row])[campaign_id]
    failed, _ = ctx.store.node_page(campaign_id, FAILURES_SHOWN, state=cm.FAILED, count=False)
    counts = progress.state_counts(tallies)
    return {**_summary(row, tallies, time.time()),
            "dest_tag": row.dest_tag, "sidetag": row.sidetag, "merged": bool(row.merged),
            "tiers": progress.tier_counts(tallies),
            "failures": {"total": counts[cm.FAILED],
                         "by_class": progress.failure_counts(tallies), "first": failed},
            "nodes_url": f"{PREFIX}/{campaign_id}/nodes"}


@router.get("/{campaign_id}/nodes", response_model=s.NodePage,
            summary="A campaign's nodes, in tier and name order")
def list_nodes(request: Request, campaign_id: Id, limit: Limit = 100, offset: Offset = 0,
               state: Optional[s.NodeState] = None,
               tier: Annotated[Optional[int], Query(ge=0, le=2 ** 31 - 1)] = None,
               name: Annotated[Optional[s.Name], Query(description="a name prefix")] = None,
               failure_class: Optional[s.FailureClass] = None,
               after: Annotated[Optional[s.Name], Query(
                   description="start past this node (the next link gives it)")] = None,
               ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
    row = _row(ctx, campaign_id)
    # the total is in the kept counts, unless a name prefix narrows the nodes
    try:
        items, total = ctx.store.node_page(campaign_id, limit, offset, state=state,
                                           tier=tier, name=name, failure_class=failure_class,
                                           after=after, count=name is not None)
    except KeyError as exc:
        raise bad_request(f"after: {str(exc).strip(chr(39))}") from None
    if total is None:
        total = _matching(_tallies(ctx, [row])[campaign_id], state, tier, failure_class)
    last = items[-1]["name"] if len(items) == limit else None
    return {"total": total, "limit": limit, "offset": offset, "items": items,
            "next": _next(request, offset, limit, total, last)}


@router.get("/{campaign_id}/nodes/{name}", response_model=s.NodeDetail,
            summary="One node, with what it waits for and what waits for it")
def get_node(campaign_id: Id, name: Annotated[s.Name, PathParam()],
             ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
    _row(ctx, campaign_id)
    found = ctx.store.node_links(campaign_id, name)
    if found is None:
        raise not_found(f"{name} is not part of campaign {campaign_id}")
    node, deps, dependents = found
    return {**node, "deps": deps, "dependents": dependents}


@router.get("/{campaign_id}/nodes/{name}/explain", response_model=s.NodeExplanation,
            summary="Why a node waits, with what koji says of its task and its load",
            responses={404: {"model": s.ErrorBody}})
def explain_node(campaign_id: Id, name: Annotated[s.Name, PathParam()],
                 ctx: ApiContext = Depends(context), who: Principal = Depends(reader)):
    """Asks koji (once per call, within ``[api] koji_timeout_seconds``) for an unsettled
    node of a koji campaign: the task's state, the hub's ``discomy.explainTask`` for a
    task not yet running, koji's load. Koji unreachable is said in ``koji.problem``."""
    from discomy.web import explain

    row = _row(ctx, campaign_id)
    found = ctx.store.nodes_named(campaign_id, [name]).get(name)
    if found is None:
        raise not_found(f"{name} is not part of campaign {campaign_id}")
    return {"name": found["name"], "state": found["state"], "task": found.get("task") or None,
            "why": explain.why(ctx, row, found, _tallies(ctx, [row])[campaign_id]),
            "koji": explain.look_for(ctx, row, found)}


# -- planning: a start and a preview both make a plan ---------------------------------------
class _Planning:
    """One of ``[api] planning_slots``: a plan of the whole distribution takes seconds
    of CPU, so the rest wait for none and are told to come back."""

    def __init__(self, ctx: ApiContext):
        self.ctx = ctx

    def __enter__(self):
        if not self.ctx.planning.acquire(blocking=False):
            if self.ctx.metrics:
                self.ctx.metrics.planning_refused.inc()
            raise ApiError(429, "every planning slot is busy; try again shortly",
                           {"Retry-After": "5"})

    def __exit__(self, *exc):
        self.ctx.planning.release()


def _options(ctx: ApiContext, backend, release=None, depth=None, target=None, mode=None):
    from discomy.orchestration.runner import OptionError, campaign_options, plan_repos

    try:
        options = campaign_options(ctx.config, backend, release, depth, target, mode)
    except OptionError as exc:
        raise bad_request(exc.worded(lambda option: repr(option))) from None
    repos = plan_repos(ctx.config, options.backend)
    if not repos:
        raise unavailable("no repositories to plan from: the orchestrator config sets none "
                          "([plan] repos)", retry_after=3600)
    return options, repos


def _planning_errors(exc: Exception) -> ApiError:
    from discomy.planning.planner import PlanError

    if isinstance(exc, PlanError):
        return bad_request(str(exc))
    # the repositories are the server's: unreadable now, maybe not later (a sync, a mount)
    return unavailable(f"the repositories cannot be read: {exc}")


@router.post("/preview", response_model=s.Preview,
             summary="What a campaign would rebuild, and its ETA (discomy rebuild --dry-run)",
             responses={429: {"model": s.ErrorBody}, 503: {"model": s.ErrorBody}})
def preview(request: s.PreviewRequest, ctx: ApiContext = Depends(context),
            who: Principal = Depends(reader)):
    from discomy.orchestration.preview import make_preview, preview_json
    from discomy.planning.fleet import FleetError, fleet_from_data
    from discomy.planning.planner import PlanError
    from discomy.planning.repodata import RepodataError

    options, repos = _options(ctx, request.backend, depth=request.depth, target=request.target)
    fleet = None
    if request.fleet is not None:
        try:
            fleet = fleet_from_data([g.model_dump(exclude_none=True) for g in request.fleet],
                                    "fleet")
        except FleetError as exc:
            raise bad_request(str(exc)) from None
    with _Planning(ctx):
        try:
            found = make_preview(repos, request.names, options.depth,
                                 Path(ctx.config["plan"]["cache_dir"]), options.backend,
                                 options.target, fleet=fleet, fleet_name="the fleet given",
                                 session=ctx.koji_session, hint="give a fleet",
                                 module_streams=ctx.config["plan"]["module_streams"],
                                 config=ctx.config)
        except (PlanError, RepodataError) as exc:
            raise _planning_errors(exc) from None
    return preview_json(found)


# -- writes ------------------------------------------------------------------------------
@router.post("", response_model=s.CampaignSummary, status_code=201, openapi_extra=WRITE,
             summary="Start a campaign (discomy rebuild --detach); the daemon drives it",
             responses={409: {"model": s.ErrorBody}, 429: {"model": s.ErrorBody},
                        503: {"model": s.ErrorBody}})
def start(request: s.StartRequest, ctx: ApiContext = Depends(context),
          who: Principal = Depends(writer)):
    from discomy.orchestration.runner import live_conflict, start_campaign
    from discomy.planning.planner import PlanError
    from discomy.planning.repodata import RepodataError

    options, repos = _options(ctx, request.backend, request.release, request.depth,
                              request.target, request.mode)
    names = list(dict.fromkeys(request.names))
    with _Planning(ctx), ctx.write_lock:
        found = live_conflict(ctx.store, names, options.target)
        if found:
            live, name = found
            raise conflict(f"campaign {live} is already rebuilding after {name} for "
                           f"{options.target}; follow it at {PREFIX}/{live}")
        try:
            campaign_id = start_campaign(
                ctx.store, repos, names, options.release, backend=options.backend,
                target=options.target, mode=options.mode, depth=options.depth,
                cache_dir=Path(ctx.config["plan"]["cache_dir"]),
                workdir=Path(ctx.config["campaign"]["workdir"]),
                module_streams=ctx.config["plan"]["module_streams"])
        except (PlanError, RepodataError) as exc:
            raise _planning_errors(exc) from None
    log.info("campaign %s: started for %s by %s", campaign_id, ", ".join(names), who)
    ctx.wake(campaign_id)
    row = ctx.store.campaign_view(campaign_id)
    return _summary(row, _tallies(ctx, [row])[campaign_id], time.time())


@router.patch("/{campaign_id}", response_model=s.ChangeResult, openapi_extra=WRITE,
              summary="Resume (state running) or cancel (state cancelled) a campaign",
              responses={409: {"model": s.ErrorBody}, 503: {"model": s.ErrorBody}})
def change(campaign_id: Id, request: Annotated[s.CampaignChange, Body()],
           ctx: ApiContext = Depends(context), who: Principal = Depends(writer)):
    row = _row(ctx, campaign_id)
    if request.state == cm.CANCELLED:
        return _cancel(ctx, row, request.kill, who)
    return _resume(ctx, row, request.fixed, who)


def _resume(ctx: ApiContext, row, fixed: Optional[str], who: Principal) -> dict:
    from discomy.orchestration.engine import REBUILD, REQUEUED, resume_campaign
    from discomy.orchestration.runner import backend_for

    backend = None

    def local_backend():
        nonlocal backend
        # the recorded sources and workdir
        backend = backend_for(ctx.store.campaign(row.id), ctx.config)
        return backend

    with ctx.write_lock:
        try:
            how, names = resume_campaign(ctx.store, row.id, fixed, local_backend)
        except ValueError as exc:
            raise conflict(str(exc)) from None
    ctx.wake(row.id)
    if how == REQUEUED:
        message = f"campaign {row.id}: running again, {len(names)} failed nodes built again"
    elif how == REBUILD:
        message = f"campaign {row.id}: {fixed} is built again from {backend.srpms[fixed]}"
    else:
        message = f"campaign {row.id}: the fixed {fixed} counts as built; its dependents go on"
    log.info("%s (by %s)", message, who)
    return {"campaign": row.id, "state": ctx.store.campaign_view(row.id).state, "action": how,
            "nodes": names, "builds_running": 0, "tasks_cancelled": 0, "message": message}


def _cancel(ctx: ApiContext, row, kill: bool, who: Principal) -> dict:
    from discomy.orchestration.engine import cancel_campaign

    with ctx.write_lock:
        try:
            running = cancel_campaign(ctx.store, row.id)
        except ValueError as exc:
            raise conflict(str(exc)) from None
    log.info("campaign %s: cancelled by %s", row.id, who)
    cancelled = 0
    if kill and running and row.backend == "koji":
        cancelled = _kill(ctx, row, running)
    message = (f"campaign {row.id}: cancelled, {cancelled} koji tasks cancelled" if cancelled
               else f"campaign {row.id}: cancelled ({len(running)} builds already running "
                    f"finish; nothing more is submitted)")
    return {"campaign": row.id, "state": cm.CANCELLED, "action": "cancelled",
            "nodes": sorted(running), "builds_running": len(running) - cancelled,
            "tasks_cancelled": cancelled, "message": message}


def _kill(ctx: ApiContext, row, running: dict) -> int:
    import koji

    from discomy.orchestration.backends import BackendError, HubUnavailable
    from discomy.orchestration.backends.koji import NETWORK_FAULTS
    from discomy.orchestration.runner import backend_for

    try:
        backend = backend_for(ctx.store.campaign(row.id), ctx.config, ctx.koji_session)
        for task in running.values():
            backend.cancel(task)
    except (HubUnavailable, BackendError, koji.GenericError) + NETWORK_FAULTS as exc:
        raise unavailable(f"campaign {row.id} is cancelled, but its koji tasks are not: "
                          f"{exc}") from None
    return len(running)
