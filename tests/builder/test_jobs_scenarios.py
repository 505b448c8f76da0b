"""-jN over recorded builders: the probe reads the tree, the core sizes the buildroot.

Each scenario is a tree under tests/data/hosts (see its README for where each
came from) and the tasks kojid runs there, as ``host.getHostTasks`` reports
them, with the -jN each buildroot already got.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from discomy.builder.buildopts import RunningTask, task_jobs
from discomy.builder.probe import cpu_view

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"


def jobs(tree, tasks, task_id):
    return task_jobs(cpu_view(HOSTS / tree), tasks, task_id).jobs


@pytest.mark.parametrize("weight", [1.5, 6.0, 19.5])
def test_a_task_alone_on_an_idle_16_cpu_builder_gets_all_16(weight):
    # koji raised the weight from the package's build history (6.0: 6 h, 19.5: a day)
    assert jobs("builder16-idle", [RunningTask(100, weight)], 100) == 16


def test_a_waiting_parent_build_task_takes_no_cpus():
    tasks = [RunningTask(99, 0.2, waiting=True), RunningTask(100, 19.5)]
    assert jobs("builder16-idle", tasks, 100) == 16


def test_two_tasks_share_by_weight_even_when_the_first_took_every_cpu():
    # task 100 started alone with -j16 and is compiling (load 15.87): that load is
    # ours, so the heavy newcomer gets its weight share, 16 * 6 / 7.5
    tasks = [RunningTask(100, 1.5, jobs=16), RunningTask(101, 6.0)]
    assert jobs("builder16-one-build", tasks, 101) == 12


def test_a_light_task_next_to_a_heavy_one_gets_its_weight_share():
    tasks = [RunningTask(101, 6.0, jobs=12), RunningTask(102, 1.5)]
    assert jobs("builder16-idle", tasks, 102) == 3


def test_a_sibling_of_unknown_size_may_use_every_cpu_it_had_before():
    # no -jN recorded for task 100 (sized before this plugin ran): its load is still ours
    tasks = [RunningTask(100, 1.5), RunningTask(101, 6.0)]
    assert jobs("builder16-one-build", tasks, 101) == 12


def test_load_beyond_what_our_tasks_were_given_is_foreign():
    # task 100 got -j4 (sized under foreign load); 15.87 - 4 is someone else's
    tasks = [RunningTask(100, 1.5, jobs=4), RunningTask(101, 6.0)]
    assert jobs("builder16-one-build", tasks, 101) == 4


def test_foreign_load_takes_its_cpus_away():
    assert jobs("builder16-foreign", [RunningTask(100, 1.5)], 100) == 10


def test_a_cpu_quota_on_kojid_service_caps_jobs_and_load_outside_it_does_not():
    view = cpu_view(HOSTS / "builder16-kojid-quota")
    assert (view.cpus, view.online, view.load1) == (12, 16, 2.95)
    assert jobs("builder16-kojid-quota", [RunningTask(100, 6.0)], 100) == 12


def test_a_container_quota_leaves_what_the_machine_load_leaves():
    # 48 of 64 cpus by cpu.max at the container's cgroup root; load 18.42 machine-wide
    view = cpu_view(HOSTS / "big-server")
    assert (view.cpus, view.online) == (48, 64)
    assert jobs("big-server", [RunningTask(100, 1.5)], 100) == 46


def test_a_cgroup_v1_quota_recorded_here_is_honoured():
    view = cpu_view(HOSTS / "small-vm-v1-quota")
    assert (view.cpus, view.online) == (1, 2)
    assert jobs("small-vm-v1-quota", [RunningTask(100, 1.5)], 100) == 1
