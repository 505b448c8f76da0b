"""The `discomy plan` and `discomy estimate` command-line contracts (and the fleet
estimate of `discomy rebuild --dry-run`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def discomy(*args, cache):
    # a timeout: a hang is a failure here, not a stuck suite
    return subprocess.run([sys.executable, "-m", "discomy", *args, "--cache-dir", str(cache)],
                          capture_output=True, text=True, timeout=120)


def one_line_error(proc, command="estimate"):
    lines = proc.stderr.strip().splitlines()
    return (proc.returncode == 2 and "Traceback" not in proc.stderr and len(lines) == 1
            and lines[0].startswith(f"discomy {command}: error: "))


ONE_GROUP = "- {name: a, count: 2, arches: [x86_64, aarch64], speed: 1, capacity: 4, maxjobs: 2}\n"


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
    from discomy.planning.graph import BuildGraph
    from discomy.planning.planner import make_plan

    names = sorted(set(deps) | {d for ds in deps.values() for d in ds})
    index = {n: i for i, n in enumerate(names)}
    edges = [(index[a], index[b]) for a, ds in deps.items() for b in ds]
    graph = BuildGraph.from_edges(names, [a for a, _ in edges], [b for _, b in edges],
                                  unresolved=unresolved, uninstallable=uninstallable)
    return make_plan(graph, changed)


def test_plan_table_counts_agree_in_number():
    from discomy.cli.plan import format_plan

    one = format_plan(plan_of({"app": ["lib"]}, ["lib"]), 12, 0.1)
    assert "Affected: 1 package in 1 tier, 0 build cycles;" in one
    two = format_plan(plan_of({"a": ["b", "lib"], "b": ["a"]}, ["lib"],
                              unresolved={"a": ("ghost",)}), 12, 0.1)
    assert "Affected: 2 packages in 2 tiers, 1 build cycle;" in two
    assert "Unresolvable BuildRequires in 1 affected package:" in two


def test_plan_table_says_how_many_unresolvable_packages_it_leaves_out():
    from discomy.cli.plan import format_plan

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
    assert set(out["policies"]) == {"koji-stock", "tiered", "discomy-stock-hub", "discomy"}
    assert out["policy"] == "discomy"
    assert out["makespan_seconds"] >= out["lower_bound_seconds"]
    assert out["tasks"] == 6     # 2 noarch builds + 2 arch builds on x86_64 and aarch64
    assert plot.read_text().startswith("<svg") and "parsekit" in plot.read_text()


def test_estimate_rejects_a_bad_fleet_file(repo_args, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("- {name: a, count: 1, arches: [x86_64], speed: 1, capacity: 2}\n")
    proc = discomy("estimate", *repo_args, "--all", "--fleet", str(fleet), cache=tmp_path)
    assert proc.returncode == 2 and "missing required key 'maxjobs'" in proc.stderr


@pytest.mark.parametrize("old, new, message", [
    ("speed: 1", "speed: .nan", "group 'a': 'speed' must be a finite number, got nan"),
    ("count: 2", "count: 1000000000", "group 'a': 'count' must be at least 1 and at most 10000"),
    ("capacity: 4", "capacity: .nan", "group 'a': 'capacity' must be a finite number"),
    ("capacity: 4", "capacity: -.inf", "group 'a': 'capacity' must be a finite number"),
    ("maxjobs: 2", "maxjobs: 99999999999999999999",
     "'maxjobs' must be at least 1 and at most 1000"),
    ("maxjobs: 2", "maxjobs: 2, memory: .inf", "memory: size inf is not a size up to 1 EiB"),
])
def test_estimate_refuses_non_finite_or_absurd_fleet_numbers_in_one_line(
        repo_args, tmp_path, old, new, message):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(ONE_GROUP.replace(old, new))
    proc = discomy("estimate", *repo_args, "--all", "--fleet", str(fleet), cache=tmp_path)
    assert one_line_error(proc), proc.stderr[-2000:]
    assert message in proc.stderr and str(fleet) in proc.stderr


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe- name: a\n", "is not UTF-8 text (byte 0)"),
    (b"- {name: a, count: [1\n", "is not valid YAML: "),
    (b"- {name: a, count: " + b"9" * 5000 + b"}\n", "cannot be parsed: "),
])
def test_estimate_reports_an_unreadable_fleet_file_in_one_line(repo_args, tmp_path, content,
                                                               message):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_bytes(content)
    proc = discomy("estimate", *repo_args, "--all", "--fleet", str(fleet), cache=tmp_path)
    assert one_line_error(proc), proc.stderr[-2000:]
    assert f"fleet file {fleet} {message}" in proc.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-100", "86401", "soon"])
def test_regen_seconds_outside_0_to_a_day_is_an_argument_error(repo_args, tmp_path, value):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(ONE_GROUP)
    proc = discomy("estimate", *repo_args, "--all", "--fleet", str(fleet),
                   "--regen-seconds", value, cache=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    # argparse's usage, then one line that names the option and the reason
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "discomy estimate: error: argument --regen-seconds: ")
    assert value in proc.stderr.strip().splitlines()[-1]


def test_regen_seconds_at_the_bounds_are_accepted(repo_args, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(ONE_GROUP)
    for value in ("0", "86400"):
        proc = discomy("estimate", *repo_args, "--all", "--fleet", str(fleet), "--json",
                       "--regen-seconds", value, cache=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["repo_regen_seconds"] == float(value)


@pytest.mark.parametrize("content, message", [
    ('{"parsekit": 1e400}', "'parsekit': inf is not a number of seconds from 0 to 2592000"),
    ('{"parsekit": -5}', "'parsekit': -5 is not a number of seconds"),
    ('{"parsekit": 10', "is not valid JSON: "),
    ('[' * 100000, "cannot be parsed: "),
])
def test_estimate_reports_bad_durations_in_one_line(repo_args, tmp_path, content, message):
    fleet, durations = tmp_path / "fleet.yaml", tmp_path / "d.json"
    fleet.write_text(ONE_GROUP)
    durations.write_text(content)
    proc = discomy("estimate", *repo_args, "--changed", "corelib", "--fleet", str(fleet),
                   "--durations", str(durations), cache=tmp_path)
    assert one_line_error(proc), proc.stderr[-2000:]
    assert message in proc.stderr


def test_durations_naming_a_directory_or_non_utf8_file_is_one_line(repo_args, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(ONE_GROUP)
    binary = tmp_path / "d.json"
    binary.write_bytes(b'{"parsekit": 1\xff}')
    for path, message in ((tmp_path, "is a directory, not a file"),
                          (binary, "is not UTF-8 text")):
        proc = discomy("estimate", *repo_args, "--changed", "corelib", "--fleet", str(fleet),
                       "--durations", str(path), cache=tmp_path)
        assert one_line_error(proc), proc.stderr[-2000:]
        assert f"durations file {path} {message}" in proc.stderr


def test_a_heavy_build_on_small_hosts_is_estimated_not_a_traceback(repo_args, tmp_path):
    # a day-long build weighs 19.5 once running; koji admits it on a capacity-2 host
    fleet, durations = tmp_path / "fleet.yaml", tmp_path / "d.json"
    fleet.write_text(ONE_GROUP.replace("capacity: 4", "capacity: 2"))
    durations.write_text('{"parsekit": 86400}')
    proc = discomy("estimate", *repo_args, "--changed", "corelib", "--fleet", str(fleet),
                   "--durations", str(durations), "--json", cache=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["makespan_seconds"] >= 86400


# -- discomy rebuild: the fleet it is estimated on -----------------------------------
def rebuild(*args, tmp_path):
    config = tmp_path / "orchestrator.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "state.sqlite"}"\n'
                      f'[campaign]\nbackend = "local"\nworkdir = "{tmp_path / "work"}"\n'
                      f'[plan]\ncache_dir = "{tmp_path / "cache"}"\n')
    return subprocess.run([sys.executable, "-m", "discomy", "rebuild", "corelib", *args,
                           "--config", str(config)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_rebuild_refuses_a_fleet_without_dry_run(repo_args, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(ONE_GROUP)
    proc = rebuild(*repo_args, "--fleet", str(fleet), "--detach", tmp_path=tmp_path)
    assert one_line_error(proc, "rebuild"), proc.stderr[-2000:]
    assert "--fleet goes with --dry-run" in proc.stderr
    assert not (tmp_path / "state.sqlite").exists()


def test_rebuild_dry_run_refuses_a_nan_fleet_in_one_line(repo_args, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(ONE_GROUP.replace("speed: 1", "speed: .nan"))
    proc = rebuild(*repo_args, "--dry-run", "--fleet", str(fleet), tmp_path=tmp_path)
    assert one_line_error(proc, "rebuild"), proc.stderr[-2000:]
    assert "group 'a': 'speed' must be a finite number, got nan" in proc.stderr
    ok = rebuild(*repo_args, "--dry-run", "--fleet", str(ROOT / "examples" / "fleet.yaml"),
                 tmp_path=tmp_path)
    assert ok.returncode == 0 and "ETA on " in ok.stdout, ok.stderr


def test_estimate_offers_only_policies_something_deploys(repo_args, tmp_path):
    proc = discomy("estimate", *repo_args, "--changed", "corelib", "--fleet",
                   str(ROOT / "examples" / "fleet.yaml"), "--policy", "critical-path",
                   cache=tmp_path)
    assert proc.returncode == 2 and "invalid choice: 'critical-path'" in proc.stderr


def test_estimate_takes_the_hub_plugins_config_and_a_cap_on_builds_in_flight(repo_args, tmp_path):
    hub = tmp_path / "discomy.conf"
    hub.write_text("[scheduler]\npower_after = 1m\n[constraints]\nparsekit = {\"memory\": \"1T\"}\n")
    proc = discomy("estimate", *repo_args, "--changed", "corelib", "--fleet",
                   str(ROOT / "examples" / "fleet.yaml"), "--policy", "discomy", "--json",
                   "--hub-config", str(hub), "--max-in-flight", "1", cache=tmp_path)
    # no host has a terabyte of memory: parsekit waits for ever, and the estimate says so
    assert proc.returncode == 2 and "parsekit" in proc.stderr, proc.stderr
    hub.write_text("[scheduler]\npower_after = soon\n")
    proc = discomy("estimate", *repo_args, "--changed", "corelib", "--fleet",
                   str(ROOT / "examples" / "fleet.yaml"), "--hub-config", str(hub),
                   cache=tmp_path)
    assert proc.returncode == 2 and "[scheduler] power_after" in proc.stderr


def test_estimate_runs_with_the_fleet_files_koji_settings_and_says_so(repo_args, tmp_path):
    import yaml
    groups = yaml.safe_load((ROOT / "examples" / "fleet.yaml").read_text())
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump({"koji": {"hub.conf": {"RunInterval": 20},
                                              "kojid.conf": {"sleeptime": 5}},
                                     "groups": groups}))
    runs = {}
    for name, path in (("quick", fleet), ("defaults", ROOT / "examples" / "fleet.yaml")):
        proc = discomy("estimate", *repo_args, "--all", "--fleet", str(path), "--json",
                       "--policy", "koji-stock", cache=tmp_path)
        assert proc.returncode == 0, proc.stderr
        runs[name] = json.loads(proc.stdout)
    assert runs["quick"]["koji"]["hub.conf"]["RunInterval"] == 20
    assert runs["quick"]["koji"]["kojid.conf"] == {"sleeptime": 5}
    assert runs["defaults"]["koji"]["hub.conf"] == {"RunInterval": 60, "MaxJobs": 15,
                                                    "CapacityOvercommit": 5,
                                                    "MaxRepoTasks": 10}
    assert runs["quick"]["makespan_seconds"] < runs["defaults"]["makespan_seconds"]
    assert runs["quick"]["lower_bound_seconds"] < runs["defaults"]["lower_bound_seconds"]
    text = discomy("estimate", *repo_args, "--all", "--fleet", str(fleet), "--policy",
                   "koji-stock", cache=tmp_path).stdout
    assert "scheduler every 20 s, builders check in every 5 s" in text
