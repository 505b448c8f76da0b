"""``discomy rebuild``, ``campaigns``, ``status`` and ``resume``: campaigns from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .cli import CliError

DEFAULT_STORE = "sqlite:///discomy.sqlite"


def register(subparsers) -> None:
    rebuild = subparsers.add_parser("rebuild", help="rebuild everything a change affects",
                                    description="Plan and run a rebuild campaign for NAME.")
    rebuild.add_argument("names", nargs="+", metavar="NAME")
    rebuild.add_argument("--repo", action="append", required=True, type=Path, metavar="DIR")
    rebuild.add_argument("--release", choices=("per-tier", "per-edge"), default="per-tier")
    rebuild.add_argument("--backend", choices=("local",), default="local",
                         help="local: rpmbuild and createrepo_c here (the koji backend comes later)")
    rebuild.add_argument("--store", default=DEFAULT_STORE, help="SQLAlchemy URL of the state")
    rebuild.add_argument("--workdir", type=Path, default=Path("discomy-work"))
    rebuild.add_argument("--dry-run", action="store_true", help="print the impact, build nothing")
    rebuild.add_argument("--no-progress", action="store_true")
    rebuild.set_defaults(func=run_rebuild)

    campaigns = subparsers.add_parser("campaigns", help="list campaigns")
    campaigns.add_argument("--store", default=DEFAULT_STORE)
    campaigns.set_defaults(func=run_campaigns)

    status = subparsers.add_parser("status", help="a campaign's nodes per tier")
    status.add_argument("campaign", type=int)
    status.add_argument("--store", default=DEFAULT_STORE)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)

    resume = subparsers.add_parser("resume", help="a fixed package is in: release its dependents")
    resume.add_argument("campaign", type=int)
    resume.add_argument("name")
    resume.add_argument("--repo", action="append", required=True, type=Path, metavar="DIR")
    resume.add_argument("--store", default=DEFAULT_STORE)
    resume.add_argument("--workdir", type=Path, default=Path("discomy-work"))
    resume.set_defaults(func=run_resume)


def _store(url):
    from .store import Store

    return Store(url)


def run_rebuild(args) -> int:
    from .local_campaign import run_campaign, start_local_campaign
    from .planner import PlanError, make_plan
    from .repodata import RepodataError, load_graph

    try:
        if args.dry_run:
            plan = make_plan(load_graph(args.repo), args.names)
            print(f"would rebuild {len(plan.affected)} packages in {len(plan.tiers)} tiers "
                  f"({len(plan.cycles)} cycles), {plan.total_seconds / 3600:.1f} compute-hours, "
                  f"critical path {plan.critical_path_seconds / 3600:.1f} h")
            for i, tier in enumerate(plan.tiers):
                print(f"  tier {i}: {', '.join(tier)}")
            return 0
        store = _store(args.store)
        campaign_id = start_local_campaign(store, args.repo, args.names, args.release)
    except (PlanError, RepodataError) as exc:
        raise CliError(str(exc)) from None
    summary = run_campaign(store, campaign_id, args.workdir, args.repo,
                           progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    return 0 if summary["state"] == "done" else 1


def run_campaigns(args) -> int:
    for row in _store(args.store).campaigns():
        print(f"{row.id:>5}  {row.state:<8} {row.release:<9} {row.backend:<6} {row.changed}")
    return 0


def run_status(args) -> int:
    store = _store(args.store)
    try:
        nodes = store.nodes(args.campaign)
        row = store.campaign(args.campaign)
    except KeyError as exc:
        raise CliError(str(exc).strip("'")) from None
    if args.json:
        print(json.dumps({"campaign": row.id, "state": row.state,
                          "nodes": {n: {"tier": x.tier, "state": x.state, "reason": x.reason}
                                    for n, x in nodes.items()}}))
        return 0
    print(f"campaign {row.id}: {row.state} ({row.release}, {row.backend}), changed {row.changed}")
    for tier in sorted({n.tier for n in nodes.values()}):
        members = sorted((n for n in nodes.values() if n.tier == tier), key=lambda n: n.name)
        done = sum(n.state == "done" for n in members)
        print(f"  tier {tier}: {done}/{len(members)} done  "
              + "  ".join(f"{n.name}={n.state}" for n in members))
    return 0


def run_resume(args) -> int:
    from .engine import Engine
    from .local_campaign import run_campaign

    store = _store(args.store)
    try:
        Engine(store, None, args.campaign).resume(args.name)
    except (KeyError, ValueError) as exc:
        raise CliError(str(exc).strip("'")) from None
    summary = run_campaign(store, args.campaign, args.workdir, args.repo, progress=False)
    print(json.dumps(summary, indent=2))
    return 0 if summary["state"] == "done" else 1
