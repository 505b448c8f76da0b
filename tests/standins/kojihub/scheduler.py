"""Stand-in for ``kojihub.scheduler``: ``TaskScheduler`` (its constructor options,
``run``, ``get_tasks``, ``get_hosts``, ``get_refusals``, ``assign`` and a stock
``do_schedule``), ``log_db``, ``log_both``, ``get_task_refusals`` and
``get_host_data``, backed by
``kojihub_world``."""

import logging

from koji.context import context

import kojihub_world
from stock_schedule import stock_do_schedule

logger = logging.getLogger("koji.scheduler")


def log_db(msg, task_id=None, host_id=None):
    kojihub_world.WORLD.log.append((msg, task_id, host_id))


def log_both(msg, task_id=None, host_id=None, level=logging.INFO):
    logger.log(level, "%s", msg)
    log_db(msg, task_id, host_id)


def get_task_refusals(clauses=None, fields=None):
    rows = [dict(r) for r in kojihub_world.WORLD.refusals]
    for field, op, value in clauses or []:
        assert op == "="
        rows = [r for r in rows if r[field] == value]
    return rows


def get_host_data(hostID=None):
    world = kojihub_world.WORLD
    return [{"host_id": row["id"], "data": row.get("data")}
            for row in world.hosts + world.disabled_hosts
            if hostID is None or row["id"] == hostID]


class TaskScheduler:
    def __init__(self):
        self.hosts_by_bin = {}
        self.hosts = {}
        self.active_tasks = []
        self.free_tasks = []
        self.maxjobs = context.opts["MaxJobs"]
        self.capacity_overcommit = context.opts["CapacityOvercommit"]
        self.ready_timeout = context.opts["ReadyTimeout"]
        self.assign_timeout = context.opts["AssignTimeout"]
        self.soft_refusal_timeout = context.opts["SoftRefusalTimeout"]
        self.host_timeout = context.opts["HostTimeout"]
        self.run_interval = context.opts["RunInterval"]

    def run(self, force=False):
        self.get_tasks()
        self.get_hosts()
        self.do_schedule()
        return True

    def get_tasks(self):
        world = kojihub_world.WORLD
        self.free_tasks = [dict(t, _bin="%(channel_id)s:%(arch)s" % t) for t in world.free_tasks]
        self.active_tasks = [dict(t, _bin="%(channel_id)s:%(arch)s" % t)
                             for t in world.active_tasks]

    def get_hosts(self):
        self.hosts = {}
        self.hosts_by_bin = {}
        for row in kojihub_world.WORLD.hosts:
            host = dict(row)
            self.hosts[host["id"]] = host
            for chan in host["channels"]:
                for arch in host["arches"].split() + ["noarch"]:
                    self.hosts_by_bin.setdefault(f"{chan}:{arch}", []).append(host)

    def get_refusals(self):
        refusals = {}
        for row in kojihub_world.WORLD.refusals:
            refusals.setdefault(row["task_id"], {})[row["host_id"]] = row
        return refusals

    def do_schedule(self):
        for task_id, host_id in stock_do_schedule(
                self.free_tasks, self.active_tasks, list(self.hosts.values()),
                self.get_refusals(), self.maxjobs, self.capacity_overcommit):
            task = next(t for t in self.free_tasks if t["task_id"] == task_id)
            self.assign(task, self.hosts[host_id])

    def assign(self, task, host, force=False, override=False):
        kojihub_world.WORLD.assigned.append((task["task_id"], host["id"]))
        log_both("Assigning task", task_id=task["task_id"], host_id=host["id"])
        return True
