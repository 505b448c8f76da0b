"""Stand-in logic: an independent, literal re-statement of stock koji's ``TaskScheduler.do_schedule``.

It works on the plain dicts koji's scheduler itself uses (``hosts`` as read by
``_get_hosts``, tasks as read by ``get_tasks``) and returns ``[(task_id,
host_id), ...]`` in assignment order. Tests compare Discomy's placement with it
on inputs that carry no Discomy data.
"""


def stock_do_schedule(free_tasks, active_tasks, hosts, refusals, maxjobs, overcommit):
    hosts_by_id = {}
    hosts_by_bin = {}
    for host in hosts:
        host = dict(host)
        hosts_by_id[host["id"]] = host
        for chan in host["channels"]:
            for arch in host["arches"].split() + ["noarch"]:
                hosts_by_bin.setdefault("%s:%s" % (chan, arch), []).append(host)
    for task in active_tasks:
        host = hosts_by_id.get(task["host_id"])
        if not host:
            continue
        host.setdefault("_load", 0.0)
        if not task["waiting"]:
            host["_load"] += task["weight"]
        host.setdefault("_ntasks", 0)
        host["_ntasks"] += 1
    for host in hosts_by_id.values():
        host.setdefault("_load", 0.0)
        host.setdefault("_ntasks", 0)
        host.setdefault("_demand", 0.0)
        data = host["data"] or {}
        host.setdefault("_maxjobs", data.get("maxjobs") or maxjobs)
    tasks = [dict(t, _bin="%(channel_id)s:%(arch)s" % t) for t in free_tasks]
    for task in tasks:
        task["_hosts"] = []
        min_avail = max(0, task["weight"] - overcommit)
        refused = refusals.get(task["task_id"], {})
        for host in hosts_by_bin.get(task["_bin"], []):
            if (host["ready"] and host["_ntasks"] < host["_maxjobs"]
                    and host["capacity"] - host["_load"] > min_avail
                    and host["id"] not in refused):
                task["_hosts"].append(host)
        for host in task["_hosts"]:
            host["_demand"] += task["weight"] / len(task["_hosts"])
    total = sum([h["_demand"] for h in hosts_by_id.values()])
    if total > 0.0:
        for h in hosts_by_id.values():
            h["_demand"] = h["_demand"] / total

    def rank(h):
        h["_rank"] = h["_load"] + h["_ntasks"] + h["_demand"]

    for h in hosts_by_id.values():
        rank(h)
    out = []
    for task in tasks:
        min_avail = max(0, task["weight"] - overcommit)
        task["_hosts"].sort(key=lambda h: h["_rank"])
        for host in task["_hosts"]:
            if host["capacity"] - host["_load"] > min_avail and host["_ntasks"] < host["_maxjobs"]:
                out.append((task["task_id"], host["id"]))
                host["_load"] += task["weight"]
                host["_ntasks"] += 1
                rank(host)
                break
    return out
