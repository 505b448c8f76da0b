#!/usr/bin/env python3
"""Print the estimator's goal figures: every policy against the lower bound, the share
of koji-stock's gap to the bound that ``discomy`` closes, and the estimate's wall time.

Inputs:
- the shared whole-distribution dataset (``discomy estimate --all --json``, a fresh
  process, all four policies) on bench/fleet-heterogeneous.yaml and
  bench/fleet-small.yaml; the wall time is that whole command's;
- the synthetic heavy-tailed distribution of tests/synthetic.py (builds of tens of
  hours, a thin s390x arch, exclusive arches, package constraints, capacities below
  koji's largest weights) with its fleet and hub config, through the same simulate().

Goals (issue 11): discomy <= 1.05 x bound; koji-stock - discomy >= 0.7 x
(koji-stock - bound); whole-distribution estimate <= 10 s on two cpus.

Usage: .venv/bin/python bench/bench_estimate.py [--dataset DIR] [--builds 30000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "debian-bookworm-main"
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "orchestrator")]


def report(title: str, bound: float, makespans: dict) -> None:
    stock, ours = makespans["koji-stock"], makespans["discomy"]
    print(f"{title}: lower bound {bound / 3600:.2f} h")
    for policy, seconds in makespans.items():
        print(f"  {policy:<18} {seconds / 3600:8.2f} h  {seconds / bound:6.3f} x bound  "
              f"{100 * (1 - seconds / stock):+6.1f} % vs koji-stock")
    gap = stock - bound
    closed = (stock - ours) / gap if gap > 0 else float("nan")
    print(f"  discomy / bound {ours / bound:.3f} (goal <= 1.05); gap closed "
          f"{100 * closed:.1f} % of koji-stock's {gap / 3600:.2f} h (goal >= 70 %)")


def dataset_figures(dataset: Path) -> None:
    repos = ["--repo", str(dataset / "source"), "--repo", str(dataset / "binary")]
    with tempfile.TemporaryDirectory() as cache:
        # a first run fills the graph cache: the figures are the estimate's, not the parse's
        subprocess.run([sys.executable, "-m", "discomy", "estimate", *repos, "--all",
                        "--policy", "koji-stock", "--fleet",
                        str(ROOT / "bench" / "fleet-small.yaml"), "--json",
                        "--cache-dir", cache], capture_output=True, check=True)
        for fleet in ("fleet-heterogeneous.yaml", "fleet-small.yaml"):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "discomy", "estimate", *repos,
                                   "--all", "--fleet", str(ROOT / "bench" / fleet), "--json",
                                   "--cache-dir", cache], capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            if proc.returncode:
                sys.exit(f"discomy estimate failed: {proc.stderr[-2000:]}")
            result = json.loads(proc.stdout)
            report(f"{dataset.name} on {fleet} ({result['hosts']} hosts, {result['builds']} "
                   f"builds, {result['tasks']} buildArch tasks)",
                   result["lower_bound_seconds"],
                   {p: r["makespan_seconds"] for p, r in result["policies"].items()})
            print(f"  discomy estimate --all (four policies, graph cached): {elapsed:.1f} s wall "
                  f"on {os.cpu_count()} cpus (goal <= 10 s)")


def synthetic_figures(builds: int) -> None:
    from synthetic import synthetic

    from discomy.planning.simulator import POLICIES, simulate

    workload, fleet, hub = synthetic(builds=builds)
    makespans, bound = {}, None
    started = time.perf_counter()
    for policy in POLICIES:
        result = simulate(workload, fleet, policy, hub=hub)
        makespans[policy] = result.makespan_seconds
        bound = result.bounds.lower_bound_seconds
    elapsed = time.perf_counter() - started
    report(f"synthetic heavy-tailed ({builds} builds, {fleet.host_count} hosts)", bound,
           makespans)
    print(f"  four policies in one process: {elapsed:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--builds", type=int, default=30000)
    args = parser.parse_args()
    dataset_figures(args.dataset)
    synthetic_figures(args.builds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
