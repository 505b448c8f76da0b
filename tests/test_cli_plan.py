"""The `discomy plan` and `discomy estimate` command-line contracts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def discomy(*args, cache):
    return subprocess.run([sys.executable, "-m", "discomy", *args, "--cache-dir", str(cache)],
                          capture_output=True, text=True)


@pytest.fixture
def repo_args(example_repos):
    return ["--repo", str(example_repos.source_repo), "--repo", str(example_repos.binary_repo)]


def test_plan_json_has_the_contract_keys(repo_args, tmp_path):
    proc = discomy("plan", *repo_args, "--changed", "corelib", "--json", cache=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["affected"] == ["parsekit", "alpha", "beta", "appsuite"]
    assert out["tiers"] == [["parsekit"], ["alpha"], ["beta"], ["appsuite"]]
    assert out["cycles"] == [["alpha", "beta"]]
    assert out["critical_path"] == ["parsekit", "alpha", "beta", "appsuite"]
    assert out["critical_path_seconds"] > 0 and out["elapsed_seconds"] > 0


def test_plan_table_names_tiers_cycles_and_critical_path(repo_args, tmp_path):
    durations = tmp_path / "d.json"
    durations.write_text(json.dumps({"appsuite": 7200}))
    proc = discomy("plan", *repo_args, "--changed", "corelib", "--durations", str(durations),
                   cache=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "4 packages in 4 tiers, 1 build cycle;" in proc.stdout
    assert "alpha -> beta" in proc.stdout
    assert "2h00m" in proc.stdout


def plan_of(deps, changed, unresolved=None, uninstallable=None):
    from discomy.graph import BuildGraph
    from discomy.planner import make_plan

    names = sorted(set(deps) | {d for ds in deps.values() for d in ds})
    index = {n: i for i, n in enumerate(names)}
    edges = [(index[a], index[b]) for a, ds in deps.items() for b in ds]
    graph = BuildGraph.from_edges(names, [a for a, _ in edges], [b for _, b in edges],
                                  unresolved=unresolved, uninstallable=uninstallable)
    return make_plan(graph, changed)


def test_plan_table_counts_agree_in_number():
    from discomy.cli_plan import format_plan

    one = format_plan(plan_of({"app": ["lib"]}, ["lib"]), 12, 0.1)
    assert "Affected: 1 package in 1 tier, 0 build cycles;" in one
    two = format_plan(plan_of({"a": ["b", "lib"], "b": ["a"]}, ["lib"],
                              unresolved={"a": ("ghost",)}), 12, 0.1)
    assert "Affected: 2 packages in 2 tiers, 1 build cycle;" in two
    assert "Unresolvable BuildRequires in 1 affected package:" in two


def test_plan_table_says_how_many_unresolvable_packages_it_leaves_out():
    from discomy.cli_plan import format_plan

    users = {f"app{i}": ["lib"] for i in range(5)}
    table = format_plan(plan_of(users, ["lib"], unresolved={u: ("ghost",) for u in users},
                                uninstallable={u: ("no /bin/sh",) for u in users}), 2, 0.1)
    section = table.split("Unresolvable BuildRequires in 5 affected packages:\n")[1]
    assert section.splitlines()[:3] == ["  app0: ghost", "  app1: ghost", "  ... (+3 more)"]
    section = table.split("one provider per requirement):\n")[1]
    assert section.splitlines()[:3] == ["  app0: no /bin/sh", "  app1: no /bin/sh",
                                        "  ... (+3 more)"]


@pytest.mark.parametrize("args, message", [
    (["--changed", "corelb"], "unknown source package 'corelb'; did you mean corelib?"),
    (["--changed", ","], "the changed set is empty"),
])
def test_plan_bad_input_is_one_line_and_exit_2(repo_args, tmp_path, args, message):
    proc = discomy("plan", *repo_args, *args, cache=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_plan_on_a_missing_repo_is_one_line_and_exit_2(tmp_path):
    proc = discomy("plan", "--repo", str(tmp_path / "gone"), "--changed", "x", cache=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [
    ["plan", "--changed", "corelib"],
    ["estimate", "--changed", "corelib", "--fleet", str(ROOT / "examples" / "fleet.yaml")],
])
def test_a_source_repo_alone_is_an_error_asking_for_the_binary_repo(example_repos, tmp_path,
                                                                     command):
    proc = discomy(command[0], "--repo", str(example_repos.source_repo), *command[1:],
                   cache=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert "no binary packages" in proc.stderr and "pass the binary repository" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bad_durations_file_is_reported(repo_args, tmp_path):
    durations = tmp_path / "d.json"
    durations.write_text('{"alpha": "slow"}')
    proc = discomy("plan", *repo_args, "--changed", "corelib", "--durations", str(durations),
                   cache=tmp_path)
    assert proc.returncode == 2 and "alpha" in proc.stderr


def test_estimate_json_compares_policies_and_writes_a_timeline(repo_args, tmp_path):
    plot = tmp_path / "timeline.svg"
    proc = discomy("estimate", *repo_args, "--changed", "corelib", "--fleet",
                   str(ROOT / "examples" / "fleet.yaml"), "--json", "--plot", str(plot),
                   cache=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("makespan_seconds", "lower_bound_seconds", "policy", "hosts", "tasks"):
        assert key in out
    assert set(out["policies"]) == {"koji-stock", "tiered", "critical-path"}
    assert out["makespan_seconds"] >= out["lower_bound_seconds"]
    assert out["tasks"] == 6     # 2 noarch builds + 2 arch builds on x86_64 and aarch64
    assert plot.read_text().startswith("<svg") and "parsekit" in plot.read_text()


def test_estimate_rejects_a_bad_fleet_file(repo_args, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("- {name: a, count: 1, arches: [x86_64], speed: 1, capacity: 2}\n")
    proc = discomy("estimate", *repo_args, "--all", "--fleet", str(fleet), cache=tmp_path)
    assert proc.returncode == 2 and "missing required key 'maxjobs'" in proc.stderr
