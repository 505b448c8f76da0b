"""What a task needs: package constraints and the build-history rule.

Pure. :func:`requirements_for` combines the hub's default constraints, the
build tag's ``discomy.constraints`` and the package's last buildArch duration
(slower than ``power_after`` makes it a power job) into one
:class:`TaskRequirements`; the empty value is the stock case.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Optional

from discomy.placement import constraints as cons

POWER_METHODS = frozenset({"buildArch"})
# tasks of these methods have requirements (their request names the package and build tag)
CONSTRAINED_METHODS = frozenset({"buildArch"})


@dataclass(frozen=True)
class TaskRequirements:
    """What a task needs; the empty value (no requirement) is the stock case."""

    memory_mb: Optional[int] = None
    disk_mb: Optional[int] = None
    cpus: Optional[int] = None
    virt: tuple = ()
    features: tuple = ()
    power: bool = False
    why: str = ""  # where the requirements came from, for reasons
    seconds: Optional[float] = None  # the package's last buildArch, where the pass weighs speed

    @classmethod
    def from_constraints(cls, c: cons.Constraints, power: bool = False,
                         why: str = "") -> "TaskRequirements":
        return cls(memory_mb=c.memory_mb, disk_mb=c.disk_mb, cpus=c.cpus, virt=c.virt,
                   features=c.features, power=bool(c.power) or power, why=why)

    def is_hard_free(self) -> bool:
        return (self.memory_mb is None and self.disk_mb is None and self.cpus is None
                and not self.virt and not self.features)

    def describe(self) -> str:
        c = cons.Constraints(self.memory_mb, self.disk_mb, self.cpus, self.power or None,
                             self.virt, self.features)
        return c.describe()


NO_REQUIREMENTS = TaskRequirements()


def is_power_by_history(last_duration_s: Optional[float], power_after_s: Optional[float]) -> bool:
    """A package whose last successful buildArch took longer than the threshold is a power job."""
    return (last_duration_s is not None and power_after_s is not None
            and last_duration_s > power_after_s)


def requirements_for(package: Optional[str],
                     defaults: Mapping[str, cons.Constraints],
                     tag_rules: Mapping[str, cons.Constraints],
                     last_duration_s: Optional[float] = None,
                     power_after_s: Optional[float] = None,
                     keep_seconds: bool = False) -> TaskRequirements:
    """A task's requirements from the hub defaults, the tag's rules and build history.

    With ``keep_seconds`` (the hub's ``wait_for_faster`` is set) a known last buildArch
    duration is kept in ``seconds`` even for a task with no constraint: the pass
    weighs it against the hosts' speeds.
    """
    if not package:
        return NO_REQUIREMENTS
    constraints = cons.resolve(package, defaults, tag_rules)
    history = is_power_by_history(last_duration_s, power_after_s)
    seconds = float(last_duration_s) if keep_seconds and last_duration_s else None
    if constraints.is_empty() and not history:
        return TaskRequirements(seconds=seconds) if seconds else NO_REQUIREMENTS
    why = f"package {package}"
    if history:
        why += f", last buildArch took {_duration_text(last_duration_s)}"
    return replace(TaskRequirements.from_constraints(constraints, power=history, why=why),
                   seconds=seconds)


def task_requirements(package: Optional[str], tag_rules: Mapping[str, cons.Constraints],
                      last_duration_s: Optional[float], config) -> TaskRequirements:
    """:func:`requirements_for` with the hub's settings (a :class:`PlacementConfig`):
    its defaults, power rule, and the duration kept where ``wait_for_faster`` is set."""
    return requirements_for(package, config.defaults, tag_rules, last_duration_s,
                            config.power_after_s, config.wait_for_faster_s is not None)


def last_build_durations(rows: Iterable[tuple]) -> dict:
    """package -> seconds of the slowest buildArch of its latest build.

    ``rows`` are ``(package, build_id, seconds)`` for closed buildArch tasks of
    complete builds; the highest build id is the latest build. Rows without a
    duration are skipped.
    """
    latest: dict = {}
    for package, build_id, seconds in rows:
        if seconds is None:
            continue
        best = latest.get(package)
        if best is None or (build_id, seconds) > best:
            latest[package] = (build_id, float(seconds))
    return {package: seconds for package, (_, seconds) in latest.items()}


def _duration_text(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def package_from_srpm(path: str) -> Optional[str]:
    """``"tasks/1/2/llvm-17.0.6-1.el9.src.rpm"`` -> ``"llvm"`` (None if not an SRPM name)."""
    if not str(path).endswith(".src.rpm"):
        return None
    return cons.package_from_source(path)
