"""Campaigns end to end on this machine: plan -> SQLite store -> rpmbuild -> createrepo_c,
with failures, quarantine, resume, and crashes at any point of a node's life."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from discomy.orchestration.backends import BuildOutcome
from discomy.orchestration.backends.local import LocalBackend
from discomy.orchestration.engine import Engine
from discomy.orchestration.events import RepoDone
from discomy.cli.local_campaign import run_local_campaign, start_local_campaign
from discomy.orchestration.runner import run_campaign
from discomy.orchestration.store import Store


def test_demo_campaign_rebuilds_the_chain_tier_by_tier_into_a_repo(tmp_path):
    summary = run_local_campaign(tmp_path, ["corelib"], progress=False)
    assert summary["state"] == "done"
    assert summary["done"] == ["alpha", "appsuite", "beta", "parsekit"]
    assert all(nvr.endswith(".el9.discomy1") for nvr in summary["nvrs"])
    repo = Path(summary["repo"])
    assert (repo / "repodata" / "repomd.xml").is_file()
    # the campaign repo is itself a repo the planner reads: every rebuilt binary is there
    names = {p.name for p in repo.glob("*.rpm")}
    assert "appsuite-5.4-1.el9.discomy1.noarch.rpm" in names or \
        any(n.startswith("appsuite-5.4-1.el9.discomy1.") for n in names)


class Counting:
    """Wraps a backend: counts real builds and can crash at a chosen point."""

    def __init__(self, inner, crash_after=None, crash_when="before", fail=()):
        self.inner, self.crash_after, self.crash_when, self.fail = inner, crash_after, crash_when, fail
        self.builds = []
        self.name = inner.name

    def __getattr__(self, attr):       # prepare, find, poll, repo calls: the inner backend's
        return getattr(self.inner, attr)

    def submit(self, name, priority=0):
        if self.crash_after is not None and len(self.builds) == self.crash_after \
                and self.crash_when == "before":
            raise SystemExit("killed before the build")
        self.builds.append(name)
        if name in self.fail:
            return "failing:" + name
        task = self.inner.submit(name, priority)
        if self.crash_after is not None and len(self.builds) == self.crash_after + 1 \
                and self.crash_when == "after":
            raise SystemExit("killed after the build, before the store was told")
        return task

    def poll_all(self, tasks):
        return {task: self.poll(task) for task in tasks}

    def poll(self, task):
        if task.startswith("failing:"):
            return BuildOutcome(False, error=f"error: Bad exit status (%check) in {task[8:]}")
        return self.inner.poll(task)


@pytest.fixture
def campaign(tmp_path, example_repos):
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    cid = start_local_campaign(store, example_repos.repos, ["corelib"], "per-tier",
                               cache_dir=tmp_path / "cache")
    return store, cid, tmp_path, example_repos


@pytest.mark.parametrize("crash_after", [0, 1, 2, 3])
@pytest.mark.parametrize("crash_when", ["before", "after"])
def test_a_killed_engine_resumes_with_nothing_lost_and_nothing_built_twice(
        campaign, crash_after, crash_when):
    store, cid, tmp, repos = campaign
    local = LocalBackend(tmp / "work", [repos.source_repo], cid)
    first = Counting(local, crash_after=crash_after, crash_when=crash_when)
    with pytest.raises(SystemExit):
        Engine(store, first, cid).run()
    second = Counting(local)
    assert Engine(store, second, cid).run() == "done"
    built = first.builds + second.builds
    assert sorted(built) == ["alpha", "appsuite", "beta", "parsekit"]


def test_a_package_failure_quarantines_its_dependents_and_resume_finishes(campaign):
    store, cid, tmp, repos = campaign
    local = LocalBackend(tmp / "work", [repos.source_repo], cid)
    assert Engine(store, Counting(local, fail=("alpha",)), cid).run() == "failed"
    nodes = store.nodes(cid)
    assert nodes["parsekit"].state == "done" and nodes["alpha"].state == "failed"
    assert nodes["alpha"].failure_class == "package"
    assert nodes["beta"].state == "quarantined" and nodes["appsuite"].state == "quarantined"
    # where and how long each attempt ran: rpmbuild's wall time on this machine
    assert nodes["parsekit"].host == socket.gethostname()
    assert nodes["parsekit"].build_seconds > 0 and nodes["parsekit"].started_at > 0
    assert nodes["beta"].started_at is None and nodes["beta"].build_seconds is None
    # a fixed alpha is built elsewhere; resuming releases its dependents
    engine = Engine(store, Counting(local), cid)
    engine.resume("alpha")
    assert engine.run() == "done"
    assert store.nodes(cid)["appsuite"].state == "done"


def test_infrastructure_failures_are_retried(campaign):
    store, cid, tmp, repos = campaign
    local = LocalBackend(tmp / "work", [repos.source_repo], cid)

    class Flaky(Counting):
        def submit(self, name, priority=0):
            if name == "beta" and "beta" not in self.builds:
                self.builds.append(name)
                return "flaky"
            return super().submit(name, priority)

        def poll(self, task):
            if task == "flaky":
                return BuildOutcome(False, error="build host died: the local build was interrupted",
                                    failure="infrastructure")
            return super().poll(task)

    backend = Flaky(local)
    assert Engine(store, backend, cid).run() == "done"
    assert backend.builds.count("beta") == 2
    assert store.nodes(cid)["beta"].attempts == 2


def test_per_edge_release_lets_nodes_go_before_their_tier_is_complete(tmp_path, example_repos):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    cid = start_local_campaign(store, example_repos.repos, ["corelib"], "per-edge",
                               cache_dir=tmp_path / "cache")
    summary = run_campaign(store, cid, tmp_path, [example_repos.source_repo], progress=False)
    assert summary["state"] == "done" and len(summary["nvrs"]) == 4


def test_events_are_stored_once_by_their_koji_transition(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'e.sqlite'}")
    assert store.record_event(RepoDone("m1", "el9-build", 7))
    assert not store.record_event(RepoDone("m2", "el9-build", 7))


def test_rebuild_command_dry_run_status_and_campaigns(tmp_path, example_repos):
    import subprocess
    import sys

    config = tmp_path / "orchestrator.toml"
    config.write_text(f'[plan]\ncache_dir = "{tmp_path / "cache"}"\n')
    repos = ["--repo", str(example_repos.source_repo), "--repo", str(example_repos.binary_repo),
             "--config", str(config)]
    store = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    run = lambda *a: subprocess.run([sys.executable, "-m", "discomy", *a], capture_output=True,
                                    text=True, cwd=tmp_path)
    dry = run("rebuild", "corelib", *repos, "--dry-run")
    assert dry.returncode == 0 and "would rebuild 4 packages in 4 tiers (1 cycle)," in dry.stdout
    # the plan breaks the cycle: alpha first against the previous beta, then beta
    assert "  cycle, built in bootstrap order: alpha -> beta (alpha against the previous beta)" \
        in dry.stdout and "together" not in dry.stdout
    assert not (tmp_path / "cli.sqlite").exists()
    real = run("rebuild", "corelib", *repos, "--store", store, "--no-progress",
               "--workdir", str(tmp_path / "w"), "--json")
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout)["state"] == "done"
    status = run("status", "1", "--store", store)
    assert "tier 3: 1/1 done" in status.stdout
    assert (tmp_path / "cache").is_dir()
    assert "done" in run("campaigns", "--store", store).stdout
    missing = run("status", "9", "--store", store)
    assert missing.returncode == 2 and "no campaign 9" in missing.stderr
    unknown = run("rebuild", "corelb", *repos, "--dry-run")
    assert unknown.returncode == 2 and "did you mean corelib" in unknown.stderr


def test_a_repository_that_cannot_be_indexed_fails_the_campaign_with_a_note(campaign,
                                                                           monkeypatch):
    import discomy.orchestration.backends.local as local_backend
    from discomy.orchestration.rpmtools import ToolError

    store, cid, tmp, repos = campaign

    def broken(repo):
        raise ToolError("createrepo_c: No space left on device")

    monkeypatch.setattr(local_backend, "createrepo", broken)
    backend = LocalBackend(tmp / "work", [repos.source_repo], cid)
    assert Engine(store, backend, cid).run() == "failed"
    assert "No space left on device" in store.campaign(cid).note
    assert store.nodes(cid)["parsekit"].state == "waiting-repo"     # built, kept as such
