"""How to set up a contributed builder, from what it can do (pure core).

A koji buildroot of a typical Enterprise Linux package wants about 4 cpus,
4 GiB of memory and 40 GiB of disk; the recommendations size kojid's
``maxjobs`` so that no resource is oversubscribed, give koji a matching
``capacity`` (buildArch tasks weigh 1.5 plus up to 18 for long builds), put
buildroots in tmpfs when memory allows, and split very large hosts into
several kojid instances (one per NUMA-sized slice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from discomy.common.units import count
from discomy.placement.hostdata import HostData

CPUS_PER_JOB = 4
MEMORY_MB_PER_JOB = 4 * 1024
DISK_MB_PER_JOB = 40 * 1024
TMPFS_MIN_MEMORY_MB = 64 * 1024
CPUS_PER_INSTANCE = 64


@dataclass(frozen=True)
class Advice:
    instances: int
    maxjobs: int                 # per instance
    capacity: float              # koji edit-host --capacity, per instance
    tmpfs_gb: Optional[int]      # mock tmpfs size per buildroot, None: on disk
    reasons: tuple

    def kojid_conf(self) -> str:
        return f"[kojid]\nmaxjobs = {self.maxjobs}\nplugins = discomy_builder\n"

    def edit_host(self, hostname: str) -> str:
        return f"koji edit-host {hostname} --capacity {self.capacity:g}"

    def mock_site_defaults(self) -> str:
        lines = ["config_opts['plugin_conf']['root_cache_enable'] = True",
                 "config_opts['plugin_conf']['yum_cache_enable'] = True"]
        if self.tmpfs_gb:
            lines += ["config_opts['plugin_conf']['tmpfs_enable'] = True",
                      f"config_opts['plugin_conf']['tmpfs_opts']['max_fs_size'] = '{self.tmpfs_gb}g'",
                      "config_opts['plugin_conf']['tmpfs_opts']['keep_mounted'] = False"]
        return "\n".join(lines) + "\n"


def recommend(host: HostData) -> Advice:
    """Advice for ``host``; unknown resources do not limit (the others decide)."""
    cpus = host.cpus or CPUS_PER_JOB
    instances = max(1, cpus // CPUS_PER_INSTANCE)
    # a builder below one buildroot's worth still builds, one job at a time
    limits = {"cpus": max(1, cpus // CPUS_PER_JOB)}
    if host.memory_mb:
        limits["memory"] = max(1, host.memory_mb // MEMORY_MB_PER_JOB)
    disk = host.buildroot_free_mb()
    if disk is not None:
        limits["disk"] = max(1, disk // DISK_MB_PER_JOB)
    total_jobs = min(limits.values())
    binding = min(limits, key=limits.get)
    maxjobs = max(1, total_jobs // instances)
    reasons = [f"{count(total_jobs, 'concurrent buildroot')} ({binding} is the limit: "
               + ", ".join(f"{k} allows {v}" for k, v in sorted(limits.items())) + ")"]
    if instances > 1:
        reasons.append(f"{cpus} cpus: {instances} kojid instances of {maxjobs} jobs each")
    tmpfs = None
    if host.memory_mb and host.memory_mb >= TMPFS_MIN_MEMORY_MB:
        # half the memory for buildroots in tmpfs, shared by the jobs
        tmpfs = max(8, host.memory_mb // 2 // 1024 // max(1, total_jobs))
        reasons.append(f"{host.memory_mb // 1024} GiB memory: buildroots in tmpfs of {tmpfs} GiB")
    capacity = round(maxjobs * 2.0, 1)
    return Advice(instances, maxjobs, capacity, tmpfs, tuple(reasons))
