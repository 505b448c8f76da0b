#!/usr/bin/env python3
"""Figures for the planner and the estimator on the whole-distribution dataset.

Prints:
- `discomy plan` wall time in a fresh process (`.venv/bin/discomy`), without a cache, filling
  an empty one, with the repositories cached as .solv only, and with the graph cached;
  next to libsolv's own load of the same rpm-md XML in a fresh process, the reference;
- repeated plan queries on a loaded graph (median of repeated runs);
- the same reverse closure computed with `dnf repoquery --whatrequires`, iterated to
  a fixed point, and the speed ratio;
- `discomy estimate --all` under every policy on two fleets, with the ratio to
  the lower bound and the gain over koji-stock;
- peak RSS of a process holding the whole graph, a mass-rebuild plan and a simulation.

Usage: .venv/bin/python bench/bench_core.py [--dataset DIR] [--skip-dnf]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "debian-bookworm-main"
WIDELY_USED = ["zlib", "glib2.0", "python3-defaults"]


def wall(argv, **kw):
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode:
        sys.exit(f"{argv[:3]} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - t, proc.stdout


def measured(argv) -> tuple:
    """Wall and CPU (user + system) seconds of one fresh process, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed, out = wall(argv)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, out


# libsolv alone, in a fresh process: the rpm-md XML of the same repositories loaded the
# way a libsolv tool loads it (primary and filelists), with the provides index built
LIBSOLV_LOAD = """
import glob, sys, solv
pool = solv.Pool()
pool.setdisttype(solv.Pool.DISTTYPE_RPM)
pool.setarch("x86_64")
for repo_dir in sys.argv[2:]:
    repo = pool.add_repo(repo_dir)
    for kind in sys.argv[1].split(","):
        f = solv.xfopen(glob.glob(f"{repo_dir}/repodata/*-{kind}.xml*")[0])
        repo.add_rpmmd(f, None, 0 if kind == "primary" else solv.Repo.REPO_EXTEND_SOLVABLES)
        f.close()
pool.addfileprovides()
pool.createwhatprovides()
"""


def bench_cold(dataset: Path, cache: Path, rounds: int = 5) -> None:
    """Every kind of run once per round, interleaved, so that whatever else the machine
    does weighs on all of them alike; best and median per kind."""
    repos = [str(dataset / "source"), str(dataset / "binary")]
    discomy = str(Path(sys.executable).with_name("discomy"))
    plan = [discomy, "plan", "--repo", repos[0], "--repo", repos[1], "--changed", "zlib"]
    cached = ["--cache-dir", str(cache)]

    def empty_cache():
        shutil.rmtree(cache, ignore_errors=True)

    def graph_gone():
        for path in cache.glob("graph-*"):
            path.unlink()

    kinds = {   # label: (command, what to do first)
        "libsolv's own XML load (primary + filelists)": (
            [sys.executable, "-c", LIBSOLV_LOAD, "primary,filelists", *repos], None),
        "libsolv's own XML load (primary only)": (
            [sys.executable, "-c", LIBSOLV_LOAD, "primary", *repos], None),
        "plan --json, no cache (--no-cache)": (plan + ["--json", "--no-cache"], None),
        "plan --json, empty cache (fills it)": (plan + ["--json", *cached], empty_cache),
        "plan --json, repos as .solv, no graph": (plan + ["--json", *cached], graph_gone),
        "plan --json, graph cache": (plan + ["--json", *cached], None),
        "plan (table), graph cache": (plan + cached, None),
    }
    times = {label: [] for label in kinds}
    cpu = {label: [] for label in kinds}
    affected = None
    for _ in range(rounds):
        for label, (argv, prepare) in kinds.items():
            if prepare:
                prepare()
            if label.startswith("plan --json, repos as .solv"):
                wall([*argv])      # a repository parsed a second time is kept as .solv
                prepare()
            elapsed, seconds, out = measured(argv)
            times[label].append(elapsed)
            cpu[label].append(seconds)
            if label.startswith("plan --json, no cache"):
                affected = len(json.loads(out)["affected"])
    reference = "libsolv's own XML load (primary + filelists)"
    ref_best, ref_median = min(times[reference]), statistics.median(times[reference])
    print(f"whole processes, plan --changed zlib ({affected} affected); {rounds} interleaved "
          f"rounds, wall best / median, CPU median:")
    for label in kinds:
        best, median = min(times[label]), statistics.median(times[label])
        ratio = (f"  {best / ref_best:4.2f} / {median / ref_median:4.2f} x libsolv's load"
                 if label.startswith("plan") and "graph cache" not in label else "")
        print(f"  {label:<46} {best:5.2f} / {median:5.2f} s  cpu {statistics.median(cpu[label]):5.2f} s"
              f"{ratio}")
    print("  goals: cold <= 1.3 x libsolv's load; graph cache <= 1.5 s with --json, <= 1 s "
          "without")


def bench_repeated(dataset: Path, cache: Path) -> None:
    from discomy.planning.graph import reverse_closure
    from discomy.planning.planner import make_plan
    from discomy.planning.repodata import load_graph

    graph = load_graph([dataset / "source", dataset / "binary"], cache_dir=cache)
    import numpy as np

    for name in WIDELY_USED + ["rpm"]:
        times, closure = [], []
        for _ in range(30):
            t = time.perf_counter()
            plan = make_plan(graph, [name])
            _ = plan.critical_path
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
            reverse_closure(graph, np.asarray([graph.index_of(name)]))
            closure.append(time.perf_counter() - t)
        print(f"repeated plan {name:<17} {len(plan.affected):>6} affected, {len(plan.tiers):>3} tiers: "
              f"plan {1000 * statistics.median(times):6.1f} ms, closure alone "
              f"{1000 * statistics.median(closure):5.1f} ms (medians of 30)")
    return graph


