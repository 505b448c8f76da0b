"""Capability-aware task placement: the decisions behind koji's hub scheduler.

Pure: plain typed data in, decisions out, standard library only (and koji's own
NVR parsing). This package is all that the hub and builder plugins need of
Discomy: the hub plugin gathers koji's rows, converts them here, calls
:func:`schedule` and writes the assignments back; the builder plugin calls
:func:`refusal_reason` to refuse tasks its host cannot meet. It may import
:mod:`discomy.common` and nothing else of Discomy.

Modules: ``hostdata`` (the scheduler host-data contract), ``constraints``
(package constraints in tag extra), ``drain`` (who drains a host),
``hosts``, ``trust`` (claims within bounds, admin policy, learned speed: the
host in force), ``requirements``, ``config`` (discomy.conf), ``fit``,
``schedule`` (one pass), ``explain`` (verdicts and JSON views) and ``compat``
(whether this koji's scheduler can be extended).

Stable interface:

- ``HostCapabilities.from_koji(row, drained=False) -> (HostCapabilities, warnings)``
  from a koji scheduler host row (``id, name, arches, channels, capacity,
  task_load, ready, update_ts, data``); ``HostCapabilities.from_data(name,
  HostData)`` for a builder describing itself.
- ``TaskRequirements`` and ``requirements_for(package, defaults, tag_rules,
  last_duration_s, power_after_s) -> TaskRequirements``.
- ``trust.in_force(host, policy, learned, trust_config) -> Trusted`` (``.host``
  is what placement uses); ``trust.learn_speeds(samples, claimed, pinned,
  trust_config)``; ``trust.HostPolicy`` / ``parse_policy`` / ``policy_to_json``.
- ``fits(host, req) -> Fit``: hard capability constraints only (memory, disk,
  cpus, virt, features); ``Fit.ok``, ``Fit.reasons`` ("builder3: needs 32 GiB
  memory, has 16 GiB"), ``Fit.unknown``. A value the host has not published is
  *unknown*: not a violation, but noted, and such hosts rank after hosts known
  to fit (with ``unknown_fits = false`` in the hub config they are excluded).
- ``refusal_reason(host, req, unknown_fits) -> str | None``: the same fit test
  as one sentence, the builder's refusal (the hub answers it, ``discomy.fitTask``).
- ``PlacementConfig`` and ``parse_config(sections) -> PlacementConfig``
  (discomy.conf ``[scheduler]`` / ``[trust]`` / ``[constraints]``), ``ConfigError``.
- ``is_power_by_history(last_duration_s, power_after_s) -> bool`` and
  ``last_build_durations(rows) -> {package: seconds}`` (the history rule).
- ``schedule(free_tasks, active_tasks, hosts, refusals, config, now) -> Schedule``:
  one scheduler pass.
- ``explain(task, ...) -> list[HostVerdict]``: per-host verdicts for one task.

Koji's own rules are kept exactly (``kojihub/scheduler.py``,
``TaskScheduler.do_schedule``): free tasks in the given ``priority, create_ts``
order; hosts binned by ``channel:arch`` plus ``noarch``; a host qualifies when
ready, ``ntasks < maxjobs``, ``capacity - load > weight - overcommit`` and it
has not refused the task; demand ``weight / len(options)`` normalised to 1;
rank ``load + ntasks + demand``, ties kept in host order. Discomy adds, in
front of the rank, a preference that is equal for every host when there is no
Discomy data, so such a pass decides exactly what stock koji decides:

1. hosts that are known to fit before hosts with unknown values;
2. power jobs go to the fastest fitting host; other jobs keep off *strong*
   hosts (``speed >= strong_speed``) while any power job is waiting;
3. reservation: a power job waiting longer than ``reserve_after_s`` whose
   fitting hosts are all busy reserves the strongest of them, which then takes
   no new non-power task. A reservation ends ``reserve_max_s`` after it began
   and at most ``reserve_max_hosts`` hosts are reserved at once, so nothing
   starves;
4. draining hosts take nothing new.

Hosts enter a pass as they are *in force* (``trust.in_force``): their claims
within the ``[trust]`` bounds, under the admin's policy, with the speed learned
from their builds where it and the claim disagree.
"""

from discomy.placement.config import ConfigError, PlacementConfig, parse_config, parse_duration_s
from discomy.placement.explain import HostVerdict, explain, host_summary, requirements_summary
from discomy.placement.fit import Fit, fits, is_strong, preference, refusal_reason
from discomy.placement.hosts import HostCapabilities
from discomy.placement.requirements import (
                                            CONSTRAINED_METHODS,
                                            NO_REQUIREMENTS,
                                            POWER_METHODS,
                                            TaskRequirements,
                                            is_power_by_history,
                                            last_build_durations,
                                            package_from_srpm,
                                            requirements_for,
                                            task_requirements,
)
from discomy.placement.schedule import ActiveTask, Assignment, FreeTask, Schedule, schedule

__all__ = [
    "ActiveTask", "Assignment", "CONSTRAINED_METHODS", "ConfigError", "Fit", "FreeTask",
    "HostCapabilities", "HostVerdict", "NO_REQUIREMENTS", "POWER_METHODS", "PlacementConfig", "Schedule",
    "TaskRequirements", "explain", "fits", "host_summary", "is_power_by_history", "is_strong",
    "last_build_durations", "package_from_srpm", "parse_config", "parse_duration_s",
    "preference", "refusal_reason", "requirements_for", "requirements_summary", "schedule",
    "task_requirements",
]
