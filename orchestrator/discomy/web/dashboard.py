"""The web dashboard: server-rendered pages at ``/`` over the same store and reads as
the REST API.

Pages (Jinja2, autoescaped; charts from :mod:`discomy.web.charts`; one CSS and one
small script under ``/static``): the campaigns and module builds (``/``), a
campaign (``/campaigns/{id}``: its tiers, critical path, planned against actual
timeline, a page of its nodes with why each waits), the fleet (``/fleet``), the
failures by class (``/failures``) and the statistics (``/stats``). A page holds
at most a page of nodes, whatever the size of the campaign: tiers and states are
counted in groups (:mod:`discomy.orchestration.progress`).

Live updates come over server-sent events (``/events``, :mod:`discomy.web.live`).
Actions (cancel, resume) are forms that need a login (``/login``: an API token,
kept as a signed session cookie, or the trusted front end's user header) and a
CSRF token (:mod:`discomy.web.session`); they go through the same functions as
``PATCH /api/v1/campaigns/{id}``.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import time
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from markupsafe import Markup

from discomy.orchestration import campaign as cm
from discomy.orchestration import progress
from discomy.web import campaigns as api
from discomy.web import charts, explain, render, session, tokens, views
from discomy.web.auth import ANONYMOUS, Principal, principal
from discomy.web.errors import ApiError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
router = APIRouter(include_in_schema=False)
NODES_PER_PAGE = 50
CAMPAIGNS_PER_PAGE = 25
TIERS_SHOWN = 400
CRITICAL_SHOWN = 200
FAILURES_SHOWN = 200
TAILS_SHOWN = 50          # failures shown with the end of their log
TAIL_BYTES = 3000
MAX_ID = 2 ** 31 - 1
FAILURE_COLOURS = {cm.PACKAGE: "#c53030", cm.INFRASTRUCTURE: "#dd6b20"}
SECURITY_HEADERS = {
    # no inline script or style anywhere: an injected tag could not run
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """A page that cannot be shown: its status and one sentence."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# -- the dashboard's own state: templates, session secret, live hub -------------------------
class Dashboard:
    def __init__(self, ctx):
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        self.ctx = ctx
        self.secret = session.load_secret(ctx.config["api"].get("session_secret_file", ""))
        self.env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                               autoescape=select_autoescape(default=True, default_for_string=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters["duration"] = charts.duration
        self.env.filters["when"] = _when
        self.env.filters["pct"] = lambda v: f"{100 * float(v):.0f}%"
        self.critical: dict = {}        # campaign id -> [(name, tier)]: fixed by the plan
        self.kept: dict = {}            # (what, key) -> (version, value)
        from discomy.web.live import LiveHub

        self.live = LiveHub(ctx, self)


def install(app, ctx) -> None:
    """Mount the dashboard on ``app``: its pages, static files and error pages."""
    from fastapi.staticfiles import StaticFiles

    ctx.dashboard = Dashboard(ctx)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError):
        try:
            who = await run_in_threadpool(viewer, request)
        except PageError:           # the credential itself is what is wrong
            who = ANONYMOUS
        return _render(request, "error.html", {"status": exc.status, "message": exc.message},
                       status=exc.status, viewer=who)


def _ctx(request: Request):
    return request.app.state.context


def _when(epoch: Optional[float]) -> str:
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


# -- who is looking ------------------------------------------------------------------------------
def viewer(request: Request) -> Principal:
    """The principal of a page's request: a session cookie, else a token or the proxy
    header (:func:`discomy.web.auth.principal`); a wrong credential is a 401 page."""
    ctx = _ctx(request)
    found = session.read_cookie(ctx.dashboard.secret, request.cookies.get(session.COOKIE))
    if found is not None:
        token = ctx.store.token_by_digest(found.digest)
        if token is not None:
            return Principal(token[1], "session")
    try:
        return principal(request, ctx)
    except ApiError as exc:
        raise PageError(exc.status, exc.error) from None


def reading(request: Request) -> Principal:
    """A page's reader: anyone when ``[api] reads_public``, else someone logged in."""
    who = viewer(request)
    if who is ANONYMOUS and not _ctx(request).settings.reads_public:
        raise PageError(401, "this dashboard needs a login: see /login")
    return who


