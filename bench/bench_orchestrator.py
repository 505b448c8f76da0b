#!/usr/bin/env python3
"""A campaign over the whole distribution: time to record it in the store, one
release decision over it, engine steps over it (with builds that finish at
once), and the process's peak RSS (goal <= 500 MB).

Usage: .venv/bin/python bench/bench_orchestrator.py [--dataset DIR] [--store URL]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class _InstantBackend:
    """Builds that finish as soon as they are submitted: what is timed is the engine."""
    name = "instant"

    def prepare(self):
        return {}

    def submit(self, name, priority=0):
        return name

    def find_all(self, names):
        return {}

    def poll_all(self, tasks):
        from discomy.orchestration.backends import BuildOutcome

        return {task: BuildOutcome(True, nvr=f"{task}-1-1.el9") for task in tasks}

    def request_repo(self, nvrs):
        return None

    def repo_state(self, ref):
        return "ready"

    def hold_back(self):
        return None

    def merge(self, nvrs):
        pass


def main() -> int:
    from discomy.orchestration import campaign as cm
    from discomy.orchestration.runner import plan_nodes
    from discomy.planning.planner import make_plan
    from discomy.planning.repodata import load_graph
    from discomy.orchestration.engine import Engine, EngineSettings
    from discomy.orchestration.store import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path,
                        default=ROOT.parent / "shared" / "datasets" / "debian-bookworm-main")
    parser.add_argument("--store", default=None)
    parser.add_argument("--steps", type=int, default=10,
                        help="engine steps to time (builds finish at once)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{tmp}/bench.sqlite"
        t = time.perf_counter()
        graph = load_graph([args.dataset / "source", args.dataset / "binary"],
                           cache_dir=Path(tmp) / "cache")
        plan = make_plan(graph, ["zlib"])
        nodes = plan_nodes(plan)
        t_plan = time.perf_counter() - t
        store = Store(url)
        t = time.perf_counter()
        campaign_id = store.create_campaign(plan.changed, "per-edge", "local", nodes)
        t_store = time.perf_counter() - t
        t = time.perf_counter()
        loaded = store.nodes(campaign_id)
        ready = cm.releasable(loaded, "per-edge", 50)
        t_decide = time.perf_counter() - t
        t = time.perf_counter()
        engine = Engine(store, _InstantBackend(), campaign_id,
                        settings=EngineSettings(50, 50, poll_seconds=0))
        for _ in range(args.steps):
            engine.step()
        t_steps = (time.perf_counter() - t) / max(1, args.steps)
        built = sum(1 for n in store.nodes(campaign_id).values() if n.state == cm.DONE)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    edges = sum(len(n.deps) for n in nodes)
    print(f"campaign for zlib: {len(nodes)} nodes, {edges} release edges; plan {t_plan:.1f} s, "
          f"store {t_store:.1f} s, load + first release decision {t_decide:.1f} s "
          f"({len(ready)} released); engine step {t_steps:.2f} s on average over {args.steps} "
          f"({built} built); peak RSS {rss:.0f} MiB (goal <= 500 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
