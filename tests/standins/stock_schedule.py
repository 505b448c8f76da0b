"""Stock koji's own pass for tests: ``TaskScheduler.do_schedule`` as koji ships it.

The module ``kojihub/scheduler.py`` is read from koji's upstream tree (the tarball
in ``../shared/koji/``, see its README, or the tree ``$DISCOMY_KOJI_SRC`` names)
and run over plain rows: its database layer (``kojihub.db``) and hub module are
replaced by stand-ins that answer its two task queries with the rows given and
record its assignments. So the tests compare Discomy's placement with koji's code
itself, not with a restatement of it. Nothing of koji is copied here.
"""

from __future__ import annotations

import os
import sys
import tarfile
import types
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "koji"
_MODULE = None


def scheduler_source() -> tuple:
    """(text, where) of koji's ``kojihub/scheduler.py``."""
    tree = os.environ.get("DISCOMY_KOJI_SRC")
    if tree:
        path = Path(tree) / "kojihub" / "scheduler.py"
        return path.read_text(), str(path)
    tarballs = sorted(SHARED.glob("koji-*.tar.gz"))
    if not tarballs:
        raise RuntimeError(f"koji's upstream tree is missing: no koji-*.tar.gz in {SHARED} "
                           f"(or set DISCOMY_KOJI_SRC to an unpacked tree)")
    with tarfile.open(tarballs[-1]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/kojihub/scheduler.py"))
        return tar.extractfile(member).read().decode(), f"{tarballs[-1]}:{member.name}"


class _Rows:
    """kojihub.db stand-in: a query answers the rows the test put in ``answers``."""

    answers: dict = {}

    def __init__(self, *args, clauses=None, values=None, **kwargs):
        self.clauses = clauses or ()
        self.values = values or {}

    def execute(self):
        free = any("task.state = %(state)s" in c for c in self.clauses)
        return [dict(row) for row in self.answers["free" if free else "active"]]


class _Ignored:
    def __init__(self, *args, **kwargs):
        pass

    def execute(self):
        return None


def koji_scheduler():
    """koji's ``kojihub.scheduler`` module, loaded once over the stand-in database."""
    global _MODULE
    if _MODULE is None:
        text, where = scheduler_source()
        package = types.ModuleType("kojisrc")
        package.__path__ = []
        db = types.ModuleType("kojisrc.db")
        db.QueryProcessor = _Rows
        db.InsertProcessor = db.UpsertProcessor = db.UpdateProcessor = _Ignored
        db.DeleteProcessor = _Ignored
        db.QueryView = type("QueryView", (), {})
        db.db_lock = lambda *args, **kwargs: True
        hub = types.ModuleType("kojisrc.kojihub")
        package.db, package.kojihub = db, hub
        sys.modules.update({"kojisrc": package, "kojisrc.db": db, "kojisrc.kojihub": hub})
        module = types.ModuleType("kojisrc.scheduler")
        module.__package__ = "kojisrc"
        exec(compile(text, where, "exec"), module.__dict__)
        _MODULE = module
    return _MODULE


def stock_do_schedule(free_tasks, active_tasks, hosts, refusals, maxjobs, overcommit):
    """``[(task_id, host_id), ...]`` in the order koji's own ``do_schedule`` assigns them.

    ``hosts`` are rows as ``TaskScheduler._get_hosts`` returns them, tasks as
    ``get_tasks`` reads them (free ones in koji's order), ``refusals`` as
    ``get_refusals`` returns them.
    """
    module = koji_scheduler()
    sched = module.TaskScheduler.__new__(module.TaskScheduler)
    sched.maxjobs, sched.capacity_overcommit = maxjobs, overcommit
    defaults = {"state": 1, "waiting": False, "channel_id": 1, "arch": "noarch",
                "method": "buildArch", "priority": 20, "create_ts": 0.0}
    _Rows.answers = {"free": [{**defaults, "host_id": None, **t} for t in free_tasks],
                     "active": [dict(defaults, **t) for t in active_tasks]}
    sched._get_hosts = lambda: [dict(h) for h in hosts]
    sched.get_refusals = lambda: refusals
    out = []
    sched.assign = lambda task, host, force=False, override=False: \
        out.append((task["task_id"], host["id"])) or True
    sched.get_tasks()
    sched.get_hosts()
    sched.do_schedule()
    return out
