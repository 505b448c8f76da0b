"""``discomy rebuild``, ``campaigns``, ``status`` and ``resume``: campaigns from the shell."""

from __future__ import annotations

import json
from dataclasses import replace
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

    resume = subparsers.add_parser(
        "resume", help="go on with a campaign; with NODE: a fixed build of NODE is in",
        description="Go on with a paused, failed or interrupted campaign. With NODE, a fixed "
                    "build of the failed NODE is in the repo: it counts as done and its "
                    "quarantined dependents are released. Without NODE, failed nodes are "
                    "built again.")
    resume.add_argument("campaign", type=int)
    resume.add_argument("name", nargs="?", metavar="NODE")
    resume.add_argument("--repo", action="append", type=Path, metavar="DIR",
                        help="source repositories (default: the ones the campaign recorded)")
    resume.add_argument("--store", default=DEFAULT_STORE)
    resume.add_argument("--workdir", type=Path, default=None,
                        help="build directory (default: the one the campaign recorded)")
    resume.add_argument("--no-progress", action="store_true")
    resume.set_defaults(func=run_resume)

    cancel = subparsers.add_parser("cancel", help="stop a campaign: nothing more is submitted")
    cancel.add_argument("campaign", type=int)
    cancel.add_argument("--store", default=DEFAULT_STORE)
    cancel.set_defaults(func=run_cancel)


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
        campaign_id = start_local_campaign(store, args.repo, args.names, args.release,
                                           workdir=args.workdir)
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
    from rich.console import Console
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    console = Console(highlight=False)
    console.print(f"campaign {row.id}: {row.state} ({row.release}, {row.backend}), "
                  f"changed {row.changed}")
    table = Table(show_header=False, box=None, pad_edge=False)
    for tier in sorted({n.tier for n in nodes.values()}):
        members = sorted((n for n in nodes.values() if n.tier == tier), key=lambda n: n.name)
        done = sum(n.state == "done" for n in members)
        table.add_row(f"  tier {tier}: {done}/{len(members)} done",
                      ProgressBar(total=len(members), completed=done, width=20),
                      "  ".join(f"{n.name}={n.state}" for n in members))
    console.print(table)
    for n in sorted(nodes.values(), key=lambda n: (n.tier, n.name)):
        if n.state in ("failed", "quarantined") and n.reason:
            console.print(f"  {n.name}: {n.state} ({n.failure_class or 'dependency'}): "
                          f"{n.reason.splitlines()[0][:200]}", markup=False)
    return 0


def run_resume(args) -> int:
    from . import campaign as cm
    from .local_campaign import run_campaign

    store = _store(args.store)
    row = _campaign_row(store, args.campaign)
    if row.state == cm.CANCELLED:
        raise CliError(f"campaign {args.campaign} was cancelled; start a new one")
    nodes = store.nodes(args.campaign)
    if args.name is not None:
        if args.name not in nodes:
            raise CliError(f"{args.name} is not part of campaign {args.campaign}")
        if nodes[args.name].state != cm.FAILED:
            raise CliError(f"{args.name} is {nodes[args.name].state} in campaign "
                           f"{args.campaign}, not failed")
        store.update_nodes(args.campaign, cm.after_resume(nodes, args.name))
    else:
        for name in [n for n, node in nodes.items() if node.state == cm.FAILED]:
            # built again, from a fresh retry budget; its dependents wait for it again
            changes = cm.after_resume(nodes, name)
            changes[name] = replace(nodes[name], state=cm.PLANNED, attempts=0,
                                    failure_class=None, reason="")
            store.update_nodes(args.campaign, changes)
            nodes = store.nodes(args.campaign)
    store.set_campaign_state(args.campaign, cm.RUNNING)
    try:
        summary = run_campaign(store, args.campaign, args.workdir, args.repo,
                               progress=not args.no_progress)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(summary, indent=2))
    return 0 if summary["state"] == "done" else 1


def run_cancel(args) -> int:
    store = _store(args.store)
    row = _campaign_row(store, args.campaign)
    if row.state in ("done", "cancelled"):
        raise CliError(f"campaign {args.campaign} is already {row.state}")
    store.set_campaign_state(args.campaign, "cancelled")
    print(f"campaign {args.campaign}: cancelled (builds already running finish; "
          f"nothing more is submitted)")
    return 0


def _campaign_row(store, campaign_id):
    try:
        return store.campaign(campaign_id)
    except KeyError as exc:
        raise CliError(str(exc).strip("'")) from None
