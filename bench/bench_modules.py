#!/usr/bin/env python3
"""A module of 200 components in a buildafter DAG on koji: the time from its submission to
the first koji build, and on to the last.

The module lives in a git repository (its modulemd on the branch of its stream), each
component in a git repository of its own, all over file:// URLs, as the REST API would
submit it (``submit_module_build`` with an SCM URL and a branch). Koji is the stand-in
hub of tests/standins (koji's API shape; its builds finish when looked at twice, its repo
requests when checked once). Timed, per round, in a fresh store:

- submission: the modulemd fetched from git and read with libmodulemd, the DAG ordered with
  the planner core, every component's ref resolved to a commit (``git ls-remote``), the
  module build, its components and its campaign written;
- to the first build: the driver's steps from ``init`` (tags, inheritance, package list,
  target, the first buildroot repo) to the first ``build`` call the hub receives;
- to the last build, and to ``ready`` (every component built and each round of builds
  through a buildroot repo, the dist repo with modules.yaml): the orchestration's own cost.

Usage: .venv/bin/python bench/bench_modules.py [--components 200] [--rounds 3] [--store URL]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "standins"))


def module_text(names: list, seed: int = 7) -> str:
    """A modulemd v2 document of ``names`` where each is built after up to three of the
    ones before it (a DAG of about a dozen tiers for 200), written with libmodulemd."""
    import gi

    gi.require_version("Modulemd", "2.0")
    from gi.repository import Modulemd

    rng = random.Random(seed)
    stream = Modulemd.ModuleStreamV2.new("bigdag", "1")
    stream.set_summary("A module of many components")
    stream.set_description("Components built along a buildafter DAG.")
    stream.add_module_license("MIT")
    deps = Modulemd.Dependencies.new()
    deps.add_buildtime_stream("platform", "el9")
    deps.add_runtime_stream("platform", "el9")
    stream.add_dependencies(deps)
    for i, name in enumerate(names):
        component = Modulemd.ComponentRpm.new(name)
        component.set_rationale(f"component {i}")
        component.set_ref("main")
        # a few early ones, then mostly recent ones: chains of some depth
        for dep in sorted(set(rng.sample(names[max(0, i - 20):i], min(i, rng.randint(0, 3))))):
            component.add_buildafter(dep)
        stream.add_component(component)
    index = Modulemd.ModuleIndex.new()
    index.add_module_stream(stream)
    return index.dump_to_string()


def make_repos(base: Path, count: int) -> tuple:
    from discomy.cli.examples import EXAMPLES_DIR, commit_file, commit_spec

    names = [f"c{i:03d}" for i in range(count)]
    template = base / "template.git"
    commit_spec(template, (EXAMPLES_DIR / "standalone.spec").read_text(), "standalone",
                "import")
    for name in names:          # a copy of one repository per component: cheap, and real
        shutil.copytree(template, base / f"{name}.git")
    commit_file(base / "bigdag.git", "bigdag.yaml", module_text(names), "bigdag", branch="1")
    return names


def one_round(base: Path, store_url: str, work: Path) -> dict:
    from kojihub_xmlrpc import StandinKojiHub

    from discomy.orchestration.backends.koji import session_for
    from discomy.orchestration.config import DEFAULTS
    from discomy.orchestration.modules.driver import ModuleDriver
    from discomy.orchestration.modules.service import submit_module_build
    from discomy.orchestration.store import Store

    hub = StandinKojiHub()
    hub.polls_to_finish = 2
    hub.topdir = work / "koji"
    try:
        config = copy.deepcopy(DEFAULTS)
        config["koji"].update(server=hub.url, poll_seconds=0.0)
        config["campaign"].update(max_in_flight=200, max_in_flight_global=500)
        config["modules"].update(backend="koji", platforms=["el9:el9-build"],
                                 koji_topdir=str(hub.topdir),
                                 rpms_repository=f"file://{base}/{{name}}.git")
        store = Store(store_url)
        started = time.perf_counter()
        (build,) = submit_module_build(store, config, scmurl=f"file://{base}/bigdag.git",
                                       branch="1")
        submitted = time.perf_counter()
        driver = ModuleDriver(store, config, session=lambda: session_for(server=hub.url),
                              sleep=lambda s: None)
        steps = 0
        while hub.first_build_at is None:
            driver.step(build["id"])
            steps += 1
        first = hub.first_build_at
        first_round = sum(1 for t in hub.tasks.values() if t["method"] == "build")
        last = None
        while True:
            if driver.step(build["id"]) == "finished":
                break
            builds = sum(1 for t in hub.tasks.values() if t["method"] == "build")
            if last is None and builds == len(store.modules.components(build["id"])):
                last = time.perf_counter()
        done = time.perf_counter()
        row = store.modules.get(build["id"])
        assert row.state == "ready", row.state_reason
        return {"submission_s": submitted - started, "to_first_build_s": first - started,
                "driver_to_first_build_s": first - submitted, "steps_to_first_build": steps,
                "first_round_builds": first_round, "to_last_build_s": (last or done) - started,
                "to_ready_s": done - started,
                "tiers": len({c.batch for c in store.modules.components(build["id"])}),
                "hub_calls": len(hub.calls)}
    finally:
        hub.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", help="SQLAlchemy URL (default: a fresh SQLite file per round)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="discomy-bench-modules-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        make_repos(tmp / "git", args.components)
        made = time.perf_counter() - t
        rounds = []
        for i in range(args.rounds):
            work = tmp / f"round{i}"
            work.mkdir()
            url = args.store or f"sqlite:///{work / 'db.sqlite'}"
            rounds.append(one_round(tmp / "git", url, work))
    median = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    if args.json:
        print(json.dumps({"components": args.components, "rounds": rounds, "median": median,
                          "git_repos_made_s": made}, indent=2))
        return 0
    print(f"module of {args.components} components in a buildafter DAG of "
          f"{int(median['tiers'])} tiers; {args.rounds} rounds, medians ({git}; "
          f"repositories made in {made:.1f} s)")
    print(f"  submission (git, libmodulemd, DAG, {args.components} refs, store)  "
          f"{median['submission_s']:.2f} s")
    print(f"  submission to the first koji build                  "
          f"{median['to_first_build_s']:.2f} s ({int(median['first_round_builds'])} builds "
          f"in the first round)")
    print(f"    of which the driver (tags, target, first repo)     "
          f"{median['driver_to_first_build_s']:.2f} s, {int(median['steps_to_first_build'])} "
          f"steps")
    print(f"  submission to the last koji build                   "
          f"{median['to_last_build_s']:.2f} s")
    print(f"  submission to ready (dist repo with modules.yaml)   "
          f"{median['to_ready_s']:.2f} s, {int(median['hub_calls'])} hub calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