def csrf_token(request: Request, who: Principal) -> str:
    ctx = _ctx(request)
    if who.via == "session":
        found = session.read_cookie(ctx.dashboard.secret, request.cookies.get(session.COOKIE))
        return found.csrf if found else ""
    if who.via == "proxy":
        return session.proxy_csrf(ctx.dashboard.secret, who.name)
    return ""


async def acting(request: Request) -> Principal:
    """The principal of an action (a form POST): logged in, from a page of this server,
    with the form's CSRF token."""
    if not session.same_origin(request.headers.get("origin"), request.headers.get("referer"),
                               request.headers.get("host")):
        raise PageError(403, "this action must come from a page of this dashboard")
    who = await run_in_threadpool(viewer, request)
    if who is ANONYMOUS:
        raise PageError(401, "this action needs a login")
    form = await _form(request)
    expected = csrf_token(request, who)
    if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
        raise PageError(403, "the form's CSRF token is missing or wrong; reload the page")
    return who


async def _form(request: Request) -> dict:
    """A form's fields (``application/x-www-form-urlencoded``, the only kind the pages
    send); the body is bounded by ``[api] max_body_bytes``."""
    from urllib.parse import parse_qsl

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise PageError(415, "a form of this dashboard is sent as "
                             "application/x-www-form-urlencoded")
    try:
        text = (await request.body()).decode("utf-8")
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "the form cannot be read") from None


def _render(request: Request, template: str, data: dict, status: int = 200,
            viewer: Optional[Principal] = None) -> HTMLResponse:
    ctx = _ctx(request)
    who = viewer if viewer is not None else ANONYMOUS
    page = ctx.dashboard.env.get_template(template).render(
        **data, viewer=who, csrf=csrf_token(request, who) if who is not ANONYMOUS else "",
        path=request.url.path)
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def _whole(value: str) -> bool:
    """ASCII digits only, short enough to be an id (``"²".isdigit()`` is true)."""
    return value.isascii() and value.isdigit() and len(value) <= 12


def _campaign_id(value: str) -> int:
    if not _whole(value) or not 1 <= int(value) <= MAX_ID:
        raise PageError(404, f"no campaign {value[:40]}")
    return int(value)


def _campaign_row(ctx, value: str):
    """The campaign a page's path names, or its 404 page."""
    cid = _campaign_id(value)
    row = ctx.store.campaign_view(cid)
    if row is None:
        raise PageError(404, f"no campaign {cid}")
    return row


def _node(ctx, cid: int, name: str) -> dict:
    """The node of campaign ``cid`` named ``name`` (its columns), or its 404 page."""
    found = ctx.store.nodes_named(cid, [name]).get(name) if 0 < len(name) <= 255 else None
    if found is None:
        raise PageError(404, f"{name[:100]} is not part of campaign {cid}")
    return found


def _int_arg(request: Request, key: str, default: int, high: int = MAX_ID) -> int:
    value = request.query_params.get(key)
    if value is None or value == "":
        return default
    if not _whole(value) or int(value) > high:
        raise PageError(400, f"{key} must be a whole number from 0 to {high}")
    return int(value)


