# SPDX-License-Identifier: MIT
"""Discomy hub plugin: capability-aware task placement in koji's scheduler.

Adds to a koji hub (1.34+):

- a ``TaskScheduler`` subclass installed as ``kojihub.scheduler.TaskScheduler``
  that places tasks with ``discomy.placement`` (hard fit on memory, disk, cpus,
  virtualization and features; power jobs on the fastest hosts; bounded
  reservation; draining). With no Discomy data it decides exactly as stock
  koji. Reasons go to the scheduler log (``koji scheduler-logs``). It is
  installed only when this koji has the internals it uses; otherwise one error
  line and stock scheduling;
- hosts as placement sees them (``discomy.placement.trust``): their claims
  within the ``[trust]`` bounds, the admin's per-host policy and the speed
  learned from their finished buildArch tasks;
- API calls ``discomy.hostCapabilities``, ``discomy.explainTask``,
  ``discomy.fitTask`` (the builders' refusal check),
  ``discomy.drainHost`` / ``discomy.undrainHost`` (admin), ``discomy.getDrainState``,
  ``discomy.getHostPolicy`` / ``discomy.setHostPolicy`` (admin),
  ``discomy.getPackageConstraints`` / ``discomy.setPackageConstraints`` (admin);
- policy tests ``discomy_power`` and ``discomy_needs`` for koji's ``channel``
  policy.

Config: /etc/koji-hub/plugins/discomy.conf (or $DISCOMY_HUB_CONFIG), read once
at load with ``koji.read_config_files``. A missing file is one warning (defaults
apply); a bad one is one error and the hub keeps stock scheduling.

Package constraints live in tag extra ``discomy.constraints``. Hub-side state is
kept in koji's ``scheduler_sys_data`` table: ``discomy.drained`` (a JSON list of
host ids; builders read it back with ``discomy.getDrainState`` and report their
own flag as ``draining`` in their host data, see ``discomy.placement.drain``)
and ``discomy.host_policy`` (host id -> policy).
"""

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
from kojihub import db, scheduler

from discomy import placement
from discomy.placement import compat, drain, trust
from discomy.placement import constraints as cons
from discomy.placement.hostdata import from_host_data

# DISCOMY_HUB_CONFIG points a hub started by hand (tests, development) at another file.
CONFIG_FILE = os.environ.get("DISCOMY_HUB_CONFIG", "/etc/koji-hub/plugins/discomy.conf")
DRAINED_KEY = "discomy.drained"
POLICY_KEY = "discomy.host_policy"
HISTORY_TTL = 3600
LEARN_TTL = 3600        # learned speeds are recomputed this often
LEARN_LIMIT = 20000     # newest finished buildArch tasks read for learning

logger = logging.getLogger("koji.plugin.discomy")
StockTaskScheduler = scheduler.TaskScheduler


def read_config(path=CONFIG_FILE):
    """The placement config, or None (stock scheduling) if the file is invalid."""
    if not os.path.exists(path):
        logger.warning("discomy: %s not found; placing tasks with the default settings", path)
        return placement.PlacementConfig()
    try:
        parser = koji.read_config_files([(path, True)], raw=True)
        sections = {name: dict(parser.items(name)) for name in parser.sections()}
        return placement.parse_config(sections)
    except Exception as exc:  # any unreadable file: one line, never a hub that fails to load
        logger.error("discomy: %s: %s; using stock koji scheduling", path, exc)
        return None


CONFIG = read_config()
_history_cache = {}     # package -> (fetched_at, last buildArch seconds or None)
_learned = {}           # "at": fetched_at, "speeds": host id -> LearnedSpeed
_logged_waits = {}      # task_id -> last reason logged, so waits are logged once per change
_logged_reserved = {}   # host_id -> power task id, so reservations are logged once
_warned = {}            # warning -> task ids (or None) it was logged for


def warn_once(message, task_ids=None):
    """Log a warning once for the tasks it concerns (once at all without tasks)."""
    if sum(len(v or ()) for v in _warned.values()) > 10000:
        _warned.clear()
    if task_ids is None:
        if message not in _warned:
            _warned[message] = None
            logger.warning("discomy: %s", message)
        return
    seen = _warned.setdefault(message, set()) or set()
    new = sorted(set(task_ids) - seen)
    if new:
        _warned[message] = seen | set(new)
        shown = ", ".join(map(str, new[:10])) + (f" and {len(new) - 10} more" if len(new) > 10
                                                 else "")
        logger.warning("discomy: %s (task%s %s)", message, "s" if len(new) > 1 else "", shown)


