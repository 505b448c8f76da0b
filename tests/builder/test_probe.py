"""The host probe over recorded /proc and /sys trees of real machine kinds."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from discomy.placement.hostdata import from_host_data, merge_host_data
from discomy.builder.probe import REFERENCE_BENCH_SECONDS, CachedProbe, benchmark_speed, probe

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"


def fake_statvfs(free_mib):
    def statvfs(path):
        return SimpleNamespace(f_bavail=free_mib, f_frsize=1024 * 1024)
    return statvfs


def no_toolchains(name):
    return None


def test_small_vm_recorded_here():
    host = probe(HOSTS / "small-vm", statvfs=fake_statvfs(50000), which=no_toolchains, now=1.0)
    assert host.cpus == 2 and host.arches_native == ("x86_64",)
    assert host.memory_mb == 24684096 // 1024 and host.memory_available_mb == 24120808 // 1024
    assert host.virt == ("chroot", "kvm") and host.arches_emulated == ()
    assert host.disk_free_mb == {"/var/lib/mock": 50000, "/var/lib/koji": 50000}
    assert host.speed == round(4890.84 / 4000, 2) and host.load1 == 1.08


def test_big_server_is_limited_by_its_cgroup_and_emulates_enabled_arches_only():
    host = probe(HOSTS / "big-server", statvfs=fake_statvfs(1_500_000), which=no_toolchains)
    assert host.cpus == 48                       # cpu.max 4800000/100000 under 64 online
    assert host.memory_mb == 192 * 1024          # memory.max under 251 GiB
    assert host.arches_emulated == ("aarch64", "s390x")   # ppc64le handler disabled
    assert host.speed == round(5589.54 / 4000, 2)


def test_a_cpu_quota_on_kojid_service_is_found_through_proc_self_cgroup():
    # CPUQuota=1200% sits on system.slice/kojid.service, not on the cgroup mount root
    host = probe(HOSTS / "builder16-kojid-quota", statvfs=fake_statvfs(1), which=no_toolchains)
    assert host.cpus == 12


def test_a_cgroup_v1_quota_recorded_here_limits_the_cpus():
    host = probe(HOSTS / "small-vm-v1-quota", statvfs=fake_statvfs(1), which=no_toolchains)
    assert host.cpus == 1                        # 150000 / 100000 us, under 2 online


def test_no_quota_leaves_every_online_cpu():
    host = probe(HOSTS / "builder16-idle", statvfs=fake_statvfs(1), which=no_toolchains)
    assert host.cpus == 16 and host.load1 == 0.08


def test_arm_box_bogomips_are_not_taken_for_speed():
    host = probe(HOSTS / "arm-box", statvfs=fake_statvfs(100), which=no_toolchains)
    assert host.arches_native == ("aarch64",) and host.cpus == 8
    assert host.speed is None                    # unknown, never a tiny number
    assert host.virt == ("chroot",)


def test_cross_toolchains_on_path_are_published():
    host = probe(HOSTS / "small-vm", statvfs=fake_statvfs(1),
                 which=lambda name: "/usr/bin/" + name if name.startswith("aarch64") else None)
    assert host.cross_toolchains == ("aarch64",)


def test_probe_of_this_machine_round_trips_through_host_data(tmp_path):
    host = probe("/", bench_cache=tmp_path / "speed.json", paths=("/",))
    assert host.cpus and host.cpus >= 1 and host.memory_mb > 0 and host.speed > 0
    assert host.disk_free_mb["/"] > 0
    parsed, warnings = from_host_data(merge_host_data({"maxjobs": 2}, host))
    assert parsed == host and warnings == []


def test_benchmark_speed_is_cached_and_measured_rarely(tmp_path):
    calls = []

    def measure():
        calls.append(1)
        return 0.5

    cache = tmp_path / "speed.json"
    expected = round(REFERENCE_BENCH_SECONDS / 0.5, 2)
    assert benchmark_speed(cache, now=1000, measure=measure) == expected
    assert benchmark_speed(cache, now=2000, measure=measure) == expected
    assert len(calls) == 3                      # best of three, once
    benchmark_speed(cache, now=1000 + 8 * 24 * 3600, measure=measure)
    assert len(calls) == 6


def test_cached_probe_rereads_after_its_ttl_but_keeps_drain_and_tasks_fresh(monkeypatch):
    import discomy.builder.probe as module

    calls = []
    real = module.probe
    monkeypatch.setattr(module, "probe", lambda **kw: calls.append(1) or real(**kw))
    clock = [0.0]
    cached = CachedProbe(ttl=30, clock=lambda: clock[0], root=HOSTS / "small-vm",
                         statvfs=fake_statvfs(1), which=no_toolchains)
    first = cached(running_tasks=1)
    second = cached(running_tasks=3, draining=True)
    assert second.probed_at == first.probed_at
    assert second.running_tasks == 3 and second.draining
    assert len(calls) == 1
    clock[0] = 31
    cached()
    assert len(calls) == 2
