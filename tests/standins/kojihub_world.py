"""State behind the ``kojihub`` stand-in: what a hub's database would hold.

Tests call :func:`reset` and fill the lists; the stand-in modules read and write
them. Row shapes follow koji's real queries (``TaskScheduler._get_hosts``,
``get_tasks``, ``get_task_refusals``, ``getBuildConfig``).
"""

import koji
from koji.context import context


class World:
    def __init__(self):
        self.hosts = []          # _get_hosts() rows, with 'channels'
        self.disabled_hosts = []  # rows of hosts that are not enabled
        self.free_tasks = []     # get_tasks() rows for FREE tasks, in scheduler order
        self.active_tasks = []   # rows for OPEN/ASSIGNED tasks
        self.refusals = []       # {'task_id', 'host_id', 'soft', 'ts', 'msg'}
        self.requests = {}       # task id -> XML-RPC request string
        self.tags = {}           # name -> {'id', 'name', 'extra', 'parent'}
        self.targets = {}        # name -> {'name', 'build_tag', 'build_tag_name'}
        self.history = []        # {'name', 'build_id', 'seconds'} of closed buildArch tasks
        self.samples = []        # {'host_id', 'name', 'arch', 'seconds'}: the same, per host
        self.savepoints = []     # names of Savepoints made, and of those rolled back
        self.rolled_back = []
        self.sys_data = {}       # scheduler_sys_data
        self.log = []            # (msg, task_id, host_id)
        self.assigned = []       # (task_id, host_id)
        self.queries = []        # tables of every QueryProcessor executed
        self.opts = {"MaxJobs": 15, "CapacityOvercommit": 5, "ReadyTimeout": 180,
                     "AssignTimeout": 300, "SoftRefusalTimeout": 900, "HostTimeout": 900,
                     "RunInterval": 60}
        self.perms = {"admin"}
        self.user = "kojiadmin"

    # helpers shaped like hub calls
    def build_config(self, tag):
        ref, tag = tag, self.tag(tag)
        if tag is None:
            raise koji.GenericError(f"No such tagInfo: '{ref}'")
        extra = {}
        chain = []
        while tag is not None:
            chain.append(tag)
            tag = self.tags.get(tag.get("parent")) if tag.get("parent") else None
        for t in reversed(chain):
            extra.update(t["extra"])
        return {"id": chain[0]["id"], "name": chain[0]["name"], "extra": extra}

    def tag(self, ref):
        for t in self.tags.values():
            if ref in (t["id"], t["name"]):
                return t
        return None

    def add_tag(self, name, extra=None, parent=None):
        self.tags[name] = {"id": len(self.tags) + 1, "name": name, "extra": dict(extra or {}),
                           "parent": parent}
        return self.tags[name]

    def add_buildarch(self, task_id, srpm, tag, arch="x86_64", channel_id=1, weight=1.5,
                      priority=20, create_ts=0.0):
        self.free_tasks.append({"task_id": task_id, "state": koji.TASK_STATES["FREE"],
                                "waiting": False, "weight": weight, "channel_id": channel_id,
                                "host_id": None, "arch": arch, "method": "buildArch",
                                "priority": priority, "create_ts": create_ts})
        self.requests[task_id] = koji.xmlrpcplus.dumps(
            (srpm, tag, arch, True, {}), methodname="buildArch")


class _Session:
    def __init__(self, world):
        self.world = world
        self.user_data = {"name": world.user}
        self.logged_in = True

    def assertPerm(self, name):
        if name not in self.world.perms:
            raise koji.ActionNotAllowed(f"{name} permission required")

    def hasPerm(self, name):
        return name in self.world.perms


class _Handlers:
    def __init__(self, world):
        self.world = world

    def call(self, method, *args, **kwargs):
        if method == "getBuildConfig":
            return self.world.build_config(args[0])
        raise koji.GenericError(f"stand-in hub has no call {method}")


WORLD = World()


def reset():
    """Start a fresh hub state and set ``koji.context`` as the hub does for a call."""
    global WORLD
    WORLD = World()
    bind()
    return WORLD


def bind():
    """Set the (thread-local) koji context for the current thread."""
    context.opts = WORLD.opts
    context.session = _Session(WORLD)
    context.handlers = _Handlers(WORLD)
