# SPDX-License-Identifier: MIT
"""Discomy hub plugin: capability-aware task placement in koji's scheduler.

Adds to a koji hub (1.34+):

- a ``TaskScheduler`` subclass installed as ``kojihub.scheduler.TaskScheduler``
  that places tasks with ``discomy.placement`` (hard fit on memory, disk, cpus,
  virtualization and features; power jobs on the fastest hosts; bounded
  reservation; draining). With no Discomy data it decides exactly as stock
  koji. Reasons go to the scheduler log (``koji scheduler-logs``);
- API calls ``discomy.hostCapabilities``, ``discomy.explainTask``,
  ``discomy.drainHost`` / ``discomy.undrainHost`` (admin), ``discomy.getDrainState``,
  ``discomy.getPackageConstraints`` / ``discomy.setPackageConstraints`` (admin);
- policy tests ``discomy_power`` and ``discomy_needs`` for koji's ``channel``
  policy.

Config: /etc/koji-hub/plugins/discomy.conf (or $DISCOMY_HUB_CONFIG), read once at load. A bad config is
logged as one error and the hub keeps stock scheduling.

Package constraints live in tag extra ``discomy.constraints``. Hub-side drain
state is kept in koji's ``scheduler_sys_data`` table under the name
``discomy.drained`` (a JSON list of host ids); builders read it back with
``discomy.getDrainState`` and report their own flag as ``draining`` in their
host data (see ``discomy.placement.drain``).
"""

import configparser
import dataclasses
import json
import logging
import os
import time

import koji
import koji.policy
from koji.context import context
from koji.plugin import export_in

import kojihub
from kojihub import scheduler
from kojihub.db import QueryProcessor, UpsertProcessor

from discomy import placement
from discomy.placement import constraints as cons
from discomy.placement import drain
from discomy.placement.hostdata import from_host_data

# DISCOMY_HUB_CONFIG points a hub started by hand (tests, development) at another file.
CONFIG_FILE = os.environ.get("DISCOMY_HUB_CONFIG", "/etc/koji-hub/plugins/discomy.conf")
DRAINED_KEY = "discomy.drained"
HISTORY_TTL = 3600

logger = logging.getLogger("koji.plugin.discomy")
StockTaskScheduler = scheduler.TaskScheduler


def read_config(path=CONFIG_FILE):
    """The placement config, or None (stock scheduling) if the file is invalid."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # package globs are case-sensitive
    try:
        parser.read(path)
        sections = {name: dict(parser.items(name)) for name in parser.sections()}
        return placement.parse_config(sections)
    except (configparser.Error, placement.ConfigError) as exc:
        logger.error("discomy: %s: %s; using stock koji scheduling", path, exc)
        return None


CONFIG = read_config()
_history_cache = {}     # package -> (fetched_at, last buildArch seconds or None)
_logged_waits = {}      # task_id -> last reason logged, so waits are logged once per change
_logged_reserved = {}   # host_id -> power task id, so reservations are logged once


# ----------------------------------------------------------------- reading koji

def drained_host_ids():
    query = QueryProcessor(tables=["scheduler_sys_data"], columns=["data"],
                           clauses=["name = %(name)s"], values={"name": DRAINED_KEY})
    value = query.singleValue(strict=False)
    if isinstance(value, str):
        value = json.loads(value)
    return set(value or [])


def write_drained_host_ids(ids):
    upsert = UpsertProcessor("scheduler_sys_data", keys=["name"],
                             data={"name": DRAINED_KEY, "data": json.dumps(sorted(ids))})
    upsert.execute()


def core_hosts(rows, config):
    drained = drained_host_ids()
    hosts = []
    for row in rows:
        host, warnings = placement.HostCapabilities.from_koji(row, drained=row["id"] in drained)
        for warning in warnings:
            logger.debug("discomy: %s", warning)
        hosts.append(host)
    return hosts


def buildarch_sources(tasks):
    """task id -> (package, build tag) for buildArch tasks, from their requests."""
    ids = [t["task_id"] for t in tasks if t.get("method") == "buildArch"]
    if not ids:
        return {}
    query = QueryProcessor(tables=["task"], columns=["id", "request"],
                           clauses=["id IN %(ids)s"], values={"ids": ids})
    out = {}
    for row in query.execute():
        try:
            params, _ = koji.xmlrpcplus.loads(row["request"])
            params = koji.tasks.parse_task_params("buildArch", params)
        except Exception:
            logger.warning("discomy: cannot read the request of task %s", row["id"])
            continue
        out[row["id"]] = (cons.package_from_source(params.get("pkg")), params.get("root"))
    return out


def tag_rules(tag):
    """A build tag's constraints (inherited like other extra), read leniently."""
    try:
        extra = context.handlers.call("getBuildConfig", tag).get("extra") or {}
    except koji.GenericError as exc:
        logger.warning("discomy: cannot read build tag %s: %s", tag, exc)
        return {}
    rules, warnings = cons.parse_rules(extra.get(cons.TAG_EXTRA_KEY), strict=False)
    for warning in warnings:
        logger.warning("discomy: tag %s: %s", tag, warning)
    return rules


