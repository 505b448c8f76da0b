"""Why a node waits, with what koji says: the shell that asks koji (once per look,
never for a page of nodes) for the dashboard's ``/campaigns/N/nodes/NAME/explain``
and the API's ``/api/v1/campaigns/N/nodes/NAME/explain``.

The task's state (``getTaskInfo``; a running build's waiting subtasks), the hub's
``discomy.explainTask`` for a task koji has not opened, and koji's queue and load
(``listTasks`` counts and ``listHosts`` in one multicall), through the API's
anonymous koji session. The sentences are :mod:`discomy.web.views`' (pure).
"""

from __future__ import annotations

from typing import Optional

from discomy.orchestration import campaign as cm
from discomy.orchestration import progress
from discomy.web import views

EXPLAINED_TASKS = 4       # a build's waiting subtasks asked of the hub, per look
MAX_TASK = 2 ** 31 - 1


def why(ctx, row, node: dict, tallies: list) -> str:
    """Why ``node`` (a mapping of its columns) waits, as the campaign page says it
    (:func:`views.why_waiting`); ``tallies`` are the campaign's counts by tier."""
    deps = ctx.store.open_deps(row.id, [node["name"]]).get(node["name"], ()) \
        if node["state"] in (cm.WAITING_DEPS, cm.PLANNED) else ()
    unsettled = views.first_unsettled_tier(progress.tier_counts(tallies))
    return views.why_waiting(node, deps, row.state, row.backend, row.release, unsettled)


def look_for(ctx, row, node: dict) -> Optional[dict]:
    """:func:`koji_look` for an unsettled node of a koji campaign, else None (koji is
    not asked)."""
    if row.backend != "koji" or node["state"] in cm.SETTLED:
        return None
    task = node.get("task") or ""
    whole = task.isascii() and task.isdigit() and len(task) <= 12
    return koji_look(ctx, int(task) if whole and int(task) <= MAX_TASK else None)


def koji_look(ctx, task_id: Optional[int]) -> dict:
    """What koji says of a node's task and of its load:
    ``tasks`` (:func:`views.task_explanation` of the task and of its waiting
    subtasks), ``load`` (sentences), ``problem`` (koji unreachable or refusing)."""
    import koji

    from discomy.orchestration.backends import HubUnavailable
    from discomy.orchestration.backends.koji import NETWORK_FAULTS, KojiBackendError
    from discomy.web.hosts import _line, plugin_missing

    if not ctx.config["koji"].get("server") and ctx.session_factory is None:
        return {"tasks": [], "load": [], "problem": "koji is not configured here "
                                                    "([koji] server is empty)"}
    state = koji.TASK_STATES
    count = {"countOnly": True}
    try:
        session = ctx.koji_session()
        infos = []
        if task_id is not None:
            info = session.getTaskInfo(task_id)
            if not info:
                return {"tasks": [], "load": [], "problem": f"koji knows no task {task_id}"}
            infos.append(info)
            if info["state"] == state["OPEN"]:
                children = session.getTaskChildren(task_id) or []
                infos += [c for c in children
                          if c.get("state") in (state["FREE"], state["ASSIGNED"])
                          ][:EXPLAINED_TASKS]
        waiting = [i for i in infos if i.get("state") in (state["FREE"], state["ASSIGNED"])]
        first = min((float(i.get("create_ts") or 0) for i in waiting), default=None)
        with session.multicall(strict=True) as m:
            hosts_call = m.listHosts()
            free_call = m.listTasks(opts={"state": [state["FREE"]]}, queryOpts=count)
            open_call = m.listTasks(opts={"state": [state["OPEN"]]}, queryOpts=count)
            before_call = m.listTasks(opts={"state": [state["FREE"]], "createdBefore": first},
                                      queryOpts=count) if first else None
        hosts = hosts_call.result or []
        plugin, said = True, {}
        if waiting:
            with session.multicall(strict=False) as m:
                calls = [(i["id"], m.discomy.explainTask(i["id"])) for i in waiting]
            for tid, call in calls:
                try:
                    said[tid] = call.result
                except koji.GenericError as exc:
                    if not plugin_missing(exc):
                        raise
                    plugin = False
    except (KojiBackendError, HubUnavailable) + NETWORK_FAULTS as exc:
        return {"tasks": [], "load": [], "problem": f"koji is unreachable: {_line(exc)}"}
    except koji.GenericError as exc:
        return {"tasks": [], "load": [], "problem": f"koji refused: {_line(exc)}"}
    names = {h.get("id"): str(h.get("name")) for h in hosts if isinstance(h, dict)}
    tasks = [views.task_explanation({**i, "state": state.get(i.get("state"), "?")},
                                    said.get(i.get("id")), plugin, names) for i in infos]
    arches = sorted({i.get("arch") for i in waiting} - {"noarch", None}) or sorted(
        {a for h in hosts if isinstance(h, dict) and h.get("enabled", True)
         for a in str(h.get("arches") or "").split()})
    loads = cm.arch_loads(hosts, arches)
    load = views.koji_load(loads, float(ctx.config["koji"]["load_threshold"]),
                           _count(free_call.result), _count(before_call.result)
                           if before_call else None, _count(open_call.result))
    return {"tasks": tasks, "load": load, "problem": None}


def _count(value) -> int:
    """``listTasks``' count (``countOnly``); a list when a hub ignores the option."""
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) and value >= 0 else 0
