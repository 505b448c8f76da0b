"""-jN and cross-build lists, checked with hypothesis, rpm --eval and koji.genMockConfig."""

from __future__ import annotations

import subprocess

import koji
import pytest
from hypothesis import given, strategies as st

from discomy.buildopts import (BuildoptsError, CrossLists, SmpBounds, cross_lists,
                               mock_config_lines, parse_cross_config, smp_jobs, smp_macros)

CROSS = {"x86_64": {"aarch64": {"add": ["qemu-user-static-aarch64"],
                                "preinstall": ["bash", "coreutils"],
                                "no_reinstall": ["filesystem"]}}}


def test_an_idle_host_gives_a_lone_task_every_cpu():
    assert smp_jobs(16, 0.0, [], 1.5) == 16


def test_cpus_are_shared_by_koji_task_weight():
    # a 4.5-weight build next to a 1.5-weight one gets three quarters of 16 cpus
    assert smp_jobs(16, None, [1.5], 4.5) == 12
    assert smp_jobs(16, None, [4.5], 1.5) == 4


def test_foreign_load_takes_cpus_away():
    assert smp_jobs(16, 12.0, [], 1.5) == 4


def test_bounds_apply():
    assert smp_jobs(64, 0.0, [], 1.5, SmpBounds(max_jobs=32)) == 32
    assert smp_jobs(8, 0.0, [1.5] * 10, 1.5, SmpBounds(min_jobs=2)) == 2
    assert smp_jobs(8, 0.0, [], 1.5, SmpBounds(reserve_cpus=2)) == 6


@given(st.integers(1, 256), st.one_of(st.none(), st.floats(0, 512)),
       st.lists(st.floats(0.1, 20), max_size=20), st.floats(0.1, 20),
       st.integers(1, 8), st.one_of(st.none(), st.integers(1, 256)), st.integers(0, 4))
def test_jobs_stay_within_one_and_the_usable_cpus(cpus, load, running, weight, lo, hi, reserve):
    jobs = smp_jobs(cpus, load, running, weight, SmpBounds(lo, hi, reserve))
    assert 1 <= jobs <= max(1, cpus - reserve)
    if hi is not None:
        assert jobs <= max(1, hi)


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
