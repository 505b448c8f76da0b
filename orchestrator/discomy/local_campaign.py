"""A whole rebuild campaign on this machine: plan, store, local backend, progress.

Used by ``make demo`` and ``discomy rebuild --backend local``: the plan comes
from the repositories, the state lives in an SQLite file, builds run with
rpmbuild and land in the campaign's repository, tier by tier (or edge by edge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from .backends.local import LocalBackend
from .campaign import Node
from .engine import Engine
from .planner import make_plan
from .repodata import load_graph
from .store import Store


def plan_nodes(plan) -> list:
    return [Node(n.name, n.tier, n.deps, n.remaining_seconds) for n in plan.nodes.values()]


def start_campaign(store: Store, repos: Sequence[Path], changed: Sequence[str], release: str,
                   backend: str = "local", target: str = "local", mode: str = "scratch",
                   depth: str = "direct", cache_dir: Optional[Path] = None,
                   workdir: Optional[Path] = None) -> int:
    """Plan the rebuild of what ``changed`` affects and record the campaign (nothing is
    submitted yet); the source repos among ``repos`` (holding ``*.src.rpm``) are
    remembered for local builds."""
    graph = load_graph(repos, depth=depth, cache_dir=cache_dir)
    plan = make_plan(graph, changed)
    sources = [Path(r).resolve() for r in repos if any(Path(r).glob("*.src.rpm"))]
    return store.create_campaign(plan.changed, release, backend, plan_nodes(plan),
                                 target=target, mode=mode, sources=sources,
                                 workdir=None if workdir is None else Path(workdir).resolve())


def start_local_campaign(store: Store, repos: Sequence[Path], changed: Sequence[str],
                         release: str, cache_dir: Optional[Path] = None,
                         workdir: Optional[Path] = None) -> int:
    return start_campaign(store, repos, changed, release, cache_dir=cache_dir, workdir=workdir)


def run_campaign(store: Store, campaign_id: int, workdir: Optional[Path] = None,
                 source_repos: Optional[Sequence[Path]] = None,
                 progress: bool = True, max_in_flight: int = 4) -> dict:
    """Run (or go on with) a recorded campaign; directories default to the recorded ones."""
    row = store.campaign(campaign_id)
    workdir = workdir if workdir is not None else row.workdir
    source_repos = source_repos if source_repos is not None else row.source_repos
    if workdir is None or not source_repos:
        raise ValueError(f"campaign {campaign_id} does not record its workdir and source "
                         f"repositories; name them")
    backend = LocalBackend(Path(workdir) / f"campaign-{campaign_id}", source_repos, campaign_id)
    display = _Progress(store.nodes(campaign_id)) if progress else None
    engine = Engine(store, backend, campaign_id, row.release, max_in_flight,
                    on_change=display.update if display else None)
    try:
        state = engine.run()
    finally:
        if display:
            display.close()
    nodes = store.nodes(campaign_id)
    return {
        "campaign": campaign_id,
        "state": state,
        "done": sorted(n for n, node in nodes.items() if node.state == "done"),
        "failed": sorted(n for n, node in nodes.items() if node.state == "failed"),
        "quarantined": sorted(n for n, node in nodes.items() if node.state == "quarantined"),
        "nvrs": sorted(filter(None, (store.node_row(campaign_id, n).nvr for n in nodes))),
        "repo": str(backend.repo),
    }


def run_local_campaign(workdir, changed, release: str = "per-tier", progress: bool = True) -> dict:
    """Build the example packages, then rebuild what ``changed`` affects, locally."""
    from .examples import build_examples

    workdir = Path(workdir).resolve()
    repos = build_examples(workdir / "examples")
    store = Store(f"sqlite:///{workdir / 'discomy.sqlite'}")
    campaign_id = start_local_campaign(store, repos.repos, changed, release,
                                       cache_dir=workdir / "cache", workdir=workdir)
    return run_campaign(store, campaign_id, workdir, [repos.source_repo], progress)


class _Progress:
    """One rich progress bar per tier, fed from the store after every transition."""

    def __init__(self, nodes: dict):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[note]}"))
        self.bars = {}
        for tier in sorted({n.tier for n in nodes.values()}):
            size = sum(1 for n in nodes.values() if n.tier == tier)
            self.bars[tier] = self.progress.add_task(f"tier {tier}", total=size, note="")
        self.progress.start()

    def update(self, nodes: dict) -> None:
        for tier, bar in self.bars.items():
            members = [n for n in nodes.values() if n.tier == tier]
            settled = sum(1 for n in members if n.state in ("done", "failed", "quarantined"))
            building = [n.name for n in members if n.state == "building"]
            failed = [n.name for n in members if n.state == "failed"]
            note = ("building " + ", ".join(building) if building else "") + \
                   (" failed: " + ", ".join(failed) if failed else "")
            self.progress.update(bar, completed=settled, note=note)

    def close(self) -> None:
        self.progress.stop()
