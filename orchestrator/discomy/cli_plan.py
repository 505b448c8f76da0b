"""``discomy plan`` and ``discomy estimate``: the planner and the estimator from the shell.

Both read rpm-md repositories (binary and source) with libsolv, then call the
pure core. ``--json`` prints one object for scripts; otherwise a table for people.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

from .cli import CliError

POLICY_CHOICES = ("koji-stock", "tiered", "critical-path", "all")


def register(subparsers) -> None:
    plan = subparsers.add_parser(
        "plan", help="what to rebuild after a change, in which order",
        description="Print the rebuild plan that follows a change: the affected packages, "
                    "build cycles with their bootstrap order, tiers and the critical path.")
    _repo_options(plan)
    plan.add_argument("--changed", required=True, metavar="NAME[,NAME...]",
                      help="changed source packages (names or NVRs), comma separated")
    plan.add_argument("--max-names", type=int, default=12, metavar="N",
                      help="packages listed per tier in the table (default 12)")
    plan.set_defaults(func=run_plan)

    est = subparsers.add_parser(
        "estimate", help="how long a rebuild campaign takes on a fleet",
        description="Simulate the campaign on a fleet of koji builders and compare it with "
                    "the lower bound (critical path on the fastest host, total work over "
                    "fleet throughput).")
    _repo_options(est)
    scope = est.add_mutually_exclusive_group(required=True)
    scope.add_argument("--changed", metavar="NAME[,NAME...]", help="changed source packages")
    scope.add_argument("--all", action="store_true", help="a mass rebuild of every package")
    est.add_argument("--fleet", required=True, type=Path, metavar="FLEET.yaml",
                     help="host groups: name, count, arches, cpus, speed, capacity, maxjobs, "
                          "memory, disk")
    est.add_argument("--policy", choices=POLICY_CHOICES, default="all",
                     help="scheduling policy to simulate (default: all, side by side)")
    est.add_argument("--regen-seconds", type=float, default=None, metavar="S",
                     help="repo regeneration delay per release (default 300)")
    est.add_argument("--regen-mode", choices=("pipelined", "serial"), default="pipelined",
                     help="pipelined: every release waits one regeneration; serial: one "
                          "regeneration at a time, as kojira does for one tag")
    est.add_argument("--arches", metavar="ARCH[,ARCH...]",
                     help="build arches (default: every arch of the fleet)")
    est.add_argument("--plot", type=Path, metavar="FILE.svg",
                     help="write a timeline picture (SVG) of the chosen policy")
    est.set_defaults(func=run_estimate)


def _repo_options(parser) -> None:
    parser.add_argument("--repo", action="append", required=True, metavar="DIR|URL",
                        help="an rpm-md repository (binary or source), a directory or an "
                             "http(s) URL; repeat for several")
    parser.add_argument("--depth", choices=("direct", "buildroot"), default="direct",
                        help="direct: providers of the BuildRequires; buildroot: everything "
                             "libsolv installs for them (default: direct)")
    parser.add_argument("--durations", type=Path, metavar="FILE.json",
                        help="package -> reference build seconds (default: a model from size)")
    parser.add_argument("--exclude", metavar="NAME[,NAME...]",
                        help="packages to leave out of the plan (not rebuilt, not looked through)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="where the derived graph is cached (default ~/.cache/discomy)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _split(value: Optional[str]) -> list:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _load(args):
    from .durations import validate_durations
    from .repodata import RepodataError, load_graph

    durations = None
    if args.durations:
        try:
            durations = validate_durations(json.loads(args.durations.read_text()),
                                           str(args.durations))
        except FileNotFoundError:
            raise CliError(f"durations file {args.durations} does not exist") from None
        except (json.JSONDecodeError, ValueError) as exc:
            raise CliError(f"durations file {args.durations}: {exc}") from None
    try:
        with _status("Loading repositories", quiet=args.json):
            graph = load_graph(args.repo, depth=args.depth, cache_dir=args.cache_dir,
                               use_cache=not args.no_cache)
    except RepodataError as exc:
        raise CliError(str(exc)) from None
    return graph, durations


class _status:
    """A spinner on an interactive stderr while slow work runs (e.g. an uncached load)."""

    def __init__(self, text: str, quiet: bool = False):
        self.text, self.live = text, None
        self.enabled = not quiet and sys.stderr.isatty()

    def __enter__(self):
        if self.enabled:
            from rich.console import Console

            self.live = Console(stderr=True).status(self.text)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live:
            self.live.__exit__(*exc)


def _plan(args, graph, durations, changed, rebuild_all=False):
    from .planner import PlanError, make_plan

    try:
        return make_plan(graph, changed, exclude=_split(args.exclude), durations=durations,
                         rebuild_all=rebuild_all)
    except PlanError as exc:
        raise CliError(str(exc)) from None


def run_plan(args) -> int:
    started = time.perf_counter()
    changed = _split(args.changed)
    if not changed:
        raise CliError("the changed set is empty: name at least one source package")
    graph, durations = _load(args)
    plan = _plan(args, graph, durations, changed)
    elapsed = time.perf_counter() - started
    if args.json:
        sys.stdout.write(plan.to_json({"depth": args.depth,
                                       "elapsed_seconds": round(elapsed, 4)}) + "\n")
        return 0
    print(format_plan(plan, args.max_names, elapsed))
    return 0


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def format_plan(plan, max_names: int, elapsed: float) -> str:
    from .units import count

    def more(total: int, what: str = "") -> list:
        return [f"  ... (+{total - max_names} more{what})"] if total > max_names else []

    lines = [
        f"Changed: {', '.join(plan.changed)}"
        + (f"   excluded: {', '.join(plan.excluded)}" if plan.excluded else ""),
        f"Affected: {count(len(plan.affected), 'package')} in {count(len(plan.tiers), 'tier')}, "
        f"{count(len(plan.cycles), 'build cycle')}; total build time {_hms(plan.total_seconds)}, "
        f"critical path {_hms(plan.critical_path_seconds)}",
        "",
        f"{'TIER':>4}  {'PKGS':>6}  PACKAGES",
    ]
    for i, tier in enumerate(plan.tiers):
        shown = ", ".join(tier[:max_names])
        extra = f" ... (+{len(tier) - max_names} more)" if len(tier) > max_names else ""
        lines.append(f"{i:>4}  {len(tier):>6}  {shown}{extra}")
    if plan.cycles:
        lines += ["", "Build cycles (bootstrap order):"]
        for cycle in plan.cycles[:max_names]:
            shown = " -> ".join(cycle[:max_names])
            extra = f" ... (+{len(cycle) - max_names} more)" if len(cycle) > max_names else ""
            lines.append(f"  {shown}{extra}")
        lines += more(len(plan.cycles), " cycle" if len(plan.cycles) - max_names == 1 else " cycles")
    if plan.critical_path:
        lines += ["", "Critical path:"]
        for name in plan.critical_path:
            lines.append(f"  {name:<40} {_hms(plan.durations[plan.graph.index_of(name)]):>8}")
    unresolved = [n for n in plan.affected if n in plan.graph.unresolved]
    if unresolved:
        lines += ["", f"Unresolvable BuildRequires in "
                      f"{count(len(unresolved), 'affected package')}:"]
        for name in unresolved[:max_names]:
            lines.append(f"  {name}: {', '.join(plan.graph.unresolved[name])}")
        lines += more(len(unresolved))
    broken = [n for n in plan.affected if n in plan.graph.uninstallable]
    if broken:
        lines += ["", f"Buildroots libsolv cannot install for "
                      f"{count(len(broken), 'affected package')} "
                      "(approximated with one provider per requirement):"]
        for name in broken[:max_names]:
            lines.append(f"  {name}: {plan.graph.uninstallable[name][0]}")
        lines += more(len(broken))
    lines += ["", f"Planned in {elapsed:.3f} s"]
    return "\n".join(lines)


def run_estimate(args) -> int:
    from .simulator import POLICIES, SimConfig, simulate, workload_from_plan
    from .timeline import timeline_svg

    started = time.perf_counter()
    fleet = read_fleet_file(args.fleet)
    graph, durations = _load(args)
    plan = _plan(args, graph, durations, _split(args.changed), rebuild_all=args.all)
    workload = workload_from_plan(plan)
    config = SimConfig(regen_mode=args.regen_mode, arches=tuple(_split(args.arches)),
                       **({"repo_regen_seconds": args.regen_seconds}
                          if args.regen_seconds is not None else {}))
    missing = [a for a in config.arches if a not in fleet.arches]
    if missing:
        raise CliError(f"no host in {args.fleet} builds {', '.join(missing)}")
    policies = POLICIES if args.policy == "all" else (args.policy,)
    results = {}
    for policy in policies:
        with _status(f"Simulating {policy}", quiet=args.json):
            try:
                results[policy] = simulate(workload, fleet, policy, config)
            except ValueError as exc:
                raise CliError(str(exc)) from None
    chosen = results["critical-path"] if "critical-path" in results else results[policies[0]]
    if args.plot:
        svg = timeline_svg(f"discomy estimate: {chosen.policy}", chosen.host_names, chosen.runs,
                           workload.tiers.tolist(), workload.names, chosen.makespan_seconds,
                           chosen.bounds.lower_bound_seconds)
        try:
            args.plot.write_text(svg)
        except OSError as exc:
            raise CliError(f"cannot write {args.plot}: {exc.strerror}") from None
    elapsed = time.perf_counter() - started
    if args.json:
        out = chosen.to_dict()
        out.update({
            "changed": list(plan.changed),
            "affected": len(plan.affected),
            "repo_regen_seconds": config.repo_regen_seconds,
            "regen_mode": config.regen_mode,
            "policies": {p: r.to_dict() for p, r in results.items()},
            "elapsed_seconds": round(elapsed, 3),
        })
        sys.stdout.write(json.dumps(out) + "\n")
        return 0
    print(format_estimate(plan, fleet, config, results, elapsed))
    if args.plot:
        print(f"Timeline written to {args.plot}")
    return 0


def read_fleet_file(path):
    """A fleet file, checked; every problem is one :class:`CliError` line."""
    import yaml

    from .fleet import FleetError, fleet_from_data

    try:
        return fleet_from_data(yaml.safe_load(path.read_text()), str(path))
    except FileNotFoundError:
        raise CliError(f"fleet file {path} does not exist") from None
    except OSError as exc:
        raise CliError(f"fleet file {path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CliError(f"fleet file {path} is not valid YAML: {exc}") from None
    except FleetError as exc:
        raise CliError(str(exc)) from None


def format_estimate(plan, fleet, config, results, elapsed) -> str:
    any_result = next(iter(results.values()))
    bounds = any_result.bounds
    what = "every package" if not plan.changed else ", ".join(plan.changed)
    lines = [
        f"Campaign: {what}: {any_result.build_count} builds, {any_result.task_count} tasks; "
        f"fleet: {fleet.host_count} hosts in {len(fleet.groups)} groups ({', '.join(fleet.arches)})",
        f"Lower bound {_hms(bounds.lower_bound_seconds)} = max(critical path on the fastest "
        f"hosts {_hms(bounds.critical_path_seconds)}, work / throughput "
        f"{_hms(bounds.work_seconds)}); repo regeneration {config.repo_regen_seconds:g} s "
        f"({config.regen_mode})",
        "",
        f"{'POLICY':<14} {'MAKESPAN':>9} {'x BOUND':>8} {'UTIL':>6} {'CPU-HOURS':>10} {'STORAGE':>9}",
    ]
    stock = results.get("koji-stock")
    for policy, r in results.items():
        ratio = r.makespan_seconds / bounds.lower_bound_seconds if bounds.lower_bound_seconds else 0
        gain = ""
        if stock and policy != "koji-stock" and stock.makespan_seconds:
            change = 1 - r.makespan_seconds / stock.makespan_seconds
            gain = f"  {abs(100 * change):.0f}% {'shorter' if change >= 0 else 'longer'} than koji-stock"
        lines.append(f"{policy:<14} {_hms(r.makespan_seconds):>9} {ratio:>8.3f} "
                     f"{100 * r.utilisation:>5.1f}% {r.compute_hours:>10.1f} "
                     f"{r.storage_bytes / 1024 ** 3:>7.1f}GB{gain}")
    lines += ["", f"Estimated in {elapsed:.2f} s"]
    return "\n".join(lines)
