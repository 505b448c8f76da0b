"""The engine against the store: PostgreSQL, cancelled campaigns, the global in-flight cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from discomy.orchestration.backends.local import LocalBackend
from discomy.orchestration.engine import Engine, EngineSettings
from discomy.cli.local_campaign import start_local_campaign
from discomy.planning.repodata import RepodataError
from discomy.orchestration.runner import run_campaign
from discomy.orchestration.store import Store


class Recording:
    def __init__(self, inner):
        self.inner, self.builds, self.name = inner, [], inner.name

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def submit(self, name, priority=0):
        self.builds.append(name)
        return self.inner.submit(name, priority)


def test_a_local_campaign_runs_to_the_end_on_postgresql(fresh_postgres_url, example_repos, tmp_path):
    store = Store(fresh_postgres_url)
    cid = start_local_campaign(store, example_repos.repos, ["corelib"], "per-edge",
                               cache_dir=tmp_path / "cache")
    summary = run_campaign(store, cid, tmp_path, [example_repos.source_repo], progress=False)
    assert summary["state"] == "done"
    assert summary["done"] == ["alpha", "appsuite", "beta", "parsekit"]
    rpms = {p.name for p in Path(summary["repo"]).glob("*.rpm")}
    for nvr in summary["nvrs"]:
        assert any(name.startswith(nvr + ".") for name in rpms), nvr
    assert Store(fresh_postgres_url).campaign(cid).state == "done"


def test_a_cancelled_campaign_submits_nothing(example_repos, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    cid = start_local_campaign(store, example_repos.repos, ["corelib"], "per-tier",
                               cache_dir=tmp_path / "cache")
    store.set_campaign_state(cid, "cancelled")
    backend = Recording(LocalBackend(tmp_path / "w", [example_repos.source_repo], cid))
    assert Engine(store, backend, cid).run() == "cancelled"
    assert backend.builds == []
    assert {n.state for n in store.nodes(cid).values()} <= {"planned", "waiting-deps"}


def test_the_global_cap_counts_builds_of_every_running_campaign(example_repos, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    first = start_local_campaign(store, example_repos.repos, ["corelib"], "per-tier",
                                 cache_dir=tmp_path / "cache")
    second = start_local_campaign(store, example_repos.repos, ["corelib"], "per-tier",
                                  cache_dir=tmp_path / "cache")
    # the first campaign's engine holds one build in flight
    assert store.claim(first, ["parsekit"]) == ["parsekit"]
    assert store.builds_in_flight() == 1
    backend = Recording(LocalBackend(tmp_path / "w", [example_repos.source_repo], second))
    engine = Engine(store, backend, second, EngineSettings(max_in_flight=1, max_in_flight_global=1))
    assert [engine.step() for _ in range(3)] == ["waiting"] * 3
    assert backend.builds == [] and store.campaign(second).state == "running"
    # once the first campaign is no longer running, its builds stop counting
    store.set_campaign_state(first, "cancelled")
    assert store.builds_in_flight() == 0
    assert Engine(store, backend, second, EngineSettings(max_in_flight=1, max_in_flight_global=1)).run() == "done"
    assert sorted(backend.builds) == ["alpha", "appsuite", "beta", "parsekit"]


def test_no_campaign_is_planned_from_source_packages_alone(example_repos, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    with pytest.raises(RepodataError, match="no binary packages"):
        start_local_campaign(store, [example_repos.source_repo], ["corelib"], "per-tier",
                             cache_dir=tmp_path / "cache")
    assert store.campaigns() == []
