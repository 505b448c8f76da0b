"""``discomy plan`` and ``discomy estimate``: the planner and the estimator from the shell.

Both read rpm-md repositories (binary and source) with libsolv, then call the
pure core. ``--json`` prints one object for scripts; otherwise a table for people.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

from discomy.cli import CliError
from discomy.common.paths import location_option, path_option
from discomy.common.units import count

POLICY_CHOICES = ("koji-stock", "tiered", "discomy-stock-hub", "discomy", "all")


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
        description="Simulate the campaign on a fleet of koji builders as koji runs it "
                    "(scheduler passes, builder check-ins, build and repo tasks) and compare "
                    "it with the lower bound. Policies: koji-stock (koji as shipped, builds "
                    "released as their dependencies land), tiered (MBS-style batches), "
                    "discomy-stock-hub (the orchestrator's release order and priorities on "
                    "a hub without the plugin) and discomy (with the hub plugin).")
    _repo_options(est)
    scope = est.add_mutually_exclusive_group(required=True)
    scope.add_argument("--changed", metavar="NAME[,NAME...]", help="changed source packages")
    scope.add_argument("--all", action="store_true", help="a mass rebuild of every package")
    est.add_argument("--fleet", required=True, type=path_option, metavar="FLEET.yaml",
                     help="host groups: name, count, arches, cpus, speed, capacity, maxjobs, "
                          "memory, disk")
    est.add_argument("--policy", choices=POLICY_CHOICES, default="all",
                     help="what is deployed: koji-stock, tiered, discomy-stock-hub or discomy "
                          "(default: all, side by side)")
    est.add_argument("--max-in-flight", type=_max_in_flight, default=None, metavar="N",
                     help="builds submitted and not yet in the repo at once, 1 to 10000000 "
                          "(default: half the fleet's maxjobs slots)")
    est.add_argument("--hub-config", type=path_option, metavar="discomy.conf",
                     help="the hub plugin's config for the discomy policy: power_after, "
                          "wait_for_faster, reservations, package constraints (default: "
                          "the shipped one)")
    est.add_argument("--regen-seconds", type=_regen_seconds, default=None, metavar="S",
                     help="repo regeneration delay per release, 0 to 86400 (default 300)")
    est.add_argument("--regen-mode", choices=("pipelined", "serial"), default="pipelined",
                     help="pipelined: every release waits one regeneration; serial: one "
                          "regeneration at a time, as kojira does for one tag")
    est.add_argument("--arches", metavar="ARCH[,ARCH...]",
                     help="build arches (default: every arch of the fleet)")
    est.add_argument("--plot", type=path_option, metavar="FILE.svg",
                     help="write a timeline picture (SVG) of the chosen policy")
    est.set_defaults(func=run_estimate)


def _repo_options(parser) -> None:
    parser.add_argument("--repo", action="append", required=True, type=location_option,
                        metavar="DIR|URL",
                        help="an rpm-md repository (binary or source), a directory or an "
                             "http(s) URL; repeat for several")
    parser.add_argument("--depth", choices=("direct", "buildroot"), default="direct",
                        help="direct: providers of the BuildRequires; buildroot: everything "
                             "libsolv installs for them (default: direct)")
    parser.add_argument("--durations", type=path_option, metavar="FILE.json",
                        help="package -> reference build seconds (default: a model from size)")
    parser.add_argument("--exclude", metavar="NAME[,NAME...]",
                        help="packages to leave out of the plan (not rebuilt, not looked through)")
    parser.add_argument("--module-stream", action="append", default=[], metavar="NAME:STREAM",
                        help="in modular repositories, see this stream of module NAME instead "
                             "of its default (repeatable), as dnf module enable does")
    parser.add_argument("--cache-dir", type=path_option, metavar="DIR",
                        help="where the derived graph is cached (default ~/.cache/discomy)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _max_in_flight(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10 ** 7:
        raise argparse.ArgumentTypeError(f"{value} is not from 1 to 10000000")
    return value


def _regen_seconds(text: str) -> float:
    from discomy.planning.simulator import check_regen_seconds

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    try:
        return check_regen_seconds(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _split(value: Optional[str]) -> list:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _read_text(path: Path, what: str) -> str:
    """A UTF-8 input file; every way it cannot be read is one :class:`CliError` line."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise CliError(f"{what} {path} is a directory, not a file") from None
    except OSError as exc:
        raise CliError(f"{what} {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None


def _read_data(path: Path, what: str, parse, syntax_error: type, syntax: str,
               check, check_error: type):
    """An input file parsed and checked; every problem is one :class:`CliError` line."""
    text = _read_text(path, what)
    try:
        data = parse(text)
    except syntax_error as exc:
        raise CliError(f"{what} {path} is not valid {syntax}: {_one_line(exc)}") from None
    except (ValueError, RecursionError) as exc:   # a number too long, nesting too deep
        raise CliError(f"{what} {path} cannot be parsed: {exc}") from None
    try:
        return check(data, str(path))
    except check_error as exc:
        raise CliError(str(exc)) from None


def _load(args):
    from discomy.planning.durations import validate_durations
    from discomy.planning.repodata import RepodataError, load_graph

    durations = None
    if args.durations:
        durations = _read_data(args.durations, "durations file", json.loads,
                               json.JSONDecodeError, "JSON", validate_durations, ValueError)
    try:
        with _status("Loading repositories", quiet=args.json):
            graph = load_graph(args.repo, depth=args.depth, cache_dir=args.cache_dir,
                               use_cache=not args.no_cache, module_streams=args.module_stream)
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
    from discomy.planning.planner import PlanError, make_plan

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
    from discomy.planning.simulator import POLICIES, SHIPPED_HUB, SimConfig, workload_from_plan
    from discomy.planning.timeline import timeline_svg

    started = time.perf_counter()
    fleet = read_fleet_file(args.fleet)
    graph, durations = _load(args)
    plan = _plan(args, graph, durations, _split(args.changed), rebuild_all=args.all)
    workload = workload_from_plan(plan)
    try:
        config = SimConfig(**fleet.koji.sim_settings(),
                           regen_mode=args.regen_mode, arches=tuple(_split(args.arches)),
                           max_in_flight=args.max_in_flight,
                           **({"repo_regen_seconds": args.regen_seconds}
                              if args.regen_seconds is not None else {}))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    hub = read_hub_config(args.hub_config) if args.hub_config else SHIPPED_HUB
    missing = [a for a in config.arches if a not in fleet.arches]
    if missing:
        raise CliError(f"no host in {args.fleet} builds {', '.join(missing)}")
    policies = POLICIES if args.policy == "all" else (args.policy,)
    with _status(f"Simulating {', '.join(policies)}", quiet=args.json):
        try:
            results = dict(zip(policies, _simulate_all(workload, fleet, policies, config, hub)))
        except ValueError as exc:
            raise CliError(str(exc)) from None
    chosen = results["discomy"] if "discomy" in results else results[policies[0]]
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
            "koji": config.koji_conf(),
            "policies": {p: r.to_dict() for p, r in results.items()},
            "elapsed_seconds": round(elapsed, 3),
        })
        sys.stdout.write(json.dumps(out) + "\n")
        return 0
    print(format_estimate(plan, fleet, config, results, elapsed))
    if args.plot:
        print(f"Timeline written to {args.plot}")
    return 0


