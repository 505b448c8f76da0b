# SPDX-License-Identifier: MIT
"""Discomy kojid plugin: tell the hub what this builder can do, and build to fit.

Adds to kojid (koji 1.34+), by wrapping ``koji.daemon.TaskManager`` and
``koji.genMockConfig`` when kojid loads the plugin:

- host data: the probe (cpus, memory, disk, speed, virtualization, native and
  emulated arches, load) merged under the ``"discomy"`` key of the scheduler
  host data kojid sends with ``host.updateHost``;
- drain (``discomy.placement.drain``): while the builder's flag file exists
  (``discomy-builder drain``, published as ``draining``) or the hub drains the
  host (``koji drain-host``, read back with ``discomy.getDrainState``), kojid
  reports itself not ready, so nothing new is assigned; a task still assigned
  to it, or to a disabled host, is handed back at once with a soft refusal;
  running tasks finish;
- refusals: a buildArch task this host must not take is refused softly with
  the reason. The hub decides (``discomy.fitTask``) with the scheduler's own
  requirements and fit test, on the host as the hub sees it; a hub without the
  Discomy plugin leaves it to the tag's ``discomy.constraints`` and the probe;
- buildroots: ``%_smp_build_ncpus`` sized to the cpus, the load and the task's
  own koji weight next to the other tasks kojid runs (a tag's own
  ``rpm.macro._smp_build_ncpus`` wins), and the cross-build package lists for
  foreign target arches.

Config: /etc/kojid/plugins/discomy.conf (or $DISCOMY_BUILDER_CONFIG). A bad
value is logged with its key and keeps its default; the other keys apply and
kojid keeps running. $DISCOMY_PROBE_ROOT makes the probe read /proc and /sys
from a recorded tree instead of / (tests, or reproducing another builder's numbers).
"""

import configparser
import json
import logging
import os
import time
from pathlib import Path

import koji
import koji.daemon
import yaml

from discomy import placement
from discomy.builder import buildopts, probe
from discomy.builder import config as builder_config
from discomy.placement import constraints, drain
from discomy.placement.hostdata import merge_host_data

CONFIG_FILE = os.environ.get("DISCOMY_BUILDER_CONFIG", "/etc/kojid/plugins/discomy.conf")
PROBE_ROOT = os.environ.get("DISCOMY_PROBE_ROOT", "/")
HUB_RETRY_S = 600            # a hub without a discomy.* call is asked again this late

logger = logging.getLogger("koji.plugin.discomy_builder")


def read_cross(path):
    if not path:
        return {}
    try:
        with open(path) as f:
            return buildopts.parse_cross_config(yaml.safe_load(f), path)
    except (OSError, yaml.YAMLError, buildopts.BuildoptsError) as exc:
        logger.error("discomy builder plugin: cross_config %s: %s; no cross packages", path, exc)
        return {}