def last_buildarch_seconds(packages):
    """package -> duration of its latest complete build's slowest buildArch (cached)."""
    now = time.time()
    wanted = [p for p in packages
              if p not in _history_cache or now - _history_cache[p][0] > HISTORY_TTL]
    if wanted:
        query = QueryProcessor(
            tables=["build"],
            columns=["package.name", "build.id",
                     "date_part('epoch', task.completion_time) - "
                     "date_part('epoch', task.start_time)"],
            aliases=["name", "build_id", "seconds"],
            joins=["package ON build.pkg_id = package.id",
                   "task ON task.parent = build.task_id"],
            clauses=["package.name IN %(names)s", "build.state = %(complete)s",
                     "task.method = 'buildArch'", "task.state = %(closed)s"],
            values={"names": wanted, "complete": koji.BUILD_STATES["COMPLETE"],
                    "closed": koji.TASK_STATES["CLOSED"]})
        durations = placement.last_build_durations(
            (r["name"], r["build_id"], r["seconds"]) for r in query.execute())
        for package in wanted:
            _history_cache[package] = (now, durations.get(package))
    return {p: _history_cache[p][1] for p in packages}


def core_tasks(free_rows, config):
    """Free task rows -> ``placement.FreeTask`` with their requirements."""
    sources = buildarch_sources(free_rows)
    rules = {tag: tag_rules(tag) for tag in {s[1] for s in sources.values() if s[1]}}
    history = {}
    if config.power_after_s is not None:
        history = last_buildarch_seconds(sorted({s[0] for s in sources.values() if s[0]}))
    tasks = []
    for row in free_rows:
        package, tag = sources.get(row["task_id"], (None, None))
        req = placement.requirements_for(package, config.defaults, rules.get(tag, {}),
                                         history.get(package), config.power_after_s)
        tasks.append(placement.FreeTask(
            task_id=row["task_id"], channel_id=row["channel_id"], arch=row["arch"],
            weight=row["weight"], priority=row["priority"], create_ts=row["create_ts"],
            method=row.get("method") or "", req=req))
    return tasks


def core_active(active_rows):
    return [placement.ActiveTask(r["task_id"], r["host_id"], r["weight"], bool(r["waiting"]))
            for r in active_rows]


def pass_config(sched):
    """Discomy's config with koji's own MaxJobs and CapacityOvercommit from hub.conf."""
    return dataclasses.replace(CONFIG or placement.PlacementConfig(), maxjobs=sched.maxjobs,
                               capacity_overcommit=sched.capacity_overcommit)


# ----------------------------------------------------------------- the scheduler

