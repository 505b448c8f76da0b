"""What this builder can do, read from the machine (shell).

Returns a :class:`discomy.placement.hostdata.HostData` for the builder plugin to publish.
Every file read goes through ``root`` (``/`` on a real host, a recorded tree in
tests). Cheap enough for every kojid loop: :class:`CachedProbe` keeps the last
answer for a few seconds, and the calibrated speed benchmark is cached on disk
and re-measured rarely.

- cpus: the cpus kojid may use: online cpus, the process's affinity on a live
  host, and the cpu quota of its cgroup and the cgroup's ancestors (v2
  ``cpu.max``, v1 ``cpu.cfs_quota_us``), whichever is smallest;
- memory: ``MemTotal`` / ``MemAvailable``, capped by the cgroup's ``memory.max``;
- disk: free MiB of each buildroot path (statvfs);
- speed: relative per-task throughput, 1.0 = the reference builder; from the
  calibrated benchmark when one is cached, else from BogoMIPS per cpu (x86 only:
  arm64 BogoMIPS is the timer frequency and says nothing about speed);
- virt: ``kvm`` with ``/dev/kvm``, ``xen`` with ``/proc/xen``, always ``chroot``;
- arches: the kernel's arch, and emulated arches from enabled qemu binfmt_misc
  handlers; cross toolchains found on PATH; load1 from ``/proc/loadavg``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Optional

from discomy.builder.buildopts import CpuView
from discomy.placement.hostdata import BUILDROOT_PATH, HostData

REFERENCE_BOGOMIPS = 4000.0      # per cpu, a 2 GHz x86_64 core
# the benchmark below on the reference builder (a core worth 4,000 BogoMIPS); measured as
# 0.35 s on a 4,890-BogoMIPS EPYC core, so both scales agree there
REFERENCE_BENCH_SECONDS = 0.42
BENCH_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_PATHS = (BUILDROOT_PATH, "/var/lib/koji")
QEMU_ARCHES = {"aarch64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x", "arm": "armv7hl",
               "riscv64": "riscv64", "x86_64": "x86_64", "i386": "i686", "ppc64": "ppc64"}
CROSS_TRIPLETS = {"aarch64": "aarch64-linux-gnu", "ppc64le": "powerpc64le-linux-gnu",
                  "s390x": "s390x-linux-gnu", "x86_64": "x86_64-linux-gnu",
                  "riscv64": "riscv64-linux-gnu"}


def _read(root: Path, path: str) -> Optional[str]:
    try:
        return (root / path.lstrip("/")).read_text()
    except OSError:
        return None


def _cpu_list_count(text: str) -> int:
    count = 0
    for part in text.strip().split(","):
        if "-" in part:
            lo, hi = part.split("-")
            count += int(hi) - int(lo) + 1
        elif part:
            count += 1
    return count


def _cgroup_dirs(path: str) -> list:
    """A cgroup path and its ancestors, the mount root first ("" is the root)."""
    parts = [p for p in path.strip().split("/") if p]
    return ["/" + "/".join(parts[:n]) if n else "" for n in range(len(parts) + 1)]


def cgroup_cpu_quota(root: Path) -> Optional[int]:
    """Whole cpus our cgroup may use: the tightest quota along its path, v2 or v1.

    ``/proc/self/cgroup`` names our cgroup (a systemd ``CPUQuota=`` sits on
    kojid.service, not on the mount root); in a container the mount root is our
    own cgroup and the named path may not exist there: both are read.
    """
    limits = []
    # without /proc/self/cgroup (a recorded container tree) the mount root is ours
    for line in (_read(root, "/proc/self/cgroup") or "0::/").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        for d in _cgroup_dirs(path):
            if hierarchy == "0" and not controllers:
                text = (_read(root, f"/sys/fs/cgroup{d}/cpu.max") or "max").split()
                quota, period = (text + ["100000"])[:2]
            elif "cpu" in controllers.split(","):
                quota = (_read(root, f"/sys/fs/cgroup/cpu{d}/cpu.cfs_quota_us") or "-1").strip()
                period = (_read(root, f"/sys/fs/cgroup/cpu{d}/cpu.cfs_period_us") or "0").strip()
            else:
                break
            if quota.isdigit() and period.isdigit() and int(quota) > 0 and int(period) > 0:
                limits.append(int(quota) // int(period))
    return max(1, min(limits)) if limits else None


def online_cpus(root: Path) -> Optional[int]:
    online = _read(root, "/sys/devices/system/cpu/online")
    return _cpu_list_count(online) if online else None


def probe_cpus(root: Path, live: bool) -> Optional[int]:
    counts = []
    online = online_cpus(root)
    if online:
        counts.append(online)
    if live and hasattr(os, "sched_getaffinity"):
        counts.append(len(os.sched_getaffinity(0)))
    quota = cgroup_cpu_quota(root)
    if quota:
        counts.append(quota)
    return min(counts) if counts else None


def load_average(root: Path) -> Optional[float]:
    load = _read(root, "/proc/loadavg")
    return float(load.split()[0]) if load else None


def cpu_view(root: os.PathLike = "/") -> Optional[CpuView]:
    """What -jN is sized from, read fresh: our cpus, the machine's, the load (None: unknown)."""
    root = Path(root)
    cpus = probe_cpus(root, root == Path("/"))
    if not cpus:
        return None
    return CpuView(cpus=cpus, online=online_cpus(root), load1=load_average(root))