# -- pages ---------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def campaigns_page(request: Request):
    who = reading(request)
    ctx = _ctx(request)
    page = _int_arg(request, "page", 1) or 1
    state = request.query_params.get("state") or None
    if state is not None and state not in cm.CAMPAIGN_STATES:
        raise PageError(400, f"state must be one of {', '.join(cm.CAMPAIGN_STATES)}")
    rows, total = ctx.store.campaign_page(CAMPAIGNS_PER_PAGE, (page - 1) * CAMPAIGNS_PER_PAGE,
                                          state=state)
    tallies = api._tallies(ctx, rows)
    now = time.time()
    items = [render.summary(ctx, r, tallies[r.id], now) for r in rows]
    modules, modules_error = _module_builds(ctx)
    return _render(request, "campaigns.html", {
        "items": items, "total": total, "page": page, "state": state,
        "pages": max(1, -(-total // CAMPAIGNS_PER_PAGE)), "states": cm.CAMPAIGN_STATES,
        "modules": modules, "modules_error": modules_error, "live": True}, viewer=who)


def _module_builds(ctx) -> tuple:
    """The latest module builds with their components' progress, or why not."""
    try:
        from discomy.orchestration.modules.service import list_module_builds

        found = list_module_builds(ctx.store, page=1, per_page=10)
    except Exception as exc:       # module builds are a part of their own: never the page
        log.warning("dashboard: module builds not read: %s", exc)
        return [], f"module builds cannot be read: {str(exc).splitlines()[0][:200]}"
    out = []
    for m in found["items"]:
        grouped = views.groups(m["component_states"])
        out.append({**m, "groups": grouped, "bar": Markup(charts.progress_bar(grouped))})
    return out, None


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: str):
    who = reading(request)
    ctx = _ctx(request)
    row = _campaign_row(ctx, campaign_id)
    cid = row.id
    now = time.time()
    tallies = api._tallies(ctx, [row])[cid]
    summary = render.summary(ctx, row, tallies, now)
    filters = _node_filters(request)
    tiers = progress.tier_counts(tallies)
    critical = render.critical_path(ctx, cid)
    critical_names = {n["name"] for n in critical}
    critical_tiers = {n["tier"] for n in critical}
    tier_rows = []
    for t in tiers[:TIERS_SHOWN]:
        grouped = views.groups(t["counts"])
        tier_rows.append({**t, "groups": grouped, "bar": Markup(charts.progress_bar(grouped, 200)),
                          "critical": t["tier"] in critical_tiers})
    timeline = Markup(render.timeline_svg(ctx, row, tallies, critical_tiers, now))
    nodes, next_after = node_rows(ctx, row, filters, critical_names, now,
                                  views.first_unsettled_tier(tiers))
    failed = progress.failure_counts(tallies)
    return _render(request, "campaign.html", {
        "c": summary, "row": row, "tiers": tier_rows, "tiers_hidden": max(0, len(tiers) - TIERS_SHOWN),
        "critical": critical[:CRITICAL_SHOWN], "critical_hidden": max(0, len(critical) - CRITICAL_SHOWN),
        "critical_seconds": critical[0]["remaining_seconds"] if critical else 0.0,
        "timeline": timeline, "nodes": nodes, "filters": filters, "next_after": next_after,
        "node_states": cm.NODE_STATES, "failed": failed, "live": True, "campaign_id": cid,
        "version": row.node_version if row.node_version is not None else "",
        "can_cancel": row.state in (cm.RUNNING, cm.PAUSED),
        "can_resume": row.state in (cm.RUNNING, cm.PAUSED, cm.FAILED) and summary["counts"][cm.FAILED] > 0
        or row.state == cm.PAUSED,
        "matching": api._matching(tallies, filters["state"], filters["tier"])},
        viewer=who)


def _node_filters(request: Request) -> dict:
    state = request.query_params.get("state") or None
    if state is not None and state not in cm.NODE_STATES:
        raise PageError(400, f"state must be one of {', '.join(cm.NODE_STATES)}")
    tier = request.query_params.get("tier")
    tier = _int_arg(request, "tier", -1) if tier not in (None, "") else None
    after = request.query_params.get("after") or None
    if after is not None and (len(after) > 255 or not after.isprintable()):
        raise PageError(400, "after must be a node's name")
    return {"state": state, "tier": tier, "after": after}


def node_rows(ctx, row, filters: dict, critical: set, now: float, unsettled_tier=None) -> tuple:
    """A page of the campaign's nodes as the table shows them; the name to continue
    after (None on the last page)."""
    try:
        items, _ = ctx.store.node_page(row.id, NODES_PER_PAGE + 1, state=filters["state"],
                                       tier=filters["tier"], after=filters["after"],
                                       count=False)
    except KeyError as exc:
        raise PageError(400, str(exc).strip("'")) from None
    more = len(items) > NODES_PER_PAGE
    items = items[:NODES_PER_PAGE]
    return render.decorate(ctx, row, items, critical, now, unsettled_tier), \
        (items[-1]["name"] if more else None)


@router.get("/campaigns/{campaign_id}/nodes/{name:path}/explain", response_class=HTMLResponse)
def explain_page(request: Request, campaign_id: str, name: str):
    """Why a node waits, with what koji says: its task's state, the hub's explanation
    (``discomy.explainTask``) of a task not yet running and koji's load. Koji is asked
    here, once per look, never for a whole page of nodes."""
    who = reading(request)
    ctx = _ctx(request)
    row = _campaign_row(ctx, campaign_id)
    cid = row.id
    found = _node(ctx, cid, name)
    tiers = progress.tier_counts(api._tallies(ctx, [row])[cid])
    node = render.decorate(ctx, row, [found], set(), time.time(),
                           views.first_unsettled_tier(tiers))[0]
    look = explain.look_for(ctx, row, found)
    return _render(request, "explain.html", {"c": row, "n": node, "look": look}, viewer=who)


@router.get("/campaigns/{campaign_id}/log")
def node_log(request: Request, campaign_id: str):
    """A local build's log, as plain text: only a file under the campaign's work
    directory (or the configured work directories), never another path."""
    reading(request)
    ctx = _ctx(request)
    row = _campaign_row(ctx, campaign_id)
    cid = row.id
    name = request.query_params.get("node", "")
    found = _node(ctx, cid, name)
    return log_file(ctx, row.workdir, found.get("log") or "", name)


def log_file(ctx, workdir: Optional[str], where: str, what: str) -> FileResponse:
    """A local log as plain text, when it lies under the work directories (a URL or
    another path is no file of ours)."""
    if not where or where.startswith(("http://", "https://")):
        raise PageError(404, f"{what} has no local log")
    path = local_log(ctx, workdir, where)
    if path is None:
        raise PageError(403, f"the log of {what} is outside the work directories")
    if not path.is_file():
        raise PageError(404, f"the log of {what} is gone ({path.name})")
    return FileResponse(path, media_type="text/plain; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Content-Disposition": "inline"})


