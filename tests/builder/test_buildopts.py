"""-jN and cross-build lists, checked with hypothesis, rpm --eval and koji.genMockConfig."""

from __future__ import annotations

import subprocess

import koji
import pytest
from hypothesis import given, strategies as st

from discomy.builder.buildopts import (BUILDARCH_WEIGHT, BuildoptsError, CpuView, CrossLists,
                               RunningTask, SmpBounds, cross_lists, mock_config_lines,
                               parse_cross_config, smp_jobs, smp_macros, task_jobs)

CROSS = {"x86_64": {"aarch64": {"add": ["qemu-user-static-aarch64"],
                                "preinstall": ["bash", "coreutils"],
                                "no_reinstall": ["filesystem"]}}}


def others(*weights):
    return [RunningTask(n, w) for n, w in enumerate(weights, start=1)]


def test_an_idle_host_gives_a_lone_task_every_cpu():
    assert smp_jobs(CpuView(16, 16, 0.0), [], 1.5) == 16


def test_cpus_are_shared_by_koji_task_weight():
    # a 4.5-weight build next to a 1.5-weight one gets three quarters of 16 cpus
    assert smp_jobs(CpuView(16), others(1.5), 4.5) == 12
    assert smp_jobs(CpuView(16), others(4.5), 1.5) == 4


def test_a_lone_task_gets_every_cpu_whatever_its_weight():
    # 207 * w / w is 206.99999999999997 in floating point for this weight
    assert smp_jobs(CpuView(207), [], 2.8035118201268666) == 207


def test_foreign_load_takes_cpus_away():
    assert smp_jobs(CpuView(16, 16, 12.0), [], 1.5) == 4


def test_a_trace_of_load_on_an_idle_host_costs_no_cpu():
    assert smp_jobs(CpuView(16, 16, 0.08), [], 1.5) == 16


def test_bounds_apply():
    assert smp_jobs(CpuView(64, 64, 0.0), [], 1.5, SmpBounds(max_jobs=32)) == 32
    assert smp_jobs(CpuView(8, 8, 0.0), others(*[1.5] * 10), 1.5, SmpBounds(min_jobs=2)) == 2
    assert smp_jobs(CpuView(8, 8, 0.0), [], 1.5, SmpBounds(reserve_cpus=2)) == 6


def test_a_task_never_counts_against_itself():
    # kojid's loop lists the task before its buildroot exists, with its raised weight
    decision = task_jobs(CpuView(16, 16, 0.0), [RunningTask(7, 19.5)], 7)
    assert decision.jobs == 16 and decision.task_weight == 19.5 and decision.others == ()


def test_a_task_missing_from_the_list_is_sized_at_the_base_buildarch_weight():
    decision = task_jobs(CpuView(16), [RunningTask(3, 4.5)], 7)
    assert decision.task_weight == BUILDARCH_WEIGHT and decision.jobs == 4


def test_the_decision_is_described_with_its_inputs_for_the_log():
    decision = task_jobs(CpuView(16, 16, 15.87),
                         [RunningTask(100, 1.5, jobs=16), RunningTask(101, 6.0)], 101)
    assert decision.describe() == ("-j12: weight 6, 16 cpus of 16 online, load 15.87, "
                                   "other tasks: 100 (weight 1.5, -j16)")


running_tasks = st.lists(st.builds(RunningTask, st.integers(1, 50), st.floats(0.0, 20),
                                   st.booleans(), st.one_of(st.none(), st.integers(1, 256))),
                         max_size=20)
views = st.builds(CpuView, st.integers(1, 256), st.one_of(st.none(), st.integers(1, 512)),
                  st.one_of(st.none(), st.floats(0, 512)))


@given(views, running_tasks, st.floats(0.1, 20),
       st.integers(1, 8), st.one_of(st.none(), st.integers(1, 256)), st.integers(0, 4))
def test_jobs_stay_within_one_and_the_usable_cpus(view, running, weight, lo, hi, reserve):
    jobs = smp_jobs(view, running, weight, SmpBounds(lo, hi, reserve))
    assert 1 <= jobs <= max(1, view.cpus - reserve)
    if hi is not None:
        assert jobs <= max(1, hi)


