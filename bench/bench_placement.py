"""Print how long one placement pass takes over 1,000 free tasks and 500 hosts.

A mixed fleet (four arches, two channels, Discomy host data on most hosts) and a
queue where one task in ten carries package constraints and one in fifty is a
power job. Prints the median of several passes, for the core alone and with the
conversion of koji's rows into core types.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace

from discomy.placement import (ActiveTask, FreeTask, HostCapabilities, NO_REQUIREMENTS,
                               PlacementConfig, TaskRequirements, schedule)

ARCHES = ["x86_64", "aarch64", "ppc64le", "s390x"]


def fleet(rng: random.Random, n: int) -> list:
    rows = []
    for hid in range(1, n + 1):
        arch = rng.choices(ARCHES, weights=[6, 2, 1, 1])[0]
        data = {"maxjobs": rng.choice([2, 4, 8])}
        if rng.random() < 0.8:
            data["discomy"] = {"cpus": rng.choice([4, 8, 16, 64, 128]),
                               "memory_mb": rng.choice([8, 16, 32, 128, 512]) * 1024,
                               "disk_free_mb": {"/var/lib/mock": rng.choice([50, 200, 2000]) * 1024},
                               "speed": rng.choice([0.5, 1.0, 1.2, 2.0, 3.0]),
                               "virt": ["chroot"] + (["kvm"] if rng.random() < 0.5 else [])}
        rows.append({"id": hid, "name": f"builder{hid}", "arches": arch,
                     "channels": [1] + ([2] if rng.random() < 0.3 else []),
                     "capacity": float(rng.choice([4, 8, 16, 32])), "task_load": 0.0,
                     "ready": rng.random() < 0.95, "update_ts": 0.0, "data": data})
    return rows


def queue(rng: random.Random, n: int) -> list:
    big = TaskRequirements(memory_mb=32 * 1024, cpus=16, why="package llvm")
    power = TaskRequirements(memory_mb=64 * 1024, power=True, why="package libreoffice")
    kvm = TaskRequirements(virt=("kvm",), why="package kernel")
    tasks = []
    for tid in range(n):
        roll = rng.random()
        req = big if roll < 0.06 else kvm if roll < 0.08 else power if roll < 0.10 else NO_REQUIREMENTS
        if req is not NO_REQUIREMENTS:
            req = replace(req, why=f"package pkg{tid}")  # every constrained task its own package
        tasks.append(FreeTask(tid, rng.choice([1, 1, 1, 2]),
                              rng.choices(ARCHES + ["noarch"], weights=[6, 2, 1, 1, 2])[0],
                              rng.choice([0.2, 1.0, 1.5, 2.0, 3.0]), 20, float(tid),
                              "buildArch", req))
    return tasks


def main() -> None:
    rng = random.Random(42)
    rows = fleet(rng, 500)
    free = queue(rng, 1000)
    refusals = {t.task_id: {rng.randint(1, 500)} for t in free if rng.random() < 0.05}
    active = [ActiveTask(10_000 + n, rng.randint(1, 500), 1.0) for n in range(300)]
    # old enough for reservation, so that path is measured too
    free = [replace(t, create_ts=t.create_ts - 3600) for t in free]
    config = PlacementConfig()
    core_times, full_times = [], []
    for _ in range(7):
        start = time.perf_counter()
        hosts = [HostCapabilities.from_koji(row)[0] for row in rows]
        middle = time.perf_counter()
        result = schedule(free, active, hosts, refusals, config, now=5000.0)
        end = time.perf_counter()
        core_times.append(end - middle)
        full_times.append(end - start)
    print(f"placement pass, 1000 free tasks x 500 hosts: "
          f"{statistics.median(core_times) * 1000:.1f} ms (core), "
          f"{statistics.median(full_times) * 1000:.1f} ms (with host-row conversion); "
          f"{len(result.assignments)} assigned, {len(result.reserved)} reserved")


if __name__ == "__main__":
    main()