def probe_memory(root: Path) -> tuple:
    info = _read(root, "/proc/meminfo") or ""
    fields = dict(re.findall(r"^(\w+):\s+(\d+) kB", info, re.M))
    total = int(fields["MemTotal"]) // 1024 if "MemTotal" in fields else None
    available = int(fields["MemAvailable"]) // 1024 if "MemAvailable" in fields else None
    limit = (_read(root, "/sys/fs/cgroup/memory.max") or "max").strip()
    if limit.isdigit():
        cap = int(limit) // (1024 * 1024)
        total = min(total, cap) if total is not None else cap
        available = min(available, cap) if available is not None else None
    return total, available


def bogomips_speed(cpuinfo: str, arch: Optional[str]) -> Optional[float]:
    if arch not in ("x86_64", "i686"):
        return None
    values = [float(v) for v in re.findall(r"^bogomips\s*:\s*([\d.]+)", cpuinfo, re.M | re.I)]
    if not values:
        return None
    return round(sum(values) / len(values) / REFERENCE_BOGOMIPS, 2)


def run_benchmark() -> float:
    """Seconds for a fixed single-thread workload (hashing 240 MiB in 64 KiB blocks)."""
    block = b"discomy" * 9363
    started = time.perf_counter()
    digest = hashlib.sha256()
    for _ in range(3840):
        digest.update(block)
        digest = hashlib.sha256(digest.digest() + block)
    return time.perf_counter() - started


def benchmark_speed(cache_file: Optional[Path], now: float,
                    measure: Callable[[], float] = run_benchmark) -> Optional[float]:
    """The calibrated speed, cached in ``cache_file`` for a week (None without a cache file)."""
    if cache_file is None:
        return None
    try:
        cached = json.loads(cache_file.read_text())
        if now - cached["measured_at"] < BENCH_TTL_SECONDS:
            return float(cached["speed"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    seconds = min(measure() for _ in range(3))
    speed = round(REFERENCE_BENCH_SECONDS / max(seconds, 1e-6), 2)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"speed": speed, "measured_at": now, "seconds": seconds}))
    except OSError:
        pass
    return speed


def emulated_arches(root: Path) -> tuple:
    base = root / "proc/sys/fs/binfmt_misc"
    found = set()
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return ()
    for entry in entries:
        name = entry.name
        if not name.startswith("qemu-"):
            continue
        arch = QEMU_ARCHES.get(name[5:])
        text = _read(root, f"/proc/sys/fs/binfmt_misc/{name}") or ""
        if arch and text.startswith("enabled"):
            found.add(arch)
    return tuple(sorted(found))


def probe(root: os.PathLike = "/", paths: Iterable[str] = DEFAULT_PATHS,
          statvfs: Callable = os.statvfs, which: Callable = shutil.which,
          bench_cache: Optional[Path] = None, running_tasks: Optional[int] = None,
          draining: bool = False, now: Optional[float] = None) -> HostData:
    """Read the machine under ``root`` into a :class:`HostData`."""
    root = Path(root)
    live = root == Path("/")
    now = time.time() if now is None else now
    arch = (_read(root, "/proc/sys/kernel/arch") or "").strip() or (os.uname().machine if live else None)
    total, available = probe_memory(root)
    disk = {}
    for path in paths:
        try:
            st = statvfs(str(root / path.lstrip("/")) if not live else path)
        except OSError:
            continue
        disk[path] = int(st.f_bavail * st.f_frsize // (1024 * 1024))
    virt = ["chroot"]
    if (root / "dev/kvm").exists():
        virt.append("kvm")
    if (root / "proc/xen").exists():
        virt.append("xen")
    emulated = tuple(a for a in emulated_arches(root) if a != arch)
    cross = tuple(sorted(a for a, triplet in CROSS_TRIPLETS.items()
                         if a != arch and which(f"{triplet}-gcc")))
    speed = benchmark_speed(bench_cache, now) if live else None
    if speed is None:
        speed = bogomips_speed(_read(root, "/proc/cpuinfo") or "", arch)
    return HostData(
        cpus=probe_cpus(root, live),
        memory_mb=total,
        memory_available_mb=available,
        disk_free_mb=disk,
        speed=speed,
        virt=tuple(sorted(virt)),
        arches_native=(arch,) if arch else (),
        arches_emulated=emulated,
        cross_toolchains=cross,
        draining=draining,
        load1=load_average(root),
        running_tasks=running_tasks,
        probed_at=now,
    )


class CachedProbe:
    """``probe()`` at most every ``ttl`` seconds; draining and the task count are always fresh."""

    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic, **kwargs):
        self.ttl, self.clock, self.kwargs = ttl, clock, kwargs
        self._last: Optional[HostData] = None
        self._at = 0.0

    def __call__(self, running_tasks: Optional[int] = None, draining: bool = False) -> HostData:
        if self._last is None or self.clock() - self._at >= self.ttl:
            self._last = probe(**self.kwargs)
            self._at = self.clock()
        return replace(self._last, running_tasks=running_tasks, draining=draining)