class DiscomyTaskScheduler(StockTaskScheduler):
    """koji's TaskScheduler whose placement decisions come from ``discomy.placement``."""

    def do_schedule(self):
        if CONFIG is None or not CONFIG.enabled:
            return super().do_schedule()
        try:
            config = pass_config(self)
            hosts = core_hosts(self.hosts.values(), config)
            free = core_tasks(self.free_tasks, config)
            result = placement.schedule(free, core_active(self.active_tasks), hosts,
                                        self.get_refusals(), config, now=time.time())
        except Exception:
            logger.exception("discomy: placement failed; stock scheduling for this pass")
            return super().do_schedule()
        self.write_back(result, free, config)

    def write_back(self, result, free, config):
        rows = {t["task_id"]: t for t in self.free_tasks}
        constrained = {t.task_id for t in free if t.req != placement.NO_REQUIREMENTS}
        for host_id, task_id in result.reserved.items():
            if _logged_reserved.get(host_id) != task_id:
                scheduler.log_both(f"discomy: host reserved for power task {task_id}",
                                   task_id=task_id, host_id=host_id)
        _logged_reserved.clear()
        _logged_reserved.update(result.reserved)
        for a in result.assignments:
            if self.assign(rows[a.task_id], self.hosts[a.host_id]):
                _logged_waits.pop(a.task_id, None)
                if config.log_reasons and a.task_id in constrained:
                    scheduler.log_db(f"discomy: {a.reason}", a.task_id, a.host_id)
        if not config.log_reasons:
            return
        placed = {a.task_id for a in result.assignments}
        for task_id in sorted(constrained - placed):
            reason = result.reasons.get(task_id)
            if reason and _logged_waits.get(task_id) != reason:
                scheduler.log_db(f"discomy: {reason}", task_id)
                _logged_waits[task_id] = reason
        if len(_logged_waits) > 10000:
            _logged_waits.clear()


scheduler.TaskScheduler = DiscomyTaskScheduler


# ----------------------------------------------------------------- API calls

def _snapshot():
    """Hosts, active and free tasks as the scheduler reads them (queries only)."""
    sched = StockTaskScheduler()
    sched.get_tasks()
    sched.get_hosts()
    return sched, pass_config(sched)


@export_in("discomy")
def hostCapabilities(host=None):
    """List enabled hosts with what they published: cpus, memory, disk, speed, load, draining.

    :param host: only this host (name or id)
    :returns list[dict]: one entry per host
    """
    sched, config = _snapshot()
    running = {}
    for task in sched.active_tasks:
        running[task["host_id"]] = running.get(task["host_id"], 0) + 1
    info = kojihub.get_host(host, strict=True) if host is not None else None
    out = [placement.host_summary(h, running.get(h.host_id, 0), config)
           for h in core_hosts(sched.hosts.values(), config)
           if info is None or h.host_id == info["id"]]
    if info is not None and not out:
        # a disabled host: the scheduler does not see it, but --wait still needs its tasks
        out.append({"id": info["id"], "name": info["name"], "enabled": False,
                    "running_tasks": running.get(info["id"], 0)})
    return out


@export_in("discomy")
def explainTask(task_id):
    """Explain where a task can run: its requirements and a verdict with reasons per host."""
    task_id = kojihub.convert_value(task_id, cast=int)
    info = kojihub.Task(task_id).getInfo(strict=True)
    sched, config = _snapshot()
    row = {"task_id": task_id, "channel_id": info["channel_id"], "arch": info["arch"],
           "weight": info["weight"], "priority": info["priority"],
           "create_ts": info.get("create_ts") or 0.0, "method": info["method"]}
    task = core_tasks([row], config)[0]
    cutoff = time.time() - sched.soft_refusal_timeout
    refusals = {}
    for r in scheduler.get_task_refusals(clauses=[["task_id", "=", task_id]]):
        if not (r["soft"] and r["ts"] < cutoff):
            refusals.setdefault(task_id, set()).add(r["host_id"])
    verdicts = placement.explain(task, core_active(sched.active_tasks),
                                 core_hosts(sched.hosts.values(), config), refusals, config,
                                 now=time.time())
    return {"task_id": task_id, "method": info["method"], "arch": info["arch"],
            "channel_id": info["channel_id"], "state": koji.TASK_STATES[info["state"]],
            "host_id": info.get("host_id"),
            "requirements": placement.requirements_summary(task.req),
            "enabled": bool(CONFIG and CONFIG.enabled),
            "hosts": [{"host_id": v.host_id, "name": v.name, "eligible": v.eligible,
                       "reasons": list(v.reasons)} for v in verdicts]}


def _set_drained(host, drained):
    context.session.assertPerm("admin")
    info = kojihub.get_host(host, strict=True)
    ids = drained_host_ids()
    ids = ids | {info["id"]} if drained else ids - {info["id"]}
    write_drained_host_ids(ids)
    word = "drained" if drained else "undrained"
    scheduler.log_both(f"discomy: host {word} by {context.session.user_data['name']}",
                       host_id=info["id"])
    return True


@export_in("discomy")
def drainHost(host):
    """Stop giving new tasks to a host; its running tasks finish (admin)."""
    return _set_drained(host, True)