def local_log(ctx, workdir: Optional[str], where: str) -> Optional[Path]:
    """A local log's real path when it lies under the campaign's work directory or a
    configured one; None for any other path."""
    path = Path(os.path.realpath(where))
    roots = [r for r in (workdir, ctx.config["campaign"].get("workdir"),
                         ctx.config.get("modules", {}).get("workdir")) if r]
    if any(path.is_relative_to(Path(os.path.realpath(r))) for r in roots):
        return path
    return None


def log_tail(ctx, workdir: Optional[str], where: str) -> str:
    """The last lines of a local log (at most :data:`TAIL_BYTES`), or '' when there is
    none to show."""
    if not where or where.startswith(("http://", "https://")):
        return ""
    path = local_log(ctx, workdir, where)
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - TAIL_BYTES))
            data = f.read(TAIL_BYTES)
    except (OSError, TypeError):
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[1:] if len(data) == TAIL_BYTES else lines)[-TAIL_BYTES:]


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request):
    who = reading(request)
    view, problem = fleet_view(_ctx(request))
    return _render(request, "fleet.html", {"view": view, "problem": problem,
                                           "may_drain": _ctx(request).may_drain()},
                   viewer=who)


@router.post("/fleet/{host}/drain")
async def drain_host(request: Request, host: str):
    return await _drain(request, host, True)


@router.post("/fleet/{host}/undrain")
async def undrain_host(request: Request, host: str):
    return await _drain(request, host, False)


async def _drain(request: Request, host: str, drain: bool):
    """Drain or undrain a koji host through the hub plugin, as ``[api]
    koji_admin_profile``; off (404) when that key is empty."""
    ctx = _ctx(request)
    if not ctx.may_drain():
        raise PageError(404, "draining from the dashboard is off here "
                             "([api] koji_admin_profile is empty)")
    who = await acting(request)
    if not host or len(host) > 255 or not host.isprintable():
        raise PageError(400, "a host name is printable and at most 255 characters")
    word = "drain" if drain else "undrain"
    await run_in_threadpool(_call_drain, ctx, host, drain)
    log.info("dashboard: host %s: %sed by %s", host, word, who.name)
    ctx.caches.pop("hosts", None)
    return RedirectResponse("/fleet", status_code=303, headers=SECURITY_HEADERS)