def read_config(path=CONFIG_FILE):
    """The settings (bad keys keep their defaults, one error line each) and the cross lists."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path)
    except configparser.Error as exc:
        logger.error("discomy builder plugin: %s cannot be read (%s); using the defaults",
                     path, exc)
        parser = configparser.ConfigParser()
    values = dict(parser[builder_config.SECTION]) if parser.has_section(builder_config.SECTION) \
        else {}
    config, errors = builder_config.parse_builder_config(values)
    for error in errors:
        logger.error("discomy builder plugin: %s: %s", path, error)
    return config, read_cross(config.cross_config)


CONFIG, CROSS = read_config()
PROBE = probe.CachedProbe(ttl=CONFIG.probe_ttl, root=PROBE_ROOT, paths=CONFIG.paths,
                          bench_cache=Path(CONFIG.bench_cache) if CONFIG.bench_cache else None)
JOBS_DIR = os.path.join(os.path.dirname(CONFIG.state_file), "jobs")
_hub_unknown_until = {}      # discomy.* call -> when to ask a hub that lacked it again
_current_task = []           # the handler kojid runs in this process (a forked task: one)


# -- state shared with buildroots (forked) and discomy-builder --------------------

def write_state(manager, state):
    """Running tasks and the drain switches, for buildroots and ``discomy-builder``."""
    tasks = [{"id": tid, "weight": float(t.get("weight") or 0.0),
              "waiting": bool(t.get("waiting")), "method": t.get("method")}
             for tid, t in manager.tasks.items()]
    try:
        os.makedirs(JOBS_DIR, exist_ok=True)
        with open(CONFIG.state_file + ".tmp", "w") as f:
            json.dump({"host": (manager.hostdata or {}).get("name"), "tasks": tasks,
                       "draining": state.draining, "drain": state.sources,
                       "disabled": state.disabled}, f)
        os.replace(CONFIG.state_file + ".tmp", CONFIG.state_file)
        for name in os.listdir(JOBS_DIR):
            if not name.isdigit() or int(name) not in manager.tasks:
                os.unlink(os.path.join(JOBS_DIR, name))
    except OSError as exc:
        logger.warning("cannot write %s: %s", CONFIG.state_file, exc)


def recorded_jobs():
    """task id -> the -jN its buildroot got (written by the forked task)."""
    jobs = {}
    try:
        for name in os.listdir(JOBS_DIR):
            with open(os.path.join(JOBS_DIR, name)) as f:
                jobs[int(name)] = int(f.read())
    except (OSError, ValueError):
        pass
    return jobs


def record_jobs(task_id, jobs):
    try:
        os.makedirs(JOBS_DIR, exist_ok=True)
        with open(os.path.join(JOBS_DIR, str(task_id)), "w") as f:
            f.write(str(jobs))
    except OSError as exc:
        logger.warning("cannot record -j%s of task %s: %s", jobs, task_id, exc)


def state_file_tasks():
    try:
        with open(CONFIG.state_file) as f:
            return json.load(f)["tasks"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


# -- TaskManager: host data, drain, refusals -----------------------------------

_stock_get_host_data = koji.daemon.TaskManager._get_host_data
_stock_ready_for_task = koji.daemon.TaskManager.readyForTask
_stock_get_next_task = koji.daemon.TaskManager.getNextTask
_stock_take_task = koji.daemon.TaskManager.takeTask
_stock_run_task = koji.daemon.TaskManager.runTask


def drain_flag():
    return os.path.exists(CONFIG.drain_flag)


def ask_hub(session, call, *args):
    """A ``discomy.*`` call's answer, or None from a hub without it (asked again later)."""
    if time.time() < _hub_unknown_until.get(call, 0.0):
        return None
    try:
        return getattr(session.discomy, call)(*args)
    except koji.GenericError as exc:
        logger.info("the hub cannot answer discomy.%s (%s); asking again in %d s",
                    call, str(exc).strip(), HUB_RETRY_S)
        _hub_unknown_until[call] = time.time() + HUB_RETRY_S
        return None


def hub_drained(manager):
    """``koji drain-host`` for this host, as the hub says (None: a hub that cannot say)."""
    state = ask_hub(manager.session, "getDrainState", manager.host_id)
    return None if state is None else bool(state["drained"])


def drain_state(manager):
    return getattr(manager, "discomy_drain", None) or drain.DrainState(flag=drain_flag())


def _ready_for_task(self):
    ready = _stock_ready_for_task(self)
    self.discomy_drain = drain.DrainState(
        flag=drain_flag(), hub=hub_drained(self),
        disabled=not (self.hostdata or {}).get("enabled", True))
    if ready and self.discomy_drain.draining:
        self.status = drain.describe(self.discomy_drain.sources)
        logger.info("not ready for tasks: %s", self.status)
        return False
    return ready


def _get_next_task(self):
    taken = _stock_get_next_task(self)
    reason = drain_state(self).hand_back_reason()
    if not self.ready and reason:
        # assigned before the hub heard we are not ready: hand back now, not at AssignTimeout
        for task in self.session.host.getTasks():
            if (task["host_id"] == self.host_id
                    and task["state"] == koji.TASK_STATES["ASSIGNED"]):
                logger.info("handing back task %s: %s", task["id"], reason)
                self.session.host.refuseTask(task["id"], soft=True, msg=reason)
    return taken


def _get_host_data(self):
    data = _stock_get_host_data(self)
    state = drain_state(self)
    write_state(self, state)
    return merge_host_data(data, PROBE(running_tasks=len(self.tasks), draining=state.flag))