@export_in("discomy")
def undrainHost(host):
    """Let a drained host take new tasks again (admin)."""
    return _set_drained(host, False)


@export_in("discomy")
def getDrainState(host):
    """Both drain switches of a host: the hub's (drainHost) and the builder's own flag.

    Builders read it back every loop to honour the hub's drain.

    :returns dict: host_id, name, enabled, drained (hub), draining (builder flag), drain
    """
    info = kojihub.get_host(host, strict=True)
    rows = scheduler.get_host_data(info["id"])
    hostdata, _ = from_host_data(rows[0]["data"] if rows else None)
    drained = info["id"] in drained_host_ids()
    return {"host_id": info["id"], "name": info["name"], "enabled": info["enabled"],
            "drained": drained, "draining": hostdata.draining,
            "drain": drain.drain_sources(builder=hostdata.draining, hub=drained)}


@export_in("discomy")
def getPackageConstraints(tag, inherit=True):
    """Package constraints for a tag: the tag's (inherited) rules and the hub defaults."""
    taginfo = kojihub.get_tag(tag, strict=True)
    if inherit:
        extra = context.handlers.call("getBuildConfig", taginfo["id"]).get("extra") or {}
    else:
        extra = taginfo.get("extra") or {}
    rules, warnings = cons.parse_rules(extra.get(cons.TAG_EXTRA_KEY), strict=False)
    defaults = CONFIG.defaults if CONFIG else {}
    return {"tag": taginfo["name"], "constraints": cons.rules_to_json(rules),
            "defaults": cons.rules_to_json(defaults), "warnings": warnings}


@export_in("discomy")
def setPackageConstraints(tag, glob, constraints=None, remove=False):
    """Set (or with remove=True drop) one package glob's constraints on a tag (admin).

    :param constraints: e.g. {"memory": "16G", "disk": "40G", "cpus": 8, "power": True}
    """
    context.session.assertPerm("admin")
    taginfo = kojihub.get_tag(tag, strict=True)
    current, _ = cons.parse_rules((taginfo.get("extra") or {}).get(cons.TAG_EXTRA_KEY),
                                  strict=False)
    try:
        if remove:
            if glob not in current:
                raise koji.GenericError(f"Tag {taginfo['name']} has no constraints for {glob}")
            del current[glob]
        else:
            parsed, _ = cons.parse_rules({glob: constraints or {}}, strict=True)
            current.update(parsed)
    except cons.ConstraintError as exc:
        raise koji.ParameterError(f"Invalid constraints for {glob} on tag "
                                  f"{taginfo['name']}: {exc}")
    if current:
        kojihub._edit_tag(taginfo["id"], extra={cons.TAG_EXTRA_KEY: cons.rules_to_json(current)})
    else:
        kojihub._edit_tag(taginfo["id"], remove_extra=[cons.TAG_EXTRA_KEY])
    return cons.rules_to_json(current)


# ----------------------------------------------------------------- policy tests

def _policy_constraints(data):
    """Constraints of the package a channel-policy check is about (empty if unknown)."""
    package = cons.package_from_source(data.get("source"))
    if not package:
        return cons.Constraints()
    rules = {}
    build_tag = data.get("build_tag")
    if not build_tag and data.get("target"):
        target = kojihub.get_build_target(data["target"])
        build_tag = target["build_tag"] if target else None
    if build_tag:
        rules = tag_rules(build_tag)
    return cons.resolve(package, CONFIG.defaults if CONFIG else {}, rules)


class PowerTest(koji.policy.MatchTest):
    """``discomy_power``: the task's package is a power job by its constraints."""

    name = "discomy_power"

    def run(self, data):
        return bool(_policy_constraints(data).power)


class NeedsTest(koji.policy.MatchTest):
    """``discomy_needs memory>=32G [cpus>=16 ...]``: the package's constraints meet every term."""

    name = "discomy_needs"

    def __init__(self, str):
        super().__init__(str)
        self.terms = str.split()[1:]
        if not self.terms:
            raise koji.GenericError("discomy_needs needs at least one term, e.g. memory>=32G")
        for term in self.terms:
            try:
                cons.check_expression(term)
            except cons.ConstraintError as exc:
                raise koji.GenericError(f"discomy_needs: {exc}")

    def run(self, data):
        found = _policy_constraints(data)
        return all(cons.meets_expression(found, term) for term in self.terms)
