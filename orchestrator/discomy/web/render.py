"""What the dashboard's pages and live events show of a campaign, read from the store
and the API's kept counts: a campaign's summary, its timeline chart, its critical
path with the states of now, and nodes as the table shows them.

Both the pages (:mod:`discomy.web.dashboard`) and the live events
(:mod:`discomy.web.live`) use these, so a node looks the same whether the page was
loaded or updated.
"""

from __future__ import annotations

from markupsafe import Markup

from discomy.orchestration import campaign as cm
from discomy.orchestration import progress
from discomy.web import campaigns as api
from discomy.web import charts, views

TIERS_SHOWN = 400


def summary(ctx, row, tallies, now: float) -> dict:
    """A campaign as its list row and header show it."""
    s = api._summary(row, tallies, now)
    grouped = views.groups(s["counts"])
    eta = s["eta"]
    return {**s, "groups": grouped, "bar": Markup(charts.progress_bar(grouped)),
            "eta_text": charts.duration(eta["seconds"]) if eta["seconds"] is not None
            else eta["basis"], "eta_basis": eta["basis"],
            "label": ", ".join(s["changed"][:3]) + (" ..." if len(s["changed"]) > 3 else "")}


def timeline_svg(ctx, row, tallies: list, critical_tiers: set, now: float) -> str:
    """The campaign's planned-against-actual chart, per tier."""
    tiers = progress.tier_counts(tallies)
    tier_remaining: dict = {}
    for t in tallies:
        tier_remaining[t.tier] = max(tier_remaining.get(t.tier, 0.0), t.max_remaining_seconds)
    times = kept(ctx, "tier times", row.id, row.node_version,
                  lambda: ctx.store.tier_times(row.id))
    totals = {t["tier"]: t["total"] for t in tiers}
    settled = {t["tier"]: sum(n for s, n in t["counts"].items() if s in cm.SETTLED)
               for t in tiers}
    rows = views.timeline_rows(tier_remaining, times, totals, settled, row.created_at,
                               critical_tiers)
    ended = row.state in (cm.DONE, cm.CANCELLED, cm.FAILED)
    last = max((t.last_update for t in tallies), default=row.created_at)
    return charts.timeline("Planned (critical path, fleet with room) against actual, per tier",
                           rows[:TIERS_SHOWN],
                           now_offset=(last if ended else now) - row.created_at)


def critical_path(ctx, cid: int) -> list:
    """The campaign's critical path with each node's state now: the chain is fixed by
    the plan and kept; the states are read again (one query on the chain's names)."""
    held = ctx.dashboard.critical.get(cid)
    if held is None:
        held = [(n["name"], n["tier"]) for n in ctx.store.critical_path(cid)]
        ctx.dashboard.critical[cid] = held
        while len(ctx.dashboard.critical) > 64:
            ctx.dashboard.critical.pop(next(iter(ctx.dashboard.critical)))
    chain = [name for name, _ in held]
    rows = ctx.store.nodes_named(cid, chain)
    later = {}
    out = []
    for name in reversed(chain):                 # own time: less the next one's chain
        node = rows.get(name)
        if node is None:
            continue
        node = dict(node)
        node["own_seconds"] = views.own_seconds(node["remaining_seconds"], later.get("r"))
        later["r"] = node["remaining_seconds"]
        out.append(node)
    return list(reversed(out))


def decorate(ctx, row, items: list, critical: set, now: float,
             unsettled_tier=None) -> list:
    """Nodes (mappings of their columns) with what the table shows: the group, why it
    waits, its planned time and how long it ran, how long in its state, where it ran,
    its task and log links."""
    names = [n["name"] for n in items]
    waiting = [n["name"] for n in items if n["state"] in (cm.WAITING_DEPS, cm.PLANNED)]
    open_deps = ctx.store.open_deps(row.id, waiting)
    later = ctx.store.dependents_remaining(row.id, names)
    weburl = (ctx.config["koji"].get("weburl") or "").rstrip("/")
    out = []
    for n in items:
        task = n.get("task") or ""
        out.append({**n, "group": views.GROUPS.get(n["state"], "waiting"),
                    "why": views.why_waiting(n, open_deps.get(n["name"], ()), row.state,
                                             row.backend, row.release, unsettled_tier),
                    "planned": charts.duration(views.own_seconds(n["remaining_seconds"],
                                                                 later.get(n["name"]))),
                    "age": charts.duration(now - n["updated_at"]) if n["updated_at"] else "-",
                    "ran": views.ran(n, now),
                    "host": n.get("host") or "",
                    # a local task's reference is the work directory's, of no use to a reader
                    "task": task if row.backend != "local" else "",
                    "task_url": f"{weburl}/taskinfo?taskID={task}" if weburl and task.isdigit()
                    else "",
                    "log_url": log_url(row.id, n), "critical": n["name"] in critical,
                    "explain_url": explain_url(row, n)})
    return out


def explain_url(row, node: dict) -> str:
    """The page that asks koji why a node of a koji campaign waits ('' for others)."""
    from urllib.parse import quote

    if row.backend != "koji" or node["state"] in cm.SETTLED:
        return ""
    return f"/campaigns/{row.id}/nodes/{quote(node['name'], safe='')}/explain"


def log_url(cid: int, node: dict) -> str:
    where = node.get("log") or ""
    if not where:
        return ""
    if where.startswith(("http://", "https://")):
        return where
    from urllib.parse import urlencode

    return f"/campaigns/{cid}/log?{urlencode({'node': node['name']})}"


def kept(ctx, what: str, key, version, read):
    """``read()``, kept while ``version`` (a campaign's node version) stays."""
    held = ctx.dashboard.kept.get((what, key))
    if held is not None and held[0] == version:
        return held[1]
    value = read()
    ctx.dashboard.kept[(what, key)] = (version, value)
    while len(ctx.dashboard.kept) > 256:
        ctx.dashboard.kept.pop(next(iter(ctx.dashboard.kept)))
    return value