def _call_drain(ctx, host: str, drain: bool) -> None:
    import koji

    from discomy.orchestration.backends import HubUnavailable
    from discomy.orchestration.backends.koji import NETWORK_FAULTS, KojiBackendError
    from discomy.web.hosts import _line

    try:
        session = ctx.koji_admin_session()
        call = session.discomy.drainHost if drain else session.discomy.undrainHost
        call(host)
    except (KojiBackendError, HubUnavailable) + NETWORK_FAULTS as exc:
        raise PageError(503, f"koji is unreachable: {_line(exc)}") from None
    except koji.GenericError as exc:
        raise PageError(502, f"koji refused: {_line(exc)}") from None


def fleet_view(ctx) -> tuple:
    """koji's hosts as ``/api/v1/hosts`` reads them, or None and why not."""
    from discomy.web.hosts import _cached

    if not ctx.config["koji"].get("server") and ctx.session_factory is None:
        return None, "koji is not configured here ([koji] server is empty)"
    try:
        view = _cached(ctx)
    except ApiError as exc:
        return None, exc.error
    hosts = []
    for h in view["hosts"]:
        capacity = h.get("capacity") or 0
        load = h.get("task_load") or 0
        hosts.append({**h, "bar": Markup(charts.load_bar(load, capacity)),
                      "speed_note": views.speed_note(h.get("speed_source"), h.get("claimed"),
                                                     h.get("learned"))})
    return {**view, "hosts": hosts}, None


@router.get("/failures", response_class=HTMLResponse)
def failures_page(request: Request):
    who = reading(request)
    ctx = _ctx(request)
    wanted = request.query_params.get("class") or None
    if wanted is not None and wanted not in (cm.PACKAGE, cm.INFRASTRUCTURE):
        raise PageError(400, f"class must be {cm.PACKAGE} or {cm.INFRASTRUCTURE}")
    rows, _ = ctx.store.campaign_page(50)
    tallies = api._tallies(ctx, rows)
    by_class: dict = {}
    for r in rows:
        for k, n in progress.failure_counts(tallies[r.id]).items():
            by_class[k] = by_class.get(k, 0) + n
    failed = ctx.store.failed_nodes([r.id for r in rows], wanted, FAILURES_SHOWN)
    workdirs = {r.id: r.workdir for r in rows}
    grouped: dict = {}
    for i, n in enumerate(failed):
        n["log_url"] = render.log_url(n["campaign_id"], n)
        n["tail"] = log_tail(ctx, workdirs.get(n["campaign_id"]), n.get("log") or "") \
            if i < TAILS_SHOWN else ""
        grouped.setdefault(n["failure_class"] or cm.PACKAGE, []).append(n)
    return _render(request, "failures.html", {
        "by_class": dict(sorted(by_class.items())), "grouped": dict(sorted(grouped.items())),
        "wanted": wanted, "shown": FAILURES_SHOWN}, viewer=who)


