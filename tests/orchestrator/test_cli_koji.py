"""``discomy rebuild --backend koji`` and friends, as a user runs them, against the hub stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))

from kojihub_xmlrpc import StandinKojiHub  # noqa: E402

from discomy.placement.hostdata import HostData, to_host_data  # noqa: E402
from discomy.orchestration.store import Store  # noqa: E402


@pytest.fixture
def hub():
    hub = StandinKojiHub()
    yield hub
    hub.stop()


@pytest.fixture
def setup(tmp_path, hub, example_repos):
    config = tmp_path / "orchestrator.toml"
    config.write_text(f"""
[store]
url = "sqlite:///{tmp_path / 'state.sqlite'}"
[campaign]
backend = "koji"
target = "el9-candidate"
workdir = "{tmp_path / 'work'}"
[plan]
repos = ["{example_repos.source_repo}", "{example_repos.binary_repo}"]
cache_dir = "{tmp_path / 'cache'}"
[koji]
server = "{hub.url}"
poll_seconds = 0.05
retries = 1
retry_backoff_seconds = 0.01
""")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "discomy", *args, "--config", str(config)],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)

    return run, Store(f"sqlite:///{tmp_path / 'state.sqlite'}")


def test_dry_run_prints_the_impact_and_an_eta_on_the_hosts_koji_knows(setup, hub):
    run, store = setup
    hub.host_data = {1: {"maxjobs": 4, "discomy": to_host_data(HostData(speed=2.0, cpus=16))}}
    dry = run("rebuild", "corelib", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    out = json.loads(dry.stdout)
    assert out["affected"] == 4 and len(out["tiers"]) == 4 and out["eta_unavailable"] is None
    assert out["eta"]["hosts"] == 2 and out["eta"]["makespan_seconds"] > 0
    # the faster x86_64 builder never lengthens it (koji's passes, a minute apart, may
    # swallow the difference on builds this small)
    hub.host_data = {}
    slower = json.loads(run("rebuild", "corelib", "--dry-run", "--json").stdout)
    assert slower["eta"]["makespan_seconds"] >= out["eta"]["makespan_seconds"]
    assert slower["eta"]["compute_hours"] > out["eta"]["compute_hours"]
    text = run("rebuild", "corelib", "--dry-run")
    assert "would rebuild 4 packages" in text.stdout
    assert "ETA on koji's fleet (2 enabled hosts)" in text.stdout
    assert "build" not in hub.calls and store.campaigns() == []
    fleet = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"
    on_file = run("rebuild", "corelib", "--dry-run", "--fleet", str(fleet))
    assert f"ETA on {fleet} (15 hosts)" in on_file.stdout
    bad = run("rebuild", "corelib", "--dry-run", "--fleet", str(fleet.parent / "nosuch.yaml"))
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_dry_run_on_a_hub_with_discomy_hub_runs_with_the_hubs_own_settings(setup, hub):
    run, _ = setup
    stock = json.loads(run("rebuild", "corelib", "--dry-run", "--json").stdout)["eta"]
    assert stock["policy"] == "discomy-stock-hub"
    assert stock["koji"]["hub.conf"]["RunInterval"] == 60
    hub.scheduler_settings = {"RunInterval": 15, "MaxJobs": 6, "CapacityOvercommit": 5,
                              "MaxRepoTasks": 3}
    dry = run("rebuild", "corelib", "--dry-run", "--json")
    eta = json.loads(dry.stdout)["eta"]
    assert eta["policy"] == "discomy"
    assert eta["koji"]["hub.conf"] == {"RunInterval": 15, "MaxJobs": 6,
                                       "CapacityOvercommit": 5, "MaxRepoTasks": 3}
    assert eta["makespan_seconds"] < stock["makespan_seconds"]
    # a value out of koji's bounds keeps koji's default, with a warning naming it
    hub.scheduler_settings = {"RunInterval": -4, "MaxJobs": "lots"}
    dry = run("rebuild", "corelib", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    eta = json.loads(dry.stdout)["eta"]
    assert eta["koji"]["hub.conf"]["RunInterval"] == 60 and eta["koji"]["hub.conf"]["MaxJobs"] == 15
    assert "hub.conf 'RunInterval' must be a whole number from 1 to 3600, got -4; koji's " \
           "default is used" in dry.stderr
    assert "hub.conf 'MaxJobs' must be a whole number from 1 to 1000, got 'lots'" in dry.stderr


def test_dry_run_ignores_nan_and_absurd_numbers_from_koji_with_a_warning(setup, hub):
    run, _ = setup
    hub.hosts[1]["capacity"] = float("nan")        # the only aarch64 builder
    hub.host_data = {1: {"maxjobs": 5000, "discomy": {"speed": float("nan"), "cpus": -4}}}
    dry = run("rebuild", "corelib", "--dry-run", "--json")
    assert dry.returncode == 0 and "Traceback" not in dry.stderr, dry.stderr[-2000:]
    eta = json.loads(dry.stdout)["eta"]
    assert eta["hosts"] == 1 and eta["makespan_seconds"] > 0
    assert "koji host b2: capacity nan is not a number; the host is left out" in dry.stderr
    assert "koji host b1: host data speed=nan is not a valid number" in dry.stderr
    assert "koji host b1: host data: 'maxjobs' must be at least 1 and at most 1000" in dry.stderr


def test_dry_run_with_the_hub_down_still_prints_the_impact(setup, hub):
    run, _ = setup
    hub.offline = 10 ** 6
    dry = run("rebuild", "corelib", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would rebuild 4 packages" in dry.stdout
    assert "ETA: koji's hosts are unknown" in dry.stdout and "--fleet" in dry.stdout


def test_a_sidetag_rebuild_runs_in_the_foreground_and_merges(setup, hub):
    run, store = setup
    done = run("rebuild", "corelib", "--mode", "sidetag", "--release", "per-edge",
               "--no-progress", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["state"] == "done" and len(summary["done"]) == 4
    assert all(".discomy1" in nvr for nvr in summary["nvrs"])
    row = store.campaign(summary["campaign"])
    assert row.merged and row.sidetag == summary["sidetag"]
    assert sorted(n for n, _ in hub.tagged["el9"] if ".discomy1" in n) == summary["nvrs"]
    status = json.loads(run("status", str(row.id), "--json").stdout)
    assert status["mode"] == "sidetag" and status["merged"] is True
    text = run("status", str(row.id)).stdout
    assert "(per-edge, koji el9-candidate, sidetag)" in text and "(merged)" in text
    follow = run("status", str(row.id), "--follow", "--interval", "0.1")
    assert follow.returncode == 0 and f"campaign {row.id}: done" in follow.stdout
    assert {n["state"] for n in status["nodes"].values()} == {"done"}


def test_detach_records_for_the_daemon_one_live_campaign_per_package_and_cancel_kill(setup, hub):
    run, store = setup
    hub.polls_to_finish = 10 ** 6        # builds never finish on their own
    first = run("rebuild", "corelib", "--detach")
    assert first.returncode == 0 and "discomy serve drives it" in first.stdout
    assert "build" not in hub.calls      # nothing submitted yet: the daemon does that
    again = run("rebuild", "corelib", "--detach")
    assert again.returncode == 2 and "campaign 1 is already rebuilding after corelib" in again.stderr
    # a foreground resume would wait for ever: drive one step through the engine instead
    from discomy.orchestration.config import load_config
    from discomy.orchestration.runner import backend_for, engine_for

    config = load_config(Path(store.engine.url.database).parent / "orchestrator.toml")
    row = store.campaign(1)
    engine_for(store, row, config, backend_for(row, config)).step()
    building = [n for n, x in store.nodes(1).items() if x.state == "building"]
    assert building and all(store.nodes(1)[n].task for n in building)
    cancel = run("cancel", "1", "--kill")
    assert cancel.returncode == 0 and f"{len(building)} koji tasks cancelled" in cancel.stdout
    assert {t["state"] for t in hub.tasks.values() if t["method"] == "build"} == {3}
    assert run("campaigns").stdout.count("cancelled") == 1


def test_a_koji_rebuild_needs_a_target_and_known_packages(setup, tmp_path):
    run, _ = setup
    bare = tmp_path / "bare.toml"
    bare.write_text(f'[plan]\ncache_dir = "{tmp_path / "c"}"\n')
    no_target = subprocess.run([sys.executable, "-m", "discomy", "rebuild", "corelib",
                                "--backend", "koji", "--repo", str(tmp_path), "--config",
                                str(bare)], capture_output=True, text=True)
    assert no_target.returncode == 2 and "needs --target" in no_target.stderr
    unknown = run("rebuild", "corelb", "--dry-run")
    assert unknown.returncode == 2 and "did you mean corelib" in unknown.stderr
    missing = run("rebuild", "corelib", "--target", "nosuch-target", "--no-progress")
    assert missing.returncode == 1
    assert "  note: koji has no build target 'nosuch-target'" in missing.stdout
