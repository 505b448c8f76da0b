"""``discomy rebuild``, ``campaigns``, ``status``, ``resume`` and ``cancel``: campaigns
from the shell.

They read the same config as ``discomy serve`` (``/etc/discomy/orchestrator.toml``
or ``--config``), so a campaign recorded here with ``--detach`` is driven by the
daemon, and one run in the foreground is driven exactly as the daemon would.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from discomy.cli import (
    CliError,
    add_config_options,
    positive_int,
    positive_seconds,
    read_config,
)
from discomy.common.paths import location_option, path_option
from discomy.common.units import count

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    rebuild = subparsers.add_parser(
        "rebuild", help="rebuild everything a change affects",
        description="Plan the rebuild of what depends on NAME and run it: in the foreground "
                    "with progress bars, or with --detach for discomy serve. --dry-run prints "
                    "the impact and the ETA on the fleet and submits nothing.")
    rebuild.add_argument("names", nargs="+", metavar="NAME",
                         help="the changed source packages (names or NVRs)")
    rebuild.add_argument("--target", help="koji build target (default: [campaign] target)")
    rebuild.add_argument("--mode", choices=("scratch", "sidetag"),
                         help="scratch: verify only; sidetag: real builds in a side tag, merged "
                              "when all passed (default: [campaign] mode)")
    rebuild.add_argument("--release", choices=("per-tier", "per-edge"),
                         help="per-tier: a barrier per tier; per-edge: each node as soon as its "
                              "own dependencies are in the buildroot (default: [campaign] release)")
    rebuild.add_argument("--backend", choices=("koji", "local"),
                         help="koji, or rpmbuild and createrepo_c here (default: [campaign] backend)")
    rebuild.add_argument("--depth", choices=("direct", "buildroot"),
                         help="planner depth (default: [campaign] depth)")
    rebuild.add_argument("--repo", action="append", type=location_option, metavar="DIR|URL",
                         help="rpm-md repositories the plan is made from (default: [plan] repos; "
                              "for local builds also [local] source_repos)")
    rebuild.add_argument("--workdir", type=path_option, default=None,
                         help="local build directory (default: [campaign] workdir)")
    rebuild.add_argument("--dry-run", action="store_true",
                         help="print the impact and the ETA on the fleet, build nothing")
    rebuild.add_argument("--fleet", type=path_option, metavar="FLEET.yaml",
                         help="with --dry-run: estimate on this fleet instead of koji's hosts")
    rebuild.add_argument("--json", action="store_true",
                         help="one JSON object: the plan with --dry-run, else the campaign's "
                              "summary at the end")
    rebuild.add_argument("--detach", action="store_true",
                         help="record the campaign and return: discomy serve drives it")
    rebuild.add_argument("--no-progress", action="store_true",
                         help="no progress bars (for logs and pipes)")
    add_config_options(rebuild)
    rebuild.set_defaults(func=run_rebuild)

    campaigns = subparsers.add_parser("campaigns", help="list campaigns")
    add_config_options(campaigns)
    campaigns.set_defaults(func=run_campaigns)

    status = subparsers.add_parser("status", help="a campaign's progress per tier")
    status.add_argument("campaign", type=positive_int, help="the campaign's number (discomy campaigns)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--follow", action="store_true",
                        help="live progress bars until the campaign stops")
    status.add_argument("--interval", type=positive_seconds, default=2.0,
                        help="seconds between looks")
    add_config_options(status)
    status.set_defaults(func=run_status)

    resume = subparsers.add_parser(
        "resume", help="go on with a campaign; with NODE: a fixed NODE is in",
        description="Go on with a paused, failed or interrupted campaign. Without NODE, the "
                    "failed nodes are built again as they are. With NODE, a fix of the failed "
                    "NODE is in: for koji, a fixed build tagged into the destination, which "
                    "counts as done and releases its dependents; for local builds, a fixed "
                    "source package in the source repositories, which is built first (its "
                    "dependents wait for that build). Refused when the source repositories "
                    "hold no source package of NODE, or still the one that failed.")
    resume.add_argument("campaign", type=positive_int, help="the campaign's number (discomy campaigns)")
    resume.add_argument("name", nargs="?", metavar="NODE",
                        help="a failed package whose fix is in (see the description)")
    resume.add_argument("--repo", action="append", type=path_option, metavar="DIR",
                        help="source repositories of a local campaign (default: the recorded ones)")
    resume.add_argument("--workdir", type=path_option, default=None,
                        help="local build directory (default: the recorded one)")
    resume.add_argument("--detach", action="store_true",
                        help="mark it and return: discomy serve drives it")
    resume.add_argument("--no-progress", action="store_true",
                        help="no progress bars (for logs and pipes)")
    resume.add_argument("--json", action="store_true",
                        help="the campaign's summary at the end as one JSON object")
    add_config_options(resume)
    resume.set_defaults(func=run_resume)

    rejected = subparsers.add_parser(
        "rejected", help="messages the daemon rejected, newest first",
        description="The koji messages discomy serve could not take: not koji events, or "
                    "their handling failed. The broker forgot them; the store keeps them.")
    rejected.add_argument("--limit", type=positive_int, default=20, help="how many (default 20)")
    rejected.add_argument("--json", action="store_true",
                          help="JSON lines, with each message's body and properties")
    add_config_options(rejected)
    rejected.set_defaults(func=run_rejected)

    cancel = subparsers.add_parser("cancel", help="stop a campaign: nothing more is submitted")
    cancel.add_argument("campaign", type=positive_int, help="the campaign's number (discomy campaigns)")
    cancel.add_argument("--kill", action="store_true",
                        help="also cancel its running koji tasks (default: they finish)")
    add_config_options(cancel)
    cancel.set_defaults(func=run_cancel)


# -- shared ------------------------------------------------------------------------
def _store(args, config: dict):
    from discomy.orchestration.store import Store, StoreError

    try:
        return Store(args.store or config["store"]["url"])
    except StoreError as exc:
        where = "--store" if args.store else "[store] url"
        raise CliError(f"cannot open the store ({where}): {exc}") from None


def _campaign_row(store, campaign_id):
    try:
        return store.campaign(campaign_id)
    except KeyError as exc:
        raise CliError(str(exc).strip("'")) from None


def _koji_session(config):
    from discomy.orchestration.backends.koji import KojiBackendError, session_for

    try:
        return session_for(config["koji"]["profile"], config["koji"]["server"])
    except KojiBackendError as exc:
        raise CliError(str(exc)) from None


def _run(store, campaign_id: int, config: dict, args, workdir=None, repos=None) -> int:
    """Drive a recorded campaign in the foreground, as the daemon would."""
    from discomy.orchestration.backends import BackendError
    from discomy.orchestration.runner import run_campaign, side_services

    gate, notifier = side_services(config)
    row = store.campaign(campaign_id)
    session = (lambda: _koji_session(config)) if row.backend == "koji" else None
    try:
        summary = run_campaign(store, campaign_id, workdir, repos, progress=not args.no_progress,
                               config=config, session=session, gate=gate, notifier=notifier)
    except (ValueError, BackendError) as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        print(f"campaign {campaign_id} goes on where it stopped with discomy serve or "
              f"`discomy resume {campaign_id}`", file=sys.stderr)
        raise
    finally:
        if notifier:
            notifier.close()
    if getattr(args, "json", False):
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0 if summary["state"] == "done" else 1


def _print_summary(summary: dict) -> None:
    """The end of a foreground run, for people: what was rebuilt, and for each failed
    node why and where its log is."""
    cid = summary["campaign"]
    counts = ", ".join(f"{len(summary[k])} {k}" for k in ("done", "failed", "quarantined")
                       if summary[k])
    print(f"campaign {cid}: {summary['state']}" + (f" ({counts})" if counts else ""))
    if summary.get("note"):
        print(f"  note: {summary['note']}")
    for name, failure in summary["failures"].items():
        print(_failure_line(name, failure["class"], failure["reason"], failure["attempts"]))
        if failure["log"]:
            print(f"      log: {failure['log']}")
    waiting: dict = {}
    for name, reason in summary["waiting"].items():
        waiting.setdefault(reason or "a dependency failed", []).append(name)
    for reason, names in waiting.items():
        print(f"  quarantined: {', '.join(names)} ({reason})")
    if summary["nvrs"]:
        print(f"  rebuilt: {', '.join(summary['nvrs'])}")
    if summary.get("repo"):
        print(f"  repository: {summary['repo']}")
    if summary.get("sidetag"):
        print(f"  side tag: {summary['sidetag']}")
    if summary["failures"]:
        first = next(iter(summary["failures"]))
        fix = "its fixed source package is in the source repositories" \
            if summary["backend"] == "local" else "its fixed build is tagged"
        print(f"  next: once {fix}, `discomy resume {cid} {first}`; or build the failed ones "
              f"again as they are: `discomy resume {cid}`")


def _failure_line(name: str, failure_class, reason: str, attempts: int) -> str:
    tries = f", {attempts} attempts" if attempts > 1 else ""
    first = reason.splitlines()[0][:300] if reason else "no reason recorded"
    return f"  failed: {name} ({failure_class or 'package'}{tries}): {first}"


# -- rebuild -----------------------------------------------------------------------
def run_rebuild(args) -> int:
    from discomy.orchestration.runner import (
        OptionError,
        campaign_options,
        live_conflict,
        plan_repos,
        start_campaign,
    )
    from discomy.planning.planner import PlanError
    from discomy.planning.repodata import RepodataError

    if args.fleet and not args.dry_run:
        raise CliError("--fleet goes with --dry-run: it is the fleet the ETA is estimated "
                       "on, not where builds run")
    config = read_config(args)
    try:
        options = campaign_options(config, args.backend, args.release, args.depth,
                                   args.target, args.mode)
    except OptionError as exc:
        raise CliError(exc.worded(lambda option: f"--{option}")) from None
    backend, release = options.backend, options.release
    repos = args.repo or plan_repos(config, backend)
    if not repos:
        raise CliError("no repositories to plan from: pass --repo (or set [plan] repos)")
    cache_dir = Path(config["plan"]["cache_dir"])
    if args.dry_run:
        return _dry_run(args, config, repos, options)
    store = _store(args, config)
    conflict = live_conflict(store, args.names, options.target)
    if conflict:
        live, name = conflict
        raise CliError(f"campaign {live} is already rebuilding after {name} for "
                       f"{options.target}; follow it with `discomy status {live} --follow`")
    workdir = args.workdir or Path(config["campaign"]["workdir"])
    try:
        campaign_id = start_campaign(store, repos, args.names, release, backend=backend,
                                     target=options.target, mode=options.mode,
                                     depth=options.depth, cache_dir=cache_dir,
                                     workdir=workdir,
                                     module_streams=config["plan"]["module_streams"])
    except (PlanError, RepodataError) as exc:
        raise CliError(str(exc)) from None
    if args.detach:
        print(f"campaign {campaign_id}: recorded ({len(store.nodes(campaign_id))} packages, "
              f"{backend}, {release}); discomy serve drives it")
        return 0
    return _run(store, campaign_id, config, args, workdir=workdir)


def _dry_run(args, config, repos, options) -> int:
    from discomy.cli.plan import read_fleet_file
    from discomy.orchestration.preview import make_preview, preview_json
    from discomy.planning.planner import PlanError
    from discomy.planning.repodata import RepodataError

    fleet = read_fleet_file(args.fleet) if args.fleet else None
    try:
        preview = make_preview(repos, args.names, options.depth,
                               Path(config["plan"]["cache_dir"]), options.backend,
                               options.target, fleet=fleet, fleet_name=str(args.fleet),
                               session=lambda: _koji_session(config),
                               module_streams=config["plan"]["module_streams"],
                               config=config)
    except (PlanError, RepodataError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(preview_json(preview)))
        return 0
    plan, eta = preview.plan, preview.eta
    print(f"would rebuild {count(len(plan.affected), 'package')} in "
          f"{count(len(plan.tiers), 'tier')} ({count(len(plan.cycles), 'cycle')}), "
          f"{plan.total_seconds / 3600:.1f} compute-hours, "
          f"critical path {plan.critical_path_seconds / 3600:.1f} h")
    for i, tier in enumerate(plan.tiers):
        more = f" (+{len(tier) - 12} more)" if len(tier) > 12 else ""
        print(f"  tier {i}: {', '.join(tier[:12])}{more}")
    for cycle in plan.cycles:
        # the planner breaks a cycle at its bootstrap edges: members build in this order,
        # the first ones against the previous builds of the later ones
        boot = [f"{m} against the previous {', '.join(plan.nodes[m].bootstrap_deps)}"
                for m in cycle if plan.nodes[m].bootstrap_deps]
        print(f"  cycle, built in bootstrap order: {' -> '.join(cycle)}"
              + (f" ({'; '.join(boot)})" if boot else ""))
    if eta:
        print(f"ETA on {eta['fleet']}: {_hours(eta['makespan_seconds'])} "
              f"(lower bound {_hours(eta['lower_bound_seconds'])}, {eta['tasks']} tasks, "
              f"{eta['compute_hours']:.1f} CPU-hours)")
    else:
        print(f"ETA: {preview.eta_unavailable}")
    return 0


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


# -- campaigns, status ---------------------------------------------------------------
def run_campaigns(args) -> int:
    rows = _store(args, read_config(args)).campaigns()
    print(f"{'ID':>5}  {'STATE':<10}{'RELEASE':<10}{'BACKEND':<8}{'MODE':<9}{'TARGET':<20}CHANGED")
    for row in rows:
        note = f"  ({row.note.splitlines()[0][:60]})" if row.note else ""
        print(f"{row.id:>5}  {row.state:<10}{row.release:<10}{row.backend:<8}"
              f"{(row.mode or ''):<9}{(row.target or ''):<20}{row.changed}{note}")
    return 0


def run_status(args) -> int:
    store = _store(args, read_config(args))
    row = _campaign_row(store, args.campaign)
    nodes = store.nodes(args.campaign)
    if args.json:
        print(json.dumps({
            "campaign": row.id, "state": row.state, "note": row.note, "backend": row.backend,
            "target": row.target, "mode": row.mode, "sidetag": row.sidetag,
            "merged": bool(row.merged),
            "nodes": {n: {"tier": x.tier, "state": x.state, "attempts": x.attempts,
                          "task": x.task, "nvr": x.nvr, "failure_class": x.failure_class,
                          "reason": x.reason, "log": x.log, "host": x.host,
                          "started_at": x.started_at, "build_seconds": x.build_seconds}
                      for n, x in nodes.items()}}))
        return 0
    if args.follow:
        return _follow(store, args)
    from rich.console import Console
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    console = Console(highlight=False)
    where = f"koji {row.target}, {row.mode}" if row.backend == "koji" else row.backend
    console.print(f"campaign {row.id}: {row.state} ({row.release}, {where}), "
                  f"changed {row.changed}", markup=False)
    if row.sidetag:
        console.print(f"  side tag {row.sidetag}" + (" (merged)" if row.merged else ""),
                      markup=False)
    if row.note:
        console.print(f"  note: {row.note}", markup=False)
    table = Table(show_header=False, box=None, pad_edge=False)
    for tier in sorted({n.tier for n in nodes.values()}):
        members = sorted((n for n in nodes.values() if n.tier == tier), key=lambda n: n.name)
        done = sum(n.state == "done" for n in members)
        open_ = [f"{n.name}={n.state}" for n in members if n.state != "done"]
        shown = "  ".join(open_[:8]) + (f"  (+{len(open_) - 8})" if len(open_) > 8 else "")
        table.add_row(f"  tier {tier}: {done}/{len(members)} done",
                      ProgressBar(total=len(members), completed=done, width=20), shown)
    console.print(table)
    for n in sorted(nodes.values(), key=lambda n: (n.tier, n.name)):
        if n.state == "failed":
            console.print(_failure_line(n.name, n.failure_class, n.reason, n.attempts),
                          markup=False, soft_wrap=True)
            if n.log:
                console.print(f"      log: {n.log}", markup=False, soft_wrap=True)
        elif n.state == "quarantined":
            console.print(f"  quarantined: {n.name} ({n.reason or 'a dependency failed'})",
                          markup=False)
    return 0


def _follow(store, args) -> int:
    from discomy.orchestration.runner import Progress

    display = Progress(store.nodes(args.campaign))
    try:
        while True:
            display.update(store.nodes(args.campaign))
            state = store.campaign(args.campaign).state
            if state != "running":
                break
            time.sleep(args.interval)
    finally:
        display.close()
    print(f"campaign {args.campaign}: {state}")
    return 0 if state == "done" else 1


def run_rejected(args) -> int:
    store = _store(args, read_config(args))
    rows = store.rejected(max(args.limit, 0))
    if args.json:
        for row in rows:
            print(json.dumps({"id": row.id, "received_at": row.received_at, "source": row.source,
                              "topic": row.topic, "msg_id": row.msg_id, "stage": row.stage,
                              "reason": row.reason, "properties": row.properties,
                              "size": row.size,
                              "body": row.body.decode("utf-8", "backslashreplace")}))
        return 0
    print(f"{count(store.rejected_count(), 'rejected message')}" + (f", the newest {len(rows)}:"
                                                             if rows else ""))
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.received_at))
        print(f"{row.id:>6}  {when}  {row.source:<8}{row.stage:<10}{row.topic[:60]}  "
              f"{row.reason.splitlines()[0][:160] if row.reason else ''}")
    return 0


# -- resume, cancel ------------------------------------------------------------------
def run_resume(args) -> int:
    from discomy.orchestration.engine import REBUILD, resume_campaign
    from discomy.orchestration.runner import backend_for

    config = read_config(args)
    store = _store(args, config)
    row = _campaign_row(store, args.campaign)
    backend = None

    def local_backend():
        nonlocal backend
        backend = backend_for(row, config, workdir=args.workdir, source_repos=args.repo)
        return backend

    try:
        how, _ = resume_campaign(store, args.campaign, args.name, local_backend)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if how == REBUILD:
        print(f"campaign {args.campaign}: {args.name} is built again from "
              f"{backend.srpms[args.name]}", file=sys.stderr)
    if args.detach:
        print(f"campaign {args.campaign}: running again; discomy serve drives it")
        return 0
    return _run(store, args.campaign, config, args, workdir=args.workdir, repos=args.repo)


def run_cancel(args) -> int:
    from discomy.orchestration.engine import cancel_campaign

    config = read_config(args)
    store = _store(args, config)
    row = _campaign_row(store, args.campaign)
    try:
        running = cancel_campaign(store, args.campaign)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.kill and running and row.backend == "koji":
        from discomy.orchestration.backends import HubUnavailable
        from discomy.orchestration.backends.koji import KojiBackend

        backend = KojiBackend(_koji_session(config), row.id, row.target, row.mode,
                              retries=config["koji"]["retries"])
        try:
            for task in running.values():
                backend.cancel(task)
        except HubUnavailable as exc:
            raise CliError(f"campaign {args.campaign} is cancelled, but its koji tasks are "
                           f"not: {exc}") from None
        print(f"campaign {args.campaign}: cancelled, {len(running)} koji tasks cancelled")
        return 0
    print(f"campaign {args.campaign}: cancelled ({len(running)} builds already running finish; "
          f"nothing more is submitted)")
    return 0
