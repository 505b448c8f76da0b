"""What the dashboard shows, decided over plain data (pure: no I/O).

The pages' handlers (:mod:`discomy.web.dashboard`) read the store and koji, then
ask this module how to group states, why a node waits, what the planned and the
actual timeline of a campaign are, and how the statistics' series go.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence

from discomy.orchestration import campaign as cm
from discomy.web.charts import duration

# node state -> the group a progress bar shows it in
GROUPS = {cm.DONE: "done", cm.BUILDING: "running", cm.WAITING_REPO: "running",
          cm.GATING: "running", cm.FAILED: "failed", cm.QUARANTINED: "quarantined",
          cm.PLANNED: "waiting", cm.WAITING_DEPS: "waiting"}
# a forge push build's state as the groups' colours
PUSH_GROUPS = {"queued": "waiting", "preparing": "running", "submitted": "running",
               "success": "done", "failure": "failed", "skipped": "skipped"}
DEPS_SHOWN = 4


def groups(counts: Mapping[str, int]) -> dict:
    """``state -> count`` (as :func:`discomy.orchestration.progress.state_counts`) as the
    five groups: done, running, failed, quarantined, waiting."""
    out = {"done": 0, "running": 0, "failed": 0, "quarantined": 0, "waiting": 0}
    for state, n in counts.items():
        group = GROUPS.get(state)
        if group:
            out[group] += int(n)
    return out


def own_seconds(remaining: float, dependents_remaining: Optional[float]) -> float:
    """A node's own planned build time: the planned chain from it on, less the longest
    chain of its dependents."""
    return max(0.0, float(remaining or 0.0) - float(dependents_remaining or 0.0))


def first_unsettled_tier(tiers: Iterable[Mapping]) -> Optional[int]:
    """The lowest tier with a node not settled (not done, failed or quarantined), from
    :func:`discomy.orchestration.progress.tier_counts`: per tier, later tiers wait
    for it."""
    open_ = [t["tier"] for t in tiers
             if any(n for state, n in t["counts"].items() if state not in cm.SETTLED)]
    return min(open_, default=None)


def why_waiting(node: Mapping, open_deps: Sequence[tuple], campaign_state: str,
                backend: str, release: str, unsettled_tier: Optional[int] = None) -> str:
    """One sentence: why ``node`` (a mapping of its columns) is not done yet, from what
    the store knows, in the order the engine decides (:func:`discomy.orchestration.
    campaign.releasable`): the campaign's state, the dependencies not done
    (``(name, state)``), per tier the earliest tier not settled
    (``unsettled_tier``), then the build slots (and, for koji, koji's load); past
    the submission, the task, the repo it waits for, the gate."""
    state = node["state"]
    if campaign_state == cm.PAUSED and state in cm.UNSTARTED:
        return "the campaign is paused"
    if campaign_state == cm.CANCELLED and state in cm.UNSTARTED:
        return "the campaign was cancelled"
    if state in (cm.WAITING_DEPS, cm.PLANNED):
        if open_deps:
            by_state: dict = {}
            for name, dep_state in open_deps:
                by_state.setdefault(dep_state, []).append(name)
            shown = ", ".join(f"{name} ({dep_state})"
                              for name, dep_state in list(open_deps)[:DEPS_SHOWN])
            more = len(open_deps) - DEPS_SHOWN
            blocked = sum(len(v) for k, v in by_state.items()
                          if k in (cm.FAILED, cm.QUARANTINED))
            head = (f"waits for {len(open_deps)} "
                    f"dependenc{'y' if len(open_deps) == 1 else 'ies'}: ")
            tail = f" and {more} more" if more > 0 else ""
            fix = f"; {blocked} of them need a fix first" if blocked else ""
            return head + shown + tail + fix
        if release == cm.PER_TIER and unsettled_tier is not None \
                and node["tier"] > unsettled_tier:
            return f"waits for tier {unsettled_tier} to settle (per-tier release)"
        if backend == "koji":
            return ("ready: waits for a build slot (the campaign's max_in_flight) or for "
                    "koji's load to fall below [koji] load_threshold")
        return "ready: waits for a build slot (the campaign's max_in_flight)"
    if state == cm.BUILDING:
        return f"building (task {node['task']})" if node.get("task") else "being submitted"
    if state == cm.WAITING_REPO:
        repo = node.get("repo_wait")
        return f"built; waits for the buildroot repo{f' (request {repo})' if repo else ''}"
    if state == cm.GATING:
        return "built and in the repo; waits for the CI gate's verdict"
    if state == cm.QUARANTINED:
        return node.get("reason") or "a dependency failed"
    if state == cm.FAILED:
        return node.get("reason") or "failed"
    return ""


def ran(node: Mapping, now: float) -> str:
    """How long the node's latest attempt ran, as the build system measured it;
    while it builds, how long since it was submitted; "-" when it has not run."""
    if node.get("build_seconds") is not None:
        return duration(node["build_seconds"])
    if node.get("state") == "building" and node.get("started_at"):
        return f"{duration(max(0.0, now - node['started_at']))} so far"
    return "-"


def planned_tiers(tier_remaining: Mapping[int, float]) -> dict:
    """``tier -> (start, end)`` offsets in seconds from the campaign's start, on a fleet
    with room for everything (the planner's schedule): a tier starts when its longest
    chain must start for the campaign to end on time, and ends when the next one
    starts (the last, at the end). ``tier_remaining`` is each tier's longest planned
    chain from it on."""
    if not tier_remaining:
        return {}
    total = max(tier_remaining.values())
    tiers = sorted(tier_remaining)
    out = {}
    for i, tier in enumerate(tiers):
        start = total - tier_remaining[tier]
        end = total - tier_remaining[tiers[i + 1]] if i + 1 < len(tiers) else total
        out[tier] = (start, max(start, end))
    return out


def timeline_rows(tier_remaining: Mapping[int, float], tier_times: Mapping[int, tuple],
                  tier_totals: Mapping[int, int], tier_settled: Mapping[int, int],
                  started_at: float, critical_tiers: Iterable[int] = ()) -> list:
    """The rows of the planned-against-actual chart, one per tier: ``planned`` from
    :func:`planned_tiers`, ``actual`` from when the tier's first node left the queue
    to when its last settled (open while some are not settled), ``late`` when it
    ended (or is still open) past its planned end."""
    planned = planned_tiers(tier_remaining)
    critical = set(critical_tiers)
    rows = []
    for tier, (p0, p1) in sorted(planned.items()):
        actual = None
        late = False
        if tier in tier_times:
            first, last, _ = tier_times[tier]
            finished = tier_settled.get(tier, 0) >= tier_totals.get(tier, 0)
            end = (last - started_at) if finished else None
            actual = (max(0.0, first - started_at), end)
            late = end is not None and end > p1 * 1.05 + 60
        rows.append({"label": f"tier {tier}", "tier": tier, "planned": (p0, p1),
                     "actual": actual, "late": late, "critical": tier in critical})
    return rows


def hourly_series(rows: Iterable[tuple], first_hour: int, last_hour: int) -> tuple:
    """From ``(hour, state, failure class, count)`` rows: the hours ``first_hour`` to
    ``last_hour``, the builds per hour ``{"done": [...], "failed": [...]}`` and the
    failures per hour by class ``{class: [...]}``."""
    hours = list(range(first_hour, last_hour + 1))
    index = {h: i for i, h in enumerate(hours)}
    builds = {"done": [0] * len(hours), "failed": [0] * len(hours)}
    classes: dict = {}
    for hour, state, failure_class, n in rows:
        i = index.get(hour)
        if i is None:
            continue
        if state in builds:
            builds[state][i] += n
        if state == cm.FAILED:
            key = failure_class or cm.PACKAGE
            classes.setdefault(key, [0] * len(hours))[i] += n
    return hours, builds, dict(sorted(classes.items()))


def estimate_against_actual(rows: Iterable[Mapping], now: float) -> list:
    """``(label, estimate hours, actual hours)`` of each campaign (``id``, ``state``,
    ``created_at``, ``planned_seconds``: its longest planned chain, ``last_update``,
    ``eta_seconds``): the actual time is to its last change once it is settled, else
    the time so far plus its ETA (when it has one)."""
    out = []
    for r in rows:
        if r["state"] in (cm.DONE, cm.FAILED, cm.CANCELLED):
            actual = max(0.0, (r["last_update"] or r["created_at"]) - r["created_at"])
        else:
            actual = max(0.0, now - r["created_at"]) + (r.get("eta_seconds") or 0.0)
        out.append((f"#{r['id']} {r['label']}", r["planned_seconds"] / 3600, actual / 3600))
    return out


# -- why koji has not run a node's task ----------------------------------------------------------
NO_PLUGIN = "the hub does not run discomy_hub; koji's stock scheduler gives no reason"
HOSTS_SHOWN = 40
KOJI_WAITING = ("FREE", "ASSIGNED")


def task_explanation(info: Mapping, hub: Optional[Mapping], plugin: bool,
                     host_names: Mapping[int, str]) -> dict:
    """What the page says of one koji task (``getTaskInfo``'s row, its state by name):
    a verdict, and for a task koji has not opened the hub's explanation
    (``discomy.explainTask``'s answer, None when not asked or ``plugin`` is false):
    the task's requirements and, per host, whether it could take it and why not."""
    state = str(info.get("state", "?"))
    host = host_names.get(info.get("host_id"), f"host {info.get('host_id')}") \
        if info.get("host_id") else ""
    out = {"task_id": info.get("id"), "method": str(info.get("method", "")),
           "arch": str(info.get("arch", "")), "state": state, "requirements": "",
           "hosts": [], "hidden": 0, "eligible": 0, "note": ""}
    if state == "OPEN":
        out["verdict"] = f"running on {host}" if host else "running"
        return out
    if state not in KOJI_WAITING:
        out["verdict"] = (f"koji says {state}; the engine records it at its next look "
                          "at koji")
        return out
    head = (f"assigned to {host}, which has not opened it yet" if state == "ASSIGNED"
            else "free: waiting for the hub's scheduler to give it to a host")
    if not plugin:
        out["verdict"] = f"{head}; {NO_PLUGIN}"
        return out
    if not isinstance(hub, Mapping):
        out["verdict"] = head
        return out
    verdicts = [{**h, "reasons": [_unprefixed(str(r), str(h.get("name"))) for r in
                                  h.get("reasons") or ()]}
                for h in hub.get("hosts") or () if isinstance(h, Mapping)]
    fit = [str(h.get("name")) for h in verdicts if h.get("eligible")]
    out["requirements"] = str((hub.get("requirements") or {}).get("text") or "none")
    out["eligible"] = len(fit)
    rows = [{"name": str(h.get("name")), "eligible": bool(h.get("eligible")),
             "reasons": "; ".join(str(r) for r in h.get("reasons") or ())}
            for h in sorted(verdicts, key=lambda h: (not h.get("eligible"), str(h.get("name"))))]
    out["hosts"], out["hidden"] = rows[:HOSTS_SHOWN], max(0, len(rows) - HOSTS_SHOWN)
    if not verdicts:
        tail = "the hub knows no enabled host in its channel"
    elif fit:
        shown = ", ".join(fit[:DEPS_SHOWN]) + (f" and {len(fit) - DEPS_SHOWN} more"
                                              if len(fit) > DEPS_SHOWN else "")
        tail = (f"{len(fit)} of {len(verdicts)} host{'s' if len(verdicts) != 1 else ''} "
                f"could take it ({shown}); the next scheduler pass should place it")
    else:
        reasons: dict = {}
        for h in verdicts:
            for r in h.get("reasons") or ("no reason given",):
                reasons[str(r)] = reasons.get(str(r), 0) + 1
        common = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        tail = (f"none of {len(verdicts)} host{'s' if len(verdicts) != 1 else ''} can take "
                "it: " + "; ".join(f"{r} ({n})" for r, n in common))
    out["verdict"] = f"{head}; {tail}"
    if hub.get("enabled") is False:
        out["note"] = ("discomy_hub's scheduler is off ([scheduler] enabled = false): koji's "
                       "stock pass places tasks; these are the plugin's reasons")
    return out


def _unprefixed(reason: str, host: str) -> str:
    """A host's reason without the host's name before it (the hub's ``b1: needs ...``)."""
    return reason[len(host) + 2:] if reason.startswith(host + ": ") else reason


def koji_load(loads: Mapping[str, float], threshold: float, free_total: int,
              free_before: Optional[int], open_total: int) -> list:
    """Sentences on koji's load: the queue (free tasks, those created before the task,
    open tasks) and each arch's load against the campaigns' ``[koji] load_threshold``
    (``loads`` from :func:`discomy.orchestration.campaign.arch_loads`)."""
    lines = [f"koji has {free_total} free task{'s' if free_total != 1 else ''} waiting "
             f"for a host and {open_total} running"
             + (f"; {free_before} of the free ones were made before this one"
                if free_before is not None else "")]
    for arch, load in sorted(loads.items()):
        if load == float("inf"):
            lines.append(f"{arch}: no ready host builds it")
        else:
            over = "above" if load > threshold else "below"
            lines.append(f"{arch}: {load:.0%} of capacity in use ({over} the "
                         f"{threshold:.0%} at which campaigns hold back new builds)")
    return lines


def speed_note(source: Optional[str], claimed: Optional[Mapping],
               learned: Optional[Mapping]) -> str:
    """Where a host's speed in force comes from, as the hub plugin says (``speed_source``,
    ``claimed``, ``learned``): '' without the plugin, else the source, then what was
    claimed (when it is not the claim in force) and learned (when it is not the
    learned speed in force)."""
    if not source:
        return ""
    learned = learned or {}
    if source == "learned" and learned.get("packages"):
        n = learned["packages"]
        parts = [f"learned from {n} package{'s' if n != 1 else ''}"]
    else:
        parts = [str(source)]
    said = (claimed or {}).get("speed")
    if said is not None and source != "claimed":
        parts.append(f"claimed {said}")
    if learned.get("speed") is not None and source != "learned":
        parts.append(f"learned {learned['speed']}")
    return "; ".join(parts)