def _simulate_all(workload, fleet, policies, config, hub) -> list:
    """One simulation per policy, side by side in worker processes where there are cpus
    for them (each is single-threaded Python)."""
    import os

    from discomy.planning.simulator import simulate

    workers = min(len(policies), os.cpu_count() or 1)
    if workers < 2:
        return [simulate(workload, fleet, policy, config, hub) for policy in policies]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(simulate, workload, fleet, policy, config, hub)
                   for policy in policies]
        return [f.result() for f in futures]


def read_hub_config(path):
    """A hub plugin config file (discomy.conf), checked as the hub checks it."""
    import configparser

    from discomy.placement import ConfigError, parse_config

    text = _read_text(path, "hub config")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str      # package globs are case-sensitive
    try:
        parser.read_string(text, str(path))
        return parse_config({name: dict(parser.items(name)) for name in parser.sections()})
    except (configparser.Error, ConfigError) as exc:
        raise CliError(f"hub config {path}: {' '.join(str(exc).split())}") from None


def read_fleet_file(path):
    """A fleet file, checked; every problem is one :class:`CliError` line."""
    import yaml

    from discomy.planning.fleet import FleetError, fleet_from_data

    return _read_data(path, "fleet file", yaml.safe_load, yaml.YAMLError, "YAML",
                      fleet_from_data, FleetError)


def _one_line(exc) -> str:
    """A parser's message as one line (PyYAML's spans several: its problem and where)."""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["?"])[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def format_estimate(plan, fleet, config, results, elapsed) -> str:
    any_result = next(iter(results.values()))
    bounds = any_result.bounds
    what = "every package" if not plan.changed else ", ".join(plan.changed)
    flight = (f", builds in flight {_hms(bounds.flight_seconds)}"
              if bounds.flight_seconds else "")
    lines = [
        f"Campaign: {what}: {count(any_result.build_count, 'build')}, "
        f"{count(any_result.task_count, 'buildArch task')}; fleet: "
        f"{count(fleet.host_count, 'host')} in {count(len(fleet.groups), 'group')} "
        f"({', '.join(fleet.arches)})",
        f"Lower bound {_hms(bounds.lower_bound_seconds)} = max(critical path on the fastest "
        f"hosts with koji's passes {_hms(bounds.critical_path_seconds)}, work / throughput "
        f"{_hms(bounds.work_seconds)}{flight}); createrepo {config.repo_regen_seconds:g} s "
        f"({config.regen_mode}), scheduler every {config.run_interval:g} s, builders check "
        f"in every {config.sleeptime:g} s",
        "",
        f"{'POLICY':<18} {'MAKESPAN':>9} {'x BOUND':>8} {'UTIL':>6} {'CPU-HOURS':>10} "
        f"{'STORAGE':>9}",
    ]
    stock = results.get("koji-stock")
    for policy, r in results.items():
        ratio = r.makespan_seconds / bounds.lower_bound_seconds if bounds.lower_bound_seconds else 0
        gain = ""
        if stock and policy != "koji-stock" and stock.makespan_seconds:
            change = 1 - r.makespan_seconds / stock.makespan_seconds
            gain = f"  {abs(100 * change):.0f}% {'shorter' if change >= 0 else 'longer'} than koji-stock"
        lines.append(f"{policy:<18} {_hms(r.makespan_seconds):>9} {ratio:>8.3f} "
                     f"{100 * r.utilisation:>5.1f}% {r.compute_hours:>10.1f} "
                     f"{r.storage_bytes / 1024 ** 3:>7.1f}GB{gain}")
    lines += ["", f"Estimated in {elapsed:.2f} s"]
    return "\n".join(lines)
