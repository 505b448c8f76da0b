# SPDX-License-Identifier: MIT
"""Discomy kojid plugin: tell the hub what this builder can do, and build to fit.

Adds to kojid (koji 1.34+), by wrapping ``koji.daemon.TaskManager`` and
``koji.genMockConfig`` when kojid loads the plugin:

- host data: the probe (cpus, memory, disk, speed, virtualization, native and
  emulated arches, load) merged under the ``"discomy"`` key of the scheduler
  host data kojid sends with ``host.updateHost``;
- drain: while the flag file exists (``discomy-builder drain``) the builder
  takes no new task, running ones finish, and the hub sees ``draining``;
- refusals: a buildArch task whose package constraints (tag extra
  ``discomy.constraints``) this host definitely cannot meet is refused softly
  with the reason, a safety net for hubs without the Discomy hub plugin;
- buildroots: ``%_smp_build_ncpus`` sized to the cpus, the load and the running
  tasks' koji weights (a tag's own ``rpm.macro._smp_build_ncpus`` wins), and
  the cross-build package lists for foreign target arches.

Config: /etc/kojid/plugins/discomy.conf (or $DISCOMY_BUILDER_CONFIG). A bad
value is logged with its key and keeps its default; the other keys apply and
kojid keeps running.
"""

import configparser
import json
import logging
import os
from pathlib import Path

import koji
import koji.daemon
import yaml

from discomy import buildopts, builder_config, constraints, placement
from discomy.hostdata import merge_host_data
from discomy.probe import CachedProbe

CONFIG_FILE = os.environ.get("DISCOMY_BUILDER_CONFIG", "/etc/kojid/plugins/discomy.conf")

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
PROBE = CachedProbe(ttl=CONFIG.probe_ttl, paths=CONFIG.paths,
                    bench_cache=Path(CONFIG.bench_cache) if CONFIG.bench_cache else None)


def draining():
    return os.path.exists(CONFIG.drain_flag)


def write_state(manager):
    """Running tasks and their weights, for buildroots (forked) and discomy-builder."""
    tasks = [{"id": tid, "weight": float(t.get("weight") or 0.0), "method": t.get("method")}
             for tid, t in manager.tasks.items()]
    try:
        os.makedirs(os.path.dirname(CONFIG.state_file), exist_ok=True)
        with open(CONFIG.state_file + ".tmp", "w") as f:
            json.dump({"tasks": tasks, "draining": draining()}, f)
        os.replace(CONFIG.state_file + ".tmp", CONFIG.state_file)
    except OSError as exc:
        logger.warning("cannot write %s: %s", CONFIG.state_file, exc)


def running_weights():
    try:
        with open(CONFIG.state_file) as f:
            return [t["weight"] for t in json.load(f)["tasks"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


# -- TaskManager: host data, drain, refusals -----------------------------------

_stock_get_host_data = koji.daemon.TaskManager._get_host_data
_stock_take_task = koji.daemon.TaskManager.takeTask


def _get_host_data(self):
    data = _stock_get_host_data(self)
    write_state(self)
    return merge_host_data(data, PROBE(running_tasks=len(self.tasks), draining=draining()))


def requirements(session, task):
    """The placement requirements of a buildArch task (none for other methods)."""
    if task.get("method") != "buildArch":
        return placement.NO_REQUIREMENTS
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


def _take_task(self, task):
    if draining():
        logger.info("draining: not taking task %s", task["id"])
        return False
    if CONFIG.refuse:
        host = placement.HostCapabilities.from_data(os.uname().nodename, PROBE())
        reason = placement.refusal_reason(host, requirements(self.session, task))
        if reason:
            logger.warning("refusing task %s: %s", task["id"], reason)
            self.session.host.refuseTask(task["id"], soft=True, msg=reason)
            return False
    return _stock_take_task(self, task)


koji.daemon.TaskManager._get_host_data = _get_host_data
koji.daemon.TaskManager.takeTask = _take_task


# -- buildroots: -jN and cross packages ------------------------------------------

_stock_gen_mock_config = koji.genMockConfig


def gen_mock_config(name, arch, managed=False, repoid=None, tag_name=None, **opts):
    host = PROBE()
    tag_macros = dict(opts.get("tag_macros") or {})
    if host.cpus:
        jobs = buildopts.smp_jobs(host.cpus, host.load1, running_weights(), 1.5, CONFIG.bounds)
        tag_macros.update(buildopts.smp_macros(tag_macros, jobs))
    opts["tag_macros"] = tag_macros
    output = _stock_gen_mock_config(name, arch, managed, repoid, tag_name, **opts)
    target = opts.get("target_arch") or arch
    lists = buildopts.cross_lists(CROSS, os.uname().machine, target)
    if lists:
        output += "\n# discomy: cross-build packages\n" + "\n".join(buildopts.mock_config_lines(lists)) + "\n"
    return output


koji.genMockConfig = gen_mock_config
