#!/usr/bin/env python3
"""Print how long one scheduler pass takes on a real kojihub: stock koji against discomy_hub.

1,000 free buildArch tasks and 500 enabled, ready hosts; most hosts publish Discomy
host data (cpus, memory, disk, speed) and one task in ten belongs to a package
with constraints (memory, cpus), as in bench_placement.py. The same database
state is scheduled with ``scheduler.doRun(force=True)`` (koji's admin call; the
pass runs inside the hub as ``host.getTasks`` would run it) by a hub with
``Plugins = discomy_hub`` and by a hub without it, several times each: between
passes every task is freed again and every host checked in, by SQL. Prints the
median and the spread of the call's wall time, and the ratio.

Runs as root with PostgreSQL 15 and Debian's python3 (the machinery of
tests/integration/hub_real_kojihub.py), on 127.0.0.1; servers are stopped by pid.

Usage: .venv/bin/python bench/bench_hub_pass.py [KOJI_SRC] [--hosts 500] [--tasks 1000]
       [--passes 5] [--venv DIR]
(KOJI_SRC defaults to the shared koji tarball, unpacked in a temporary directory.)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "orchestrator")]

import hub_real_kojihub as real  # noqa: E402

ARCHES = ["x86_64", "aarch64", "ppc64le", "s390x"]
TARBALLS = ROOT.parent / "shared" / "koji"
SCHEDULER = "[scheduler]\nenabled = true\nlog_reasons = false\n"
POLICY = "channel =\n    all :: use default\n"


def unpack(dest: Path) -> Path:
    tarball = sorted(TARBALLS.glob("koji-*.tar.gz"))[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return next(p for p in dest.iterdir() if (p / "kojihub").is_dir())


def populate(koji, url, pg_port, hosts: int, tasks: int, seed: int = 5) -> None:
    """The fleet and the queue: hosts through koji's API, their check-in and host data by SQL."""
    rng = random.Random(seed)
    admin = real.login(koji, url, "kojiadmin")
    admin.createTag("f-build", arches=" ".join(ARCHES))
    rows = []
    for hid in range(1, hosts + 1):
        arch = rng.choices(ARCHES, weights=[6, 2, 1, 1])[0]
        name = f"builder{hid:03d}"
        admin.addHost(name, [arch])
        capacity = float(rng.choice([4, 8, 16, 32]))
        admin.editHost(name, capacity=capacity)
        data = {"maxjobs": rng.choice([2, 4, 8]), "methods": ["buildArch"]}
        if rng.random() < 0.8:
            data["discomy"] = {
                "version": 1, "draining": False, "probed_at": time.time(),
                "cpus": rng.choice([4, 8, 16, 64, 128]),
                "memory_mb": rng.choice([8, 16, 32, 128, 512]) * 1024,
                "disk_free_mb": {"/var/lib/mock": rng.choice([50, 200, 2000]) * 1024},
                "speed": rng.choice([0.5, 1.0, 1.2, 2.0, 3.0]),
                "virt": ["chroot"], "arches_native": [arch]}
        rows.append((name, data))
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=pg_port, user="postgres",
                         dbname="koji") as db:
        db.cursor().executemany(
            "INSERT INTO scheduler_host_data (host_id, data) "
            "VALUES ((SELECT id FROM host WHERE name = %s), %s::jsonb)",
            [(name, json.dumps(data)) for name, data in rows])
    # one package in ten has constraints; the task's package is read from its srpm
    admin.discomy.setPackageConstraints("f-build", "big-*", {"memory": "48G", "cpus": 16})
    for n in range(tasks):
        package = f"big-{n:04d}" if n % 10 == 0 else f"pkg-{n:04d}"
        arch = rng.choices(ARCHES, weights=[6, 2, 1, 1])[0]
        admin.makeTask("buildArch", [f"tasks/{n}/{package}-1.0-1.src.rpm", "f-build", arch,
                                     True, {}], arch=arch, priority=rng.choice([19, 20, 20, 25]))


RESET = ("UPDATE task SET state = 0, host_id = NULL WHERE method = 'buildArch'; "
         "UPDATE scheduler_task_runs SET active = false; "
         "UPDATE host SET ready = true, task_load = 0, update_time = NOW(); "
         "DELETE FROM scheduler_sys_data WHERE name = 'last_run_ts'")


def passes(koji, url, pg_port, count: int) -> tuple:
    """(wall seconds of each pass, tasks the last pass assigned)."""
    admin = real.login(koji, url, "kojiadmin")
    times = []
    for _ in range(count):
        real.psql(pg_port, RESET)
        started = time.perf_counter()
        admin.scheduler.doRun(force=True)
        times.append(time.perf_counter() - started)
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=pg_port, user="postgres",
                         dbname="koji") as db:
        assigned = db.execute("SELECT count(*) FROM task WHERE state = %s",
                              (koji.TASK_STATES["ASSIGNED"],)).fetchone()[0]
    return times, assigned


def run(koji, koji_src: Path, python, plugin: bool, args) -> tuple:
    work = Path(tempfile.mkdtemp(prefix="discomy-hubpass-"))
    pg_data, hub = None, None
    try:
        pg_data, pg_port = real.start_postgres(work)
        real.create_koji_db(pg_port, koji_src)
        conf, discomy_conf = real.write_hub_config(
            work, pg_port, plugins="discomy_hub" if plugin else "", policy=POLICY,
            scheduler=SCHEDULER, hub_extra="DisableNotifications = True\n")
        hub = real.Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        url = hub.start(koji)
        if plugin:
            populate(koji, url, pg_port, args.hosts, args.tasks)
        else:
            # the same hosts and tasks; constraints are the plugin's, so a stock hub gets
            # them through a hub with the plugin first, then loses the plugin
            hub.stop()
            conf.write_text(conf.read_text().replace("Plugins = \n", "Plugins = discomy_hub\n"))
            url = hub.start(koji)
            populate(koji, url, pg_port, args.hosts, args.tasks)
            hub.stop()
            conf.write_text(conf.read_text().replace("Plugins = discomy_hub\n", "Plugins = \n"))
            url = hub.start(koji)
        times, assigned = passes(koji, url, pg_port, args.passes)
        errors = real.hub_log_errors(work, ("Traceback", "placement failed",
                                            "using stock koji scheduling"))
        if errors:
            sys.exit(f"the hub logged errors: {errors[:3]}")
        return times, assigned
    finally:
        real.tear_down(hub, pg_data, work)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("koji_src", nargs="?", type=Path)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/discomy-kojihub-venv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        koji_src = (args.koji_src or unpack(Path(tmp))).resolve()
        sys.path.insert(0, str(koji_src))
        import koji

        python = real.ensure_venv(args.venv)
        figures = {}
        for plugin in (False, True):
            label = "discomy_hub" if plugin else "stock"
            times, assigned = run(koji, koji_src, python, plugin, args)
            figures[label] = statistics.median(times)
            print(f"{label:<12} {args.tasks} tasks x {args.hosts} hosts: median pass "
                  f"{figures[label]:.2f} s (min {min(times):.2f}, max {max(times):.2f}, "
                  f"{len(times)} passes), {assigned} tasks assigned", flush=True)
        print(f"discomy_hub / stock: {figures['discomy_hub'] / figures['stock']:.2f} "
              f"(goal <= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
