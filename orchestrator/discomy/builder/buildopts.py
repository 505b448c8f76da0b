"""Build options for a buildroot: -jN and cross-build package lists (pure core).

**-jN.** ``task_jobs`` gives a buildroot's ``%_smp_build_ncpus``: the task's
share of the builder's cpus by koji task weight among the tasks kojid runs (a
6.0-weight LibreOffice build next to a 1.5-weight one gets four times the cpus;
alone it gets them all). Tasks waiting on subtasks use no cpu and do not count,
and the task never counts against itself. The share is reduced when the load
average shows cpus busy with work that is not ours, and clamped to the
configured bounds. A tag that sets ``rpm.macro._smp_build_ncpus`` always wins:
``smp_macros`` then adds nothing.

**Cross builds.** A YAML mapping ``host arch -> target arch -> lists``::

    x86_64:
      aarch64:
        add: [qemu-user-static-aarch64]       # packages added to the buildroot
        preinstall: [bash, coreutils]         # host-arch helpers (OBS-style, for speed)
        no_reinstall: [filesystem]            # never reinstall these in the chroot

Native builds (host arch == target arch) get nothing, and listing one is an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from discomy.placement.schedule import BUILDARCH_OPEN_WEIGHT

SMP_MACRO = "%_smp_build_ncpus"
CROSS_KEYS = ("add", "preinstall", "no_reinstall")
_PACKAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-()/:]*$")
_ARCH_RE = re.compile(r"^[a-z0-9_]+$")


class BuildoptsError(ValueError):
    """Bad build-option settings; the message names the key."""


BUILDARCH_WEIGHT = BUILDARCH_OPEN_WEIGHT  # koji's base buildArch weight, before updateWeight


@dataclass(frozen=True)
class SmpBounds:
    min_jobs: int = 1
    max_jobs: Optional[int] = None       # None: up to every cpu
    reserve_cpus: int = 0                # cpus kept for kojid and the system


@dataclass(frozen=True)
class CpuView:
    """The cpus a builder sees when it sizes a buildroot."""

    cpus: int                            # cpus kojid may use: online, affinity, cgroup quota
    online: Optional[int] = None         # cpus of the whole machine, which the load average counts
    load1: Optional[float] = None


@dataclass(frozen=True)
class RunningTask:
    """A task kojid runs (``host.getHostTasks``), with the -jN its buildroot got, if any."""

    task_id: int
    weight: float
    waiting: bool = False                # waiting on subtasks: it uses no cpu
    jobs: Optional[int] = None


@dataclass(frozen=True)
class JobsDecision:
    jobs: int
    task_weight: float
    others: tuple                        # the RunningTasks it was sized against
    view: CpuView

    def describe(self) -> str:
        busy = [t for t in self.others if not t.waiting]
        others = ", ".join(f"{t.task_id} (weight {t.weight:g}"
                           + (f", -j{t.jobs})" if t.jobs is not None else ")") for t in busy)
        online = f" of {self.view.online} online" if self.view.online else ""
        load = "unknown" if self.view.load1 is None else f"{self.view.load1:g}"
        return (f"-j{self.jobs}: weight {self.task_weight:g}, {self.view.cpus} cpus{online}, "
                f"load {load}, other tasks: {others or 'none'}")


def smp_jobs(view: CpuView, others: Iterable[RunningTask], task_weight: float,
             bounds: SmpBounds = SmpBounds()) -> int:
    """``%_smp_build_ncpus`` for a task of ``task_weight`` starting next to ``others``."""
    if view.cpus < 1:
        raise ValueError("cpus must be at least 1")
    usable = max(1, view.cpus - bounds.reserve_cpus)
    weight = max(task_weight, 0.1)
    busy = [t for t in others if not t.waiting and t.weight > 0]
    busy_weight = sum(t.weight for t in busy)
    share = usable * weight / (busy_weight + weight)
    if view.load1 is not None:
        # Load our other tasks may cause is not foreign: the -jN each got (a task that
        # started alone keeps all cpus), else its share of the cpus among them.
        own = sum(min(t.jobs, usable) if t.jobs is not None else usable * t.weight / busy_weight
                  for t in busy)
        foreign = max(0.0, view.load1 - own)
        # the load average counts the whole machine, a cgroup quota only us
        machine = max(view.online or view.cpus, view.cpus)
        free = round(machine - foreign)
        share = min(share, max(1, min(usable, free)))
    # 207 * w / w can come out a hair under 207: floor the share, not the rounding error
    jobs = max(1, math.floor(share + 1e-9))
    jobs = max(jobs, bounds.min_jobs)
    if bounds.max_jobs is not None:
        jobs = min(jobs, bounds.max_jobs)
    return max(1, min(jobs, usable))


def task_jobs(view: CpuView, host_tasks: Iterable[RunningTask], task_id: Optional[int],
              bounds: SmpBounds = SmpBounds()) -> JobsDecision:
    """-jN for task ``task_id`` among the tasks kojid runs, never counted against itself.

    Its weight is its own entry's (koji raises a buildArch's weight with the
    package's build history), else the base buildArch weight.
    """
    tasks = list(host_tasks)
    own = [t.weight for t in tasks if t.task_id == task_id and t.weight > 0]
    weight = own[0] if own else BUILDARCH_WEIGHT
    others = tuple(t for t in tasks if t.task_id != task_id)
    return JobsDecision(smp_jobs(view, others, weight, bounds), weight, others, view)


def smp_macros(tag_macros: Mapping[str, str], jobs: int) -> dict:
    """The macros to add to a buildroot: none when the tag already sets the job count."""
    if SMP_MACRO in tag_macros or SMP_MACRO.lstrip("%") in tag_macros:
        return {}
    return {SMP_MACRO: str(int(jobs))}


@dataclass(frozen=True)
class CrossLists:
    add: tuple = ()
    preinstall: tuple = ()
    no_reinstall: tuple = ()

    def __bool__(self) -> bool:
        return bool(self.add or self.preinstall or self.no_reinstall)


CrossConfig = Mapping[tuple, CrossLists]


def parse_cross_config(data: Any, source: str = "cross.yaml") -> dict:
    """Validate a parsed cross-build YAML; returns ``{(host, target): CrossLists}``."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise BuildoptsError(f"{source}: expected a mapping of host arch to target arches")
    out: dict = {}
    for host, targets in data.items():
        if not isinstance(host, str) or not _ARCH_RE.match(host):
            raise BuildoptsError(f"{source}: {host!r} is not an arch name")
        if not isinstance(targets, Mapping):
            raise BuildoptsError(f"{source}: {host}: expected a mapping of target arches")
        for target, lists in targets.items():
            where = f"{source}: {host} -> {target}"
            if not isinstance(target, str) or not _ARCH_RE.match(target):
                raise BuildoptsError(f"{source}: {host}: {target!r} is not an arch name")
            if target == host:
                raise BuildoptsError(f"{where}: native builds take no cross packages")
            if not isinstance(lists, Mapping):
                raise BuildoptsError(f"{where}: expected keys {', '.join(CROSS_KEYS)}")
            unknown = sorted(set(lists) - set(CROSS_KEYS))
            if unknown:
                raise BuildoptsError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                                     f"known: {', '.join(CROSS_KEYS)}")
            values = {}
            for key in CROSS_KEYS:
                items = lists.get(key) or []
                if not isinstance(items, list):
                    raise BuildoptsError(f"{where}: {key} must be a list of package names")
                for item in items:
                    if not isinstance(item, str) or not _PACKAGE_RE.match(item):
                        raise BuildoptsError(f"{where}: {key}: {item!r} is not a package name")
                values[key] = tuple(dict.fromkeys(items))
            out[(host, target)] = CrossLists(**values)
    return out


def cross_lists(config: CrossConfig, host_arch: str, target_arch: str) -> CrossLists:
    """What a buildroot for ``target_arch`` on a ``host_arch`` builder gets (native: nothing)."""
    if host_arch == target_arch or target_arch == "noarch":
        return CrossLists()
    return config.get((host_arch, target_arch), CrossLists())


def mock_config_lines(lists: CrossLists) -> list:
    """Lines to append to a generated mock config for ``lists`` (mock's own options)."""
    lines = []
    if lists.add or lists.preinstall:
        packages = list(dict.fromkeys(lists.preinstall + lists.add))
        lines.append(f"config_opts['chroot_additional_packages'] = {packages!r}")
    if lists.no_reinstall:
        # dnf in the chroot must leave these alone: exclude them in [main]
        exclude = ",".join(lists.no_reinstall)
        lines.append("for _conf in ('dnf.conf', 'yum.conf'):")
        lines.append("    if config_opts.get(_conf):")
        lines.append("        config_opts[_conf] = config_opts[_conf].replace("
                     f"'[main]\\n', '[main]\\nexcludepkgs={exclude}\\n', 1)")
    return lines
