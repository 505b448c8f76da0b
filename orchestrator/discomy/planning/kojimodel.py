"""Koji's own mechanics as the estimator models them (pure core): task methods and
their weights, priorities, channels, and the timing of the hub, the builders and
kojira. Each value is read in koji's source (1.35, koji-project/koji), cited by file.

A rebuild of one package in koji is a tree of tasks (``builder/kojid``,
``BuildTask.handler``): the parent ``build`` task (arch noarch) asks for a
``buildSRPMFromSCM`` subtask, then one ``buildArch`` subtask per arch, then a
``tagBuild`` subtask, waiting for each. A repo regeneration (``kojihub/repos.py``,
``repo_queue_task``) is a ``newRepo`` task in the ``createrepo`` channel that waits for
one ``createrepo`` subtask per arch.
"""

from __future__ import annotations

# builder/kojid BuildArchTask.updateWeight: a running buildArch weighs 1.5 plus 0.75 per
# hour of the package's average build, at most 18 more (the hub plugin's pass weighs
# power jobs with the same function)
from discomy.placement.schedule import (BUILDARCH_OPEN_WEIGHT, FREE_TASK_WEIGHT,  # noqa: F401
                                        buildarch_weight)

# koji/__init__.py: PRIO_DEFAULT; lower numbers run first
PRIO_DEFAULT = 20
# kojihub/kojihub.py make_task: a subtask defaults to its parent's priority minus one
SUBTASK_PRIORITY_STEP = 1
# kojihub/repos.py repo_queue_task: {'priority': 15, 'channel': 'createrepo'}
NEWREPO_PRIORITY = 15

# the two channels a rebuild uses: the channel policy's default (kojihub/kojixmlrpc.py:
# "is_child_task :: parent", "all :: use default") and the repo channel (repos.py)
DEFAULT_CHANNEL = "default"
CREATEREPO_CHANNEL = "createrepo"

# FREE_TASK_WEIGHT (imported above): schemas/schema.sql task.weight DEFAULT 1.0, and
# make_task sets none: every task is FREE and ASSIGNED at it, whatever it weighs once open

# the weight kojid sets once a task is open (koji/daemon.py TaskManager.takeTask calls
# host.setTaskWeight(handler.weight())): builder/kojid's _taskWeight per handler, koji/tasks.py
# BaseTaskHandler's 1.0 where a handler sets none (tagBuild: "XXX - set weight?")
BUILD, SRPM, BUILDARCH, TAG, NEWREPO, CREATEREPO = range(6)
METHODS = ("build", "buildSRPMFromSCM", "buildArch", "tagBuild", "newRepo", "createrepo")
OPEN_WEIGHT = (0.2, 1.0, BUILDARCH_OPEN_WEIGHT, 1.0, 0.1, 1.5)


# hub.conf defaults (kojihub/kojixmlrpc.py)
MAXJOBS = 15
CAPACITY_OVERCOMMIT = 5.0
RUN_INTERVAL = 60.0            # the scheduler runs at most this often
MAX_REPO_TASKS = 10            # newRepo tasks at once
# kojihub/scheduler.py TaskScheduler.get_tasks: free tasks a pass looks at
FREE_TASK_LIMIT = 1000

# builder/kojid defaults: the main loop sleeps this long unless it just took a task
KOJID_SLEEPTIME = 15.0
# ... and it sleeps *after* its loop's hub calls (updateBuildroots, updateTasks,
# getNextTask: host.updateHost, host.getHostTasks, host.getTasks), so it checks in
# every sleeptime plus that long: the builders' check-ins drift against each other,
# the scheduler's RunInterval and the clients' polls instead of keeping one phase.
# How long those calls take is the deployment's own figure (the real-hub replay
# measures it); the default 0 keeps every builder on one sleeptime period
KOJID_CYCLE_SECONDS = 0.0
KOJID_MAXJOBS = 10
# util/kojira: its regen thread calls repo.checkQueue, then sleeps this long
KOJIRA_SLEEPTIME = 15.0