@router.get("/stats", response_class=HTMLResponse)
def stats_page(request: Request):
    who = reading(request)
    ctx = _ctx(request)
    now = time.time()
    hour_now = int(now // 3600)
    rows = render.kept(ctx, "hourly", None, int(now // 10),
                 lambda: ctx.store.settled_by_hour((hour_now - 23) * 3600))
    hours, builds, classes = views.hourly_series(rows, hour_now - 23, hour_now)
    labels = [charts.hour_label(h) for h in hours]
    states = ctx.store.node_states()
    ctx.dashboard.live.sample(now, states)
    campaigns, _ = ctx.store.campaign_page(15)
    tallies = api._tallies(ctx, campaigns)
    estimates, compute = [], []
    for r in campaigns:
        t = tallies[r.id]
        summary = api._summary(r, t, now)
        label = ", ".join(summary["changed"][:2])
        estimates.append({"id": r.id, "label": label, "state": r.state,
                          "created_at": r.created_at,
                          "planned_seconds": max((x.max_remaining_seconds for x in t), default=0.0),
                          "last_update": max((x.last_update for x in t), default=r.created_at),
                          "eta_seconds": summary["eta"]["seconds"]})
        done, everything, measured = render.kept(ctx, "compute", r.id, r.node_version,
                                           lambda: ctx.store.compute_seconds(r.id))
        compute.append((f"#{r.id} {label}", everything / 3600, done / 3600, measured / 3600))
    view, problem = fleet_view(ctx)
    hosts = [(h["name"], h.get("capacity") or 0, h.get("task_load") or 0)
             for h in (view or {}).get("hosts", [])][:40]
    svg = {
        "builds": charts.stacked_columns("Builds per hour (UTC), last 24 h", labels, builds,
                                         colours=(charts.GROUP_COLOURS["done"],
                                                  charts.GROUP_COLOURS["failed"])),
        "failures": charts.stacked_columns(
            "Failures per hour by class", labels, classes or {"package": [0] * len(labels)},
            colours=[FAILURE_COLOURS.get(k, "#718096") for k in (classes or ["package"])]),
        "queue": charts.line_chart("Queue depth: nodes released and waiting for a build slot",
                                   ctx.dashboard.live.samples(), now=now),
        "hosts": charts.horizontal_bars("Host utilisation: task load against capacity", hosts,
                                        names=("capacity", "task load")) if hosts else "",
        "compute": charts.horizontal_bars(
            "Compute-hours: planned for all nodes and for those done, against measured",
            compute, " h", names=("planned, all", "planned, done", "measured")),
        "estimate": charts.horizontal_bars(
            "Estimate (longest planned chain) against actual (so far + ETA)",
            views.estimate_against_actual(estimates, now), " h",
            names=("estimate", "actual")),
    }
    return _render(request, "stats.html", {
        "svg": {k: Markup(v) for k, v in svg.items()}, "states": states,
        "in_flight": sum(states.get(s, 0) for s in cm.IN_FLIGHT),
        "hosts_problem": problem}, viewer=who)


# -- login and actions -------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request):
    return _render(request, "login.html", {"error": None}, viewer=viewer(request))


@router.post("/login")
async def login(request: Request):
    ctx = _ctx(request)
    if not session.same_origin(request.headers.get("origin"), request.headers.get("referer"),
                               request.headers.get("host")):
        raise PageError(403, "a login must come from this dashboard's login page")
    form = await _form(request)
    token = str(form.get("token", "")).strip()
    found = ctx.store.token_by_digest(tokens.digest(token)) \
        if tokens.SHAPE.fullmatch(token) else None
    if found is None:
        if ctx.metrics:
            ctx.metrics.auth_failures.labels(reason="unknown-token").inc()
        return _render(request, "login.html", {"error": "that token is not known or was "
                                                        "revoked"}, status=401)
    value, _ = session.make_cookie(ctx.dashboard.secret, tokens.digest(token), found[1])
    log.info("dashboard: token %s logged in", found[1])
    response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(session.COOKIE, value, max_age=session.LIFETIME_SECONDS, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
async def logout(request: Request):
    await acting(request)
    response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/campaigns/{campaign_id}/cancel")
async def cancel(request: Request, campaign_id: str):
    who = await acting(request)
    return await _act(request, campaign_id, who, "cancel")


@router.post("/campaigns/{campaign_id}/resume")
async def resume(request: Request, campaign_id: str):
    who = await acting(request)
    return await _act(request, campaign_id, who, "resume")


async def _act(request: Request, campaign_id: str, who: Principal, action: str):
    ctx = _ctx(request)
    row = _campaign_row(ctx, campaign_id)
    cid = row.id
    try:
        if action == "cancel":
            result = await run_in_threadpool(api._cancel, ctx, row, False, who)
        else:
            result = await run_in_threadpool(api._resume, ctx, row, None, who)
    except ApiError as exc:
        raise PageError(exc.status, exc.error) from None
    log.info("dashboard: %s", result["message"])
    return RedirectResponse(f"/campaigns/{cid}", status_code=303, headers=SECURITY_HEADERS)


# -- live updates ------------------------------------------------------------------------------
@router.get("/events")
async def events(request: Request):
    """Server-sent events: every campaign's summary, or with ``campaign=N`` that
    campaign's summary, tiers and changed nodes (:mod:`discomy.web.live`)."""
    from fastapi.responses import StreamingResponse

    from discomy.web.live import stream

    await run_in_threadpool(reading, request)
    wanted = request.query_params.get("campaign")
    campaign_id = _campaign_id(wanted) if wanted else None
    try:
        since = float(request.query_params["since"]) if "since" in request.query_params \
            else None
    except ValueError:
        raise PageError(400, "since must be a node version (a number)") from None
    if since is not None and not math.isfinite(since):
        raise PageError(400, "since must be a node version (a number)")
    return StreamingResponse(stream(request, _ctx(request).dashboard.live, campaign_id, since),
                             media_type="text/event-stream",
                             headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"})


# -- forge pushes --------------------------------------------------------------------------------
PUSHES_SHOWN = 100
PUSH_STATES = ("queued", "preparing", "skipped", "submitted", "success", "failure")


def _push_view(ctx, row) -> dict:
    """A push build as its pages show it: links to its koji task, campaign and log."""
    weburl = (ctx.config["koji"].get("weburl") or "").rstrip("/")
    log = row.log or ""
    return {"id": row.id, "forge": row.forge, "repository": row.repository,
            "branch": row.branch, "commit": row.commit, "mode": row.mode,
            "backend": row.backend, "target": row.target, "state": row.state,
            "group": views.PUSH_GROUPS.get(row.state, "waiting"), "reason": row.reason,
            "package": row.package, "nvr": row.nvr, "previous": row.previous,
            "task": row.task, "campaign_id": row.campaign_id,
            "task_url": f"{weburl}/taskinfo?taskID={row.task}"
            if weburl and row.task.isdigit() else "",
            "log_url": log if log.startswith(("http://", "https://"))
            else (f"/pushes/{row.id}/log" if log else ""),
            "created_at": row.created_at, "submitted_at": row.submitted_at,
            "updated_at": row.updated_at}


def _push(ctx, value: str):
    row = ctx.store.webhooks.build(int(value)) if _whole(value) and int(value) <= MAX_ID \
        else None
    if row is None:
        raise PageError(404, f"no push build {value[:40]}")
    return row


@router.get("/pushes", response_class=HTMLResponse)
def pushes_page(request: Request):
    """The builds forge pushes started, newest first, all or in one state."""
    who = reading(request)
    ctx = _ctx(request)
    wanted = request.query_params.get("state") or None
    if wanted is not None and wanted not in PUSH_STATES:
        raise PageError(400, f"state must be one of {', '.join(PUSH_STATES)}")
    rows = ctx.store.webhooks.builds(states=(wanted,) if wanted else None, limit=PUSHES_SHOWN)
    repos = [f"{r['forge']}:{r['repository']}" for r in ctx.config["webhooks"]["repos"]]
    return _render(request, "pushes.html", {
        "pushes": [_push_view(ctx, r) for r in rows], "wanted": wanted, "states": PUSH_STATES,
        "shown": PUSHES_SHOWN, "repos": repos}, viewer=who)


@router.get("/pushes/{build_id}", response_class=HTMLResponse)
def push_page(request: Request, build_id: str):
    """One push build: what was pushed, what it was compared with, where it was built."""
    who = reading(request)
    ctx = _ctx(request)
    row = _push(ctx, build_id)
    workdir = ctx.config["webhooks"].get("workdir")
    return _render(request, "push.html", {
        "p": _push_view(ctx, row), "tail": log_tail(ctx, workdir, row.log or "")},
        viewer=who)


@router.get("/pushes/{build_id}/log")
def push_log(request: Request, build_id: str):
    """A push build's local log, as plain text: only a file under the webhooks' work
    directory."""
    reading(request)
    ctx = _ctx(request)
    row = _push(ctx, build_id)
    return log_file(ctx, ctx.config["webhooks"].get("workdir"), row.log or "",
                    f"push build {row.id}")