@given(views, running_tasks, st.integers(1, 50))
def test_task_jobs_equals_sizing_against_the_other_tasks(view, running, task_id):
    own = [t.weight for t in running if t.task_id == task_id and t.weight > 0]
    rest = [t for t in running if t.task_id != task_id]
    expected = smp_jobs(view, rest, own[0] if own else BUILDARCH_WEIGHT)
    assert task_jobs(view, running, task_id).jobs == expected


@given(views, running_tasks, st.floats(0.1, 20), st.floats(0, 64))
def test_more_load_never_gives_more_jobs(view, running, weight, extra):
    more = CpuView(view.cpus, view.online, (view.load1 or 0.0) + extra)
    less = CpuView(view.cpus, view.online, view.load1 or 0.0)
    assert smp_jobs(more, running, weight) <= smp_jobs(less, running, weight)


@given(views, running_tasks, st.floats(0.1, 20), st.floats(0, 20))
def test_a_heavier_task_never_gets_fewer_jobs(view, running, weight, extra):
    assert smp_jobs(view, running, weight + extra) >= smp_jobs(view, running, weight)


def test_a_tag_that_sets_the_job_count_always_wins():
    assert smp_macros({"%_smp_build_ncpus": "4"}, 16) == {}
    assert smp_macros({"%dist": ".el9"}, 16) == {"%_smp_build_ncpus": "16"}


def test_generated_macros_give_the_matching_smp_mflags_in_rpm():
    config = koji.genMockConfig("el9-build-1-1", "x86_64", managed=True, repoid=1,
                                tag_name="el9-build", topurl="http://koji.example.org/kojifiles",
                                tag_macros=smp_macros({}, 6))
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}, "yum.conf": "", "dnf.conf": ""}}
    exec(config, opts)          # as mock reads it
    value = opts["config_opts"]["macros"]["%_smp_build_ncpus"]
    out = subprocess.run(["rpm", "--define", f"_smp_build_ncpus {value}", "--eval",
                          "%{?_smp_mflags}"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "-j6"


def test_cross_lists_apply_to_foreign_targets_only():
    config = parse_cross_config(CROSS)
    assert cross_lists(config, "x86_64", "aarch64").add == ("qemu-user-static-aarch64",)
    assert not cross_lists(config, "x86_64", "x86_64")
    assert not cross_lists(config, "x86_64", "noarch")
    assert not cross_lists(config, "x86_64", "s390x")


def test_cross_lines_are_valid_mock_config():
    config = koji.genMockConfig("el9-build-1-1", "aarch64", managed=True, repoid=1,
                                tag_name="el9-build", topurl="http://koji.example.org/kojifiles",
                                package_manager="dnf")
    lines = mock_config_lines(parse_cross_config(CROSS)[("x86_64", "aarch64")])
    opts = {"config_opts": {"macros": {}, "plugin_conf": {}, "yum.conf": "", "dnf.conf": ""}}
    exec(config + "\n" + "\n".join(lines) + "\n", opts)
    conf = opts["config_opts"]
    assert conf["chroot_additional_packages"] == ["bash", "coreutils", "qemu-user-static-aarch64"]
    written = conf["dnf.conf"] or conf["yum.conf"]
    assert "[main]\nexcludepkgs=filesystem\n" in written


@pytest.mark.parametrize("data, message", [
    ({"x86_64": {"x86_64": {"add": ["gcc"]}}}, "native builds"),
    ({"x86_64": {"aarch64": {"packages": ["gcc"]}}}, "unknown key"),
    ({"x86_64": {"aarch64": {"add": "gcc"}}}, "must be a list"),
    ({"x86_64": {"aarch64": {"add": ["gcc; rm -rf /"]}}}, "not a package name"),
    ({"X86 64": {}}, "not an arch name"),
    (["x86_64"], "expected a mapping"),
])
def test_bad_cross_config_is_refused_with_the_key(data, message):
    with pytest.raises(BuildoptsError, match=message):
        parse_cross_config(data)


def test_empty_lists_are_false():
    assert not CrossLists()