# ----------------------------------------------------------------- reading koji

def read_sys_data(name):
    query = db.QueryProcessor(tables=["scheduler_sys_data"], columns=["data"],
                              clauses=["name = %(name)s"], values={"name": name})
    value = query.singleValue(strict=False)
    return json.loads(value) if isinstance(value, str) else value


def write_sys_data(name, value):
    upsert = db.UpsertProcessor("scheduler_sys_data", keys=["name"],
                                data={"name": name, "data": json.dumps(value)})
    upsert.execute()


def drained_host_ids():
    return set(read_sys_data(DRAINED_KEY) or [])


def write_drained_host_ids(ids):
    write_sys_data(DRAINED_KEY, sorted(ids))


def host_policies():
    policies, warnings = trust.parse_policies(read_sys_data(POLICY_KEY))
    for warning in warnings:
        warn_once(warning)
    return policies


def buildarch_samples(config):
    """Closed buildArch tasks of complete builds in the learning window, newest first."""
    # the window and the order are on build.completion_time, which koji indexes
    query = db.QueryProcessor(
        tables=["task"],
        columns=["task.host_id", "package.name", "task.arch",
                 "date_part('epoch', task.completion_time) - "
                 "date_part('epoch', task.start_time)",
                 "build.completion_time"],
        aliases=["host_id", "name", "arch", "seconds", "completed"],
        joins=["build ON build.task_id = task.parent", "package ON build.pkg_id = package.id"],
        clauses=["task.method = 'buildArch'", "task.state = %(closed)s",
                 "build.state = %(complete)s", "task.host_id IS NOT NULL",
                 "build.completion_time > to_timestamp(%(since)s)"],
        values={"closed": koji.TASK_STATES["CLOSED"],
                "complete": koji.BUILD_STATES["COMPLETE"],
                "since": time.time() - config.trust.learn_window_s},
        opts={"order": "-completed", "limit": LEARN_LIMIT})
    return [trust.BuildSample(r["host_id"], r["name"], r["arch"], r["seconds"])
            for r in query.execute()]


def learned_speeds(hosts, policies, config):
    """host id -> LearnedSpeed, recomputed every LEARN_TTL seconds."""
    if not config.trust.learn:
        return {}
    now = time.time()
    if now - _learned.get("at", 0) > LEARN_TTL:
        claimed = {h.host_id: trust.bounded_speed(h.data.speed, config.trust) for h in hosts}
        pinned = {hid: p.speed for hid, p in policies.items() if p.speed is not None}
        _learned["speeds"] = trust.learn_speeds(buildarch_samples(config), claimed, pinned,
                                                config.trust)
        _learned["at"] = now
    return _learned["speeds"]


def trusted_hosts(rows, config):
    """Enabled host rows -> ``trust.Trusted``: each host as claimed, learned and in force."""
    drained = drained_host_ids()
    policies = host_policies()
    claimed = []
    for row in rows:
        host, warnings = placement.HostCapabilities.from_koji(row, drained=row["id"] in drained)
        for warning in warnings:
            logger.debug("discomy: %s", warning)
        claimed.append(host)
    learned = learned_speeds(claimed, policies, config)
    return [trust.in_force(h, policies.get(h.host_id, trust.NO_POLICY),
                           learned.get(h.host_id), config.trust) for h in claimed]


def core_hosts(rows, config):
    return [t.host for t in trusted_hosts(rows, config)]


def buildarch_sources(tasks):
    """task id -> (package, build tag) for buildArch tasks, from their requests."""
    ids = [t["task_id"] for t in tasks if t.get("method") in placement.CONSTRAINED_METHODS]
    if not ids:
        return {}
    query = db.QueryProcessor(tables=["task"], columns=["id", "request"],
                              clauses=["id IN %(ids)s"], values={"ids": ids})
    out = {}
    for row in query.execute():
        try:
            params, _ = koji.xmlrpcplus.loads(row["request"])
            params = koji.tasks.parse_task_params("buildArch", params)
        except Exception:
            warn_once("cannot read the request; placed without constraints", [row["id"]])
            continue
        out[row["id"]] = (cons.package_from_source(params.get("pkg")), params.get("root"))
    return out


