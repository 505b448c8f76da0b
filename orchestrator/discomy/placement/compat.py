"""Can the hub plugin take over koji's scheduler on this koji? (pure)

The plugin subclasses ``kojihub.scheduler.TaskScheduler`` and calls koji
internals that are no public API. :func:`scheduler_problem` names, in one line,
what this hub's koji lacks: a version before the scheduler (1.34), or any of
:data:`SCHEDULER_NEEDS`. The plugin then keeps stock scheduling.
"""

from __future__ import annotations

from typing import Iterable, Optional

MIN_KOJI = (1, 34)

# kojihub internals the plugin uses, as "<module>.<name>[.<attribute>]"
SCHEDULER_NEEDS = (
    "scheduler.TaskScheduler.run",
    "scheduler.TaskScheduler.do_schedule",
    "scheduler.TaskScheduler.get_tasks",
    "scheduler.TaskScheduler.get_hosts",
    "scheduler.TaskScheduler.get_refusals",
    "scheduler.TaskScheduler.assign",
    "scheduler.log_db",
    "scheduler.log_both",
    "scheduler.get_task_refusals",
    "scheduler.get_host_data",
    "db.QueryProcessor",
    "db.UpsertProcessor",
    "db.Savepoint",
)


def scheduler_problem(version: Optional[tuple], missing: Iterable[str]) -> Optional[str]:
    """Why the plugin must keep stock scheduling on this koji (None: it may take over)."""
    missing = sorted(missing)
    text = "unknown" if version is None else ".".join(str(v) for v in version)
    if version is not None and tuple(version[:2]) < MIN_KOJI:
        return (f"koji {text} has no hub scheduler to extend (needs "
                f"{'.'.join(map(str, MIN_KOJI))} or later)")
    if missing:
        return f"koji {text} lacks kojihub.{', kojihub.'.join(missing)}"
    return None