def requirements(session, task):
    """A buildArch task's requirements from its tag alone (a hub without the Discomy plugin)."""
    info = session.getTaskInfo(task["id"], request=True)
    request = info.get("request") or []
    package = placement.package_from_srpm(request[0]) if request else None
    if not package or len(request) < 2:
        return placement.NO_REQUIREMENTS
    extra = (session.getBuildConfig(request[1]) or {}).get("extra") or {}
    rules, warnings = constraints.parse_rules(extra.get(constraints.TAG_EXTRA_KEY) or {},
                                              strict=False)
    for warning in warnings:
        logger.warning("tag %s: %s", request[1], warning)
    return placement.requirements_for(package, {}, rules)


def refusal(manager, task):
    """Why this host must not take ``task`` (None: take it)."""
    if task.get("method") not in placement.CONSTRAINED_METHODS:
        return None
    verdict = ask_hub(manager.session, "fitTask", task["id"], manager.host_id)
    if verdict is not None:
        return verdict["refuse"]
    host = placement.HostCapabilities.from_data(os.uname().nodename, PROBE())
    return placement.refusal_reason(host, requirements(manager.session, task))


def _take_task(self, task):
    # the flag may have appeared since this loop's readyForTask
    reason = drain.DrainState(flag=drain_flag()).hand_back_reason()
    if reason is None and CONFIG.refuse:
        reason = refusal(self, task)
    if reason:
        logger.warning("refusing task %s: %s", task["id"], reason)
        self.session.host.refuseTask(task["id"], soft=True, msg=reason)
        return False
    return _stock_take_task(self, task)


def _run_task(self, handler):
    _current_task.append(handler)
    try:
        return _stock_run_task(self, handler)
    finally:
        _current_task.pop()


koji.daemon.TaskManager._get_host_data = _get_host_data
koji.daemon.TaskManager.readyForTask = _ready_for_task
koji.daemon.TaskManager.getNextTask = _get_next_task
koji.daemon.TaskManager.takeTask = _take_task
koji.daemon.TaskManager.runTask = _run_task


# -- buildroots: -jN and cross packages ------------------------------------------

_stock_gen_mock_config = koji.genMockConfig


def host_tasks():
    """The tasks kojid runs, with current weights, and the -jN each buildroot got.

    A forked task asks the hub (its weight was just raised by updateWeight);
    elsewhere, or if the hub cannot answer, the state file kojid's loop writes.
    """
    rows = None
    if _current_task:
        try:
            rows = _current_task[-1].session.host.getHostTasks()
        except Exception as exc:  # sizing -jN must never fail the build
            logger.warning("cannot read this host's tasks from the hub: %s", exc)
    if rows is None:
        rows = state_file_tasks()
    jobs = recorded_jobs()
    return [buildopts.RunningTask(int(r["id"]), float(r.get("weight") or 0.0),
                                  bool(r.get("waiting")), jobs.get(int(r["id"])))
            for r in rows]


def gen_mock_config(name, arch, managed=False, repoid=None, tag_name=None, **opts):
    tag_macros = dict(opts.get("tag_macros") or {})
    view = probe.cpu_view(PROBE_ROOT)
    if view is not None:
        task_id = _current_task[-1].id if _current_task else None
        decision = buildopts.task_jobs(view, host_tasks(), task_id, CONFIG.bounds)
        macros = buildopts.smp_macros(tag_macros, decision.jobs)
        if macros:
            tag_macros.update(macros)
            if task_id is not None:
                record_jobs(task_id, decision.jobs)
            logger.info("task %s, buildroot %s: %s", task_id, name, decision.describe())
        else:
            logger.info("task %s, buildroot %s: the tag sets %s", task_id, name,
                        buildopts.SMP_MACRO)
    opts["tag_macros"] = tag_macros
    output = _stock_gen_mock_config(name, arch, managed, repoid, tag_name, **opts)
    target = opts.get("target_arch") or arch
    lists = buildopts.cross_lists(CROSS, os.uname().machine, target)
    if lists:
        output += "\n# discomy: cross-build packages\n" + "\n".join(buildopts.mock_config_lines(lists)) + "\n"
    return output


koji.genMockConfig = gen_mock_config