def tag_rules(tag):
    """A build tag's constraints (inherited like other extra), read leniently, and warnings."""
    try:
        extra = context.handlers.call("getBuildConfig", tag).get("extra") or {}
    except koji.GenericError as exc:
        return {}, [f"cannot read build tag {tag}: {str(exc).strip()}"]
    rules, warnings = cons.parse_rules(extra.get(cons.TAG_EXTRA_KEY), strict=False)
    return rules, [f"tag {tag}: {w}" for w in warnings]


def last_buildarch_seconds(packages):
    """package -> duration of its latest complete build's slowest buildArch (cached)."""
    now = time.time()
    wanted = [p for p in packages
              if p not in _history_cache or now - _history_cache[p][0] > HISTORY_TTL]
    if wanted:
        query = db.QueryProcessor(
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
    rules = {}
    for tag in sorted({s[1] for s in sources.values() if s[1]}):
        rules[tag], warnings = tag_rules(tag)
        for warning in warnings:
            warn_once(warning, [tid for tid, s in sources.items() if s[1] == tag])
    history = {}
    if config.uses_history:
        history = last_buildarch_seconds(sorted({s[0] for s in sources.values() if s[0]}))
    tasks = []
    for row in free_rows:
        package, tag = sources.get(row["task_id"], (None, None))
        req = placement.task_requirements(package, rules.get(tag, {}), history.get(package),
                                          config)
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
        # a failed query aborts PostgreSQL's transaction: without this the stock pass fails too
        savepoint = db.Savepoint("discomy_schedule")
        try:
            config = pass_config(self)
            hosts = core_hosts(self.hosts.values(), config)
            free = core_tasks(self.free_tasks, config)
            result = placement.schedule(free, core_active(self.active_tasks), hosts,
                                        self.get_refusals(), config, now=time.time())
            self.write_back(result, free, config)
        except Exception:
            logger.exception("discomy: placement failed; stock scheduling for this pass")
            savepoint.rollback()
            return super().do_schedule()

    def write_back(self, result, free, config):
        rows = {t["task_id"]: t for t in self.free_tasks}
        # tasks with constraints or a power job's history (a build's duration alone,
        # kept for wait_for_faster, is not worth a line per task: explainTask says it)
        constrained = {t.task_id for t in free if t.req.why}
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


def install_scheduler():
    """Swap koji's TaskScheduler for ours if this koji has what it uses (one error line if not)."""
    modules = {"scheduler": scheduler, "db": db}
    missing = []
    for need in compat.SCHEDULER_NEEDS:
        module, *names = need.split(".")
        value = modules[module]
        for name in names:
            value = getattr(value, name, None)
        if value is None:
            missing.append(need)
    problem = compat.scheduler_problem(getattr(koji, "__version_info__", None), missing)
    if problem:
        logger.error("discomy: %s; using stock koji scheduling", problem)
        return False
    scheduler.TaskScheduler = DiscomyTaskScheduler
    return True


install_scheduler()


# ----------------------------------------------------------------- API calls

def _snapshot():
    """Hosts, active and free tasks as the scheduler reads them (queries only)."""
    sched = StockTaskScheduler()
    sched.get_tasks()
    sched.get_hosts()
    return sched, pass_config(sched)


@export_in("discomy")
def hostCapabilities(host=None):
    """List enabled hosts as placement sees them: cpus, memory, disk, speed, load, draining.

    The values are those in force; ``claimed``, ``learned``, ``policy``,
    ``speed_source`` and ``trust_notes`` say where they came from.

    :param host: only this host (name or id)
    :returns list[dict]: one entry per host
    """
    sched, config = _snapshot()
    running = {}
    for task in sched.active_tasks:
        running[task["host_id"]] = running.get(task["host_id"], 0) + 1
    info = kojihub.get_host(host, strict=True) if host is not None else None
    out = [dict(placement.host_summary(t.host, running.get(t.host.host_id, 0), config),
                **trust.trust_summary(t))
           for t in trusted_hosts(sched.hosts.values(), config)
           if info is None or t.host.host_id == info["id"]]
    if info is not None and not out:
        # a disabled host: the scheduler does not see it, but --wait still needs its tasks
        out.append({"id": info["id"], "name": info["name"], "enabled": False,
                    "running_tasks": running.get(info["id"], 0)})
    return out


# hub.conf settings an estimate of this hub needs (kojihub/kojixmlrpc.py config_map)
SCHEDULER_SETTINGS = ("RunInterval", "MaxJobs", "CapacityOvercommit", "MaxRepoTasks")


@export_in("discomy")
def schedulerSettings():
    """The hub.conf settings koji's scheduler and repo queue run with here.

    ``discomy rebuild --dry-run`` estimates a campaign on this hub with them.

    :returns dict: RunInterval, MaxJobs, CapacityOvercommit, MaxRepoTasks
    """
    return {key: context.opts.get(key) for key in SCHEDULER_SETTINGS}


def _task_row(task_id):
    """A task as the scheduler's ``get_tasks`` reads it."""
    info = kojihub.Task(task_id).getInfo(strict=True)
    return info, {"task_id": task_id, "channel_id": info["channel_id"], "arch": info["arch"],
                  "weight": info["weight"], "priority": info["priority"],
                  "create_ts": info.get("create_ts") or 0.0, "method": info["method"]}


@export_in("discomy")
def explainTask(task_id):
    """Explain where a task can run: its requirements and a verdict with reasons per host."""
    task_id = kojihub.convert_value(task_id, cast=int)
    info, row = _task_row(task_id)
    sched, config = _snapshot()
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


@export_in("discomy")
def fitTask(task_id, host):
    """May this host take the task? The builder plugin's refusal check, decided on the hub.

    The task's requirements are those of the scheduler's pass (hub defaults,
    the build tag's constraints, build history) and the host is the one in
    force (its last host data within bounds, under its policy), judged by the
    pass's own fit test.

    :returns dict: task_id, host, requirements, refuse (a reason, or None to take it)
    """
    task_id = kojihub.convert_value(task_id, cast=int)
    hostinfo = kojihub.get_host(host, strict=True)
    _, row = _task_row(task_id)
    config = CONFIG or placement.PlacementConfig()
    req = core_tasks([row], config)[0].req
    rows = scheduler.get_host_data(hostinfo["id"])
    claimed, _ = placement.HostCapabilities.from_koji(
        {"id": hostinfo["id"], "name": hostinfo["name"], "arches": hostinfo["arches"],
         "ready": True, "data": rows[0]["data"] if rows else None})
    policy = host_policies().get(hostinfo["id"], trust.NO_POLICY)
    # speed is no hard constraint: the learned speed cannot change the verdict
    host_now = trust.in_force(claimed, policy, None, config.trust).host
    return {"task_id": task_id, "host": hostinfo["name"],
            "requirements": placement.requirements_summary(req),
            "refuse": placement.refusal_reason(host_now, req, config.unknown_fits)}


def _host_policy_view(info):
    policy = host_policies().get(info["id"], trust.NO_POLICY)
    return {"host_id": info["id"], "name": info["name"], "policy": trust.policy_to_json(policy),
            "text": policy.describe()}


@export_in("discomy")
def getHostPolicy(host):
    """A host's policy: capabilities an admin pinned or capped over what it claims."""
    return _host_policy_view(kojihub.get_host(host, strict=True))


@export_in("discomy")
def setHostPolicy(host, policy=None, unset=None, clear=False):
    """Pin or cap what placement believes of a host (admin).

    :param policy: keys to set, e.g. {"speed": 1.0, "max_memory": "64G"}; pins are
        speed, cpus, memory, features; caps are max_speed, max_cpus, max_memory, max_disk
    :param unset: keys to remove
    :param clear: remove the whole policy
    :returns dict: the host's policy now
    """
    context.session.assertPerm("admin")
    info = kojihub.get_host(host, strict=True)
    policies = host_policies()
    current = trust.NO_POLICY if clear else policies.get(info["id"], trust.NO_POLICY)
    try:
        new = trust.merge_policy(current, policy or {}, unset or ())
    except trust.PolicyError as exc:
        raise koji.ParameterError(f"Invalid policy for host {info['name']}: {exc}")
    policies[info["id"]] = new
    write_sys_data(POLICY_KEY, {str(hid): trust.policy_to_json(p)
                                for hid, p in sorted(policies.items()) if not p.is_empty()})
    _learned.clear()      # a pinned host's claim no longer sets the learned speeds' scale
    scheduler.log_both(f"discomy: host policy set by {context.session.user_data['name']}: "
                       f"{new.describe()}", host_id=info["id"])
    return _host_policy_view(info)


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
        rules, warnings = tag_rules(build_tag)
        for warning in warnings:
            warn_once(warning)
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