def dnf_closure(dataset: Path, changed: str, cachedir: str) -> tuple:
    """The reverse closure with dnf alone: --whatrequires on every capability the
    frontier's binaries provide (a package name alone misses virtual provides such as
    libz-dev), iterated until no new source package turns up."""
    base = ["dnf", "-q", "--setopt=reposdir=/dev/null", f"--setopt=cachedir={cachedir}",
            f"--setopt=logdir={cachedir}", "--releasever=0",
            f"--repofrompath=src,file://{dataset / 'source'}",
            f"--repofrompath=bin,file://{dataset / 'binary'}",
            "--disablerepo=*", "--enablerepo=src", "--enablerepo=bin", "repoquery"]
    _, out = wall(base + ["--qf", "@@%{sourcerpm}\n%{provides}", "--arch=x86_64,noarch"])
    provides_of: dict = {}
    source = None
    for line in out.splitlines():
        if line.startswith("@@"):
            source = line[2:].rsplit("-", 2)[0]
        elif line.strip() and source:
            provides_of.setdefault(source, set()).add(line.split()[0])
    found, frontier, calls = set(), {changed}, 0
    while frontier:
        wanted = sorted({p for s in frontier for p in provides_of.get(s, ())})
        new = set()
        for i in range(0, len(wanted), 1500):
            _, out = wall(base + ["--qf", "%{name}", "--arch=src", "--whatrequires",
                                  ",".join(wanted[i:i + 1500])])
            calls += 1
            new |= set(out.split())
        frontier = new - found
        found |= new
    return found, calls


def bench_dnf(dataset: Path, graph) -> None:
    from discomy.planning.planner import make_plan

    make_plan(graph, ["rpm"])      # warm: the first query is not a measurement
    with tempfile.TemporaryDirectory() as cachedir:
        wall(["dnf", "-q", "--setopt=reposdir=/dev/null", f"--setopt=cachedir={cachedir}",
              "--releasever=0", f"--repofrompath=src,file://{dataset / 'source'}",
              "--disablerepo=*", "--enablerepo=src", "repoquery", "--arch=src", "zlib"])
        for name in ("rpm", "zlib"):
            t = time.perf_counter()
            found, calls = dnf_closure(dataset, name, cachedir)
            dnf_time = time.perf_counter() - t
            t = time.perf_counter()
            ours = make_plan(graph, [name])
            our_time = time.perf_counter() - t
            same = set(ours.affected) == found
            print(f"closure of {name}: dnf repoquery --whatrequires x{calls} to a fixed point "
                  f"{dnf_time:7.2f} s ({len(found)} found), discomy {1000 * our_time:6.1f} ms "
                  f"({len(ours.affected)}), same set: {same}, ratio {dnf_time / our_time:,.0f}x")


def bench_estimate(dataset: Path, cache: Path) -> None:
    repos = ["--repo", str(dataset / "source"), "--repo", str(dataset / "binary")]
    for fleet in ("fleet-heterogeneous.yaml", "fleet-small.yaml"):
        elapsed, out = wall([sys.executable, "-m", "discomy", "estimate", *repos, "--all",
                             "--fleet", str(ROOT / "bench" / fleet), "--json",
                             "--cache-dir", str(cache)])
        result = json.loads(out)
        print(f"estimate --all on {fleet} ({result['hosts']} hosts, {result['tasks']} tasks), "
              f"{elapsed:.1f} s for {len(result['policies'])} policies:")
        stock = result["policies"]["koji-stock"]["makespan_seconds"]
        bound = result["lower_bound_seconds"]
        print(f"  lower bound {bound / 3600:7.2f} h (critical path "
              f"{result['critical_path_bound_seconds'] / 3600:.2f} h, work "
              f"{result['work_bound_seconds'] / 3600:.2f} h)")
        for policy, r in result["policies"].items():
            print(f"  {policy:<14} {r['makespan_seconds'] / 3600:7.2f} h  "
                  f"{r['makespan_seconds'] / bound:6.3f} x bound  "
                  f"{100 * (1 - r['makespan_seconds'] / stock):+6.1f} % vs koji-stock  "
                  f"util {100 * r['utilisation']:5.1f} %")


def bench_rss(dataset: Path) -> None:
    code = (
        "import resource, sys\n"
        "from discomy.planning.repodata import load_graph\n"
        "from discomy.planning.planner import make_plan\n"
        "from discomy.planning.simulator import simulate, workload_from_plan\n"
        "from discomy.planning.fleet import fleet_from_data\n"
        "import yaml\n"
        f"g = load_graph(['{dataset / 'source'}', '{dataset / 'binary'}'], use_cache=False)\n"
        "p = make_plan(g, [], rebuild_all=True)\n"
        f"f = fleet_from_data(yaml.safe_load(open('{ROOT / 'bench' / 'fleet-heterogeneous.yaml'}')))\n"
        "simulate(workload_from_plan(p), f, 'discomy')\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    _, out = wall([sys.executable, "-c", code])
    print(f"peak RSS, whole graph built from repodata + mass-rebuild plan + simulation: "
          f"{int(out) / 1024:.0f} MiB (goal < 1024 MiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--skip-dnf", action="store_true")
    args = parser.parse_args()
    print(f"dataset: {args.dataset}; cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        bench_cold(args.dataset, cache)
        graph = bench_repeated(args.dataset, cache)
        if not args.skip_dnf:
            bench_dnf(args.dataset, graph)
        bench_estimate(args.dataset, cache)
    bench_rss(args.dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
