"""``/api/v1/campaigns`` against the commands it stands for: a start records what
``discomy rebuild --detach`` records, a preview says what ``--dry-run`` says, a
resume and a cancel follow ``discomy resume`` and ``discomy cancel``; and a
campaign's status, from real rpmbuild builds of the example packages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from discomy import cli
from discomy.orchestration.runner import run_campaign
from discomy.orchestration.store import Store

from api_world import make_api, make_config

ROOT = Path(__file__).resolve().parents[2]


def files_mistake(spec: str) -> str:
    """%files names a directory %install did not make (a typo)."""
    return spec.replace("%files\n%{_datadir}/alpha\n", "%files\n%{_datadir}/alpah\n")


def bump(release: int):
    return lambda spec: re.sub(r"(?m)^Release:(\s+)1%", rf"Release:\g<1>{release}%", spec)


def recorded(store, campaign_id):
    return {name: (n.tier, n.deps, n.state) for name, n in store.nodes(campaign_id).items()}


def test_a_start_records_the_campaign_rebuild_detach_records(api, tmp_path, example_repos):
    started = api.client.post("/api/v1/campaigns", json={"names": ["corelib"]},
                              headers=api.auth)
    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["id"], body["state"], body["changed"], body["backend"]) == \
        (1, "running", ["corelib"], "local")
    assert body["counts"]["planned"] == body["counts"]["total"] == 4
    assert body["url"] == "/api/v1/campaigns/1"
    # the same request on the command line, into a store of its own
    config = tmp_path / "cli.toml"
    config.write_text(f'[plan]\ncache_dir = "{tmp_path / "cache"}"\n')
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert cli.main(["rebuild", "corelib", "--detach", "--repo", str(example_repos.source_repo),
                     "--repo", str(example_repos.binary_repo), "--store", url, "--config",
                     str(config)]) == 0
    assert recorded(api.store, 1) == recorded(Store(url), 1)
    assert api.store.campaign(1).source_repos == Store(url).campaign(1).source_repos


def test_a_start_is_refused_without_a_token_for_a_live_one_and_for_unknown_packages(api):
    url = "/api/v1/campaigns"
    anonymous = api.client.post(url, json={"names": ["corelib"]})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"]
    assert api.store.campaigns() == []
    assert api.client.post(url, json={"names": ["corelib"]}, headers=api.auth).status_code == 201
    again = api.client.post(url, json={"names": ["corelib"]}, headers=api.auth)
    assert again.status_code == 409 and again.json() == {
        "status": 409, "error": "campaign 1 is already rebuilding after corelib for local; "
                                "follow it at /api/v1/campaigns/1"}
    typo = api.client.post(url, json={"names": ["corelb"]}, headers=api.auth)
    assert typo.status_code == 400 and "did you mean corelib?" in typo.json()["error"]
    koji = api.client.post(url, json={"names": ["corelib"], "backend": "koji"}, headers=api.auth)
    assert koji.status_code == 400 and \
        koji.json()["error"] == "a koji rebuild needs 'target' (or [campaign] target)"
    local = api.client.post(url, json={"names": ["corelib"], "target": "el9-candidate"},
                            headers=api.auth)
    assert local.status_code == 400 and "koji settings" in local.json()["error"]
    assert [r.id for r in api.store.campaigns()] == [1]


def test_the_preview_is_what_rebuild_dry_run_prints(api, tmp_path, example_repos, capsys):
    fleet_file = ROOT / "examples" / "fleet.yaml"
    fleet = yaml.safe_load(fleet_file.read_text())
    answer = api.client.post("/api/v1/campaigns/preview",
                             json={"names": ["corelib"], "fleet": fleet})
    assert answer.status_code == 200, answer.text
    config = tmp_path / "cli.toml"
    config.write_text(f'[plan]\ncache_dir = "{tmp_path / "cache"}"\n')
    assert cli.main(["rebuild", "corelib", "--dry-run", "--json", "--fleet", str(fleet_file),
                     "--repo", str(example_repos.source_repo), "--repo",
                     str(example_repos.binary_repo), "--config", str(config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    preview = answer.json()
    assert preview["eta"].pop("fleet").startswith("the fleet given (")
    assert printed["eta"].pop("fleet").startswith(f"{fleet_file} (")
    assert preview == printed and preview["affected"] == 4 and preview["eta"]["makespan_seconds"]
    # for koji, on the hosts koji knows; nothing is recorded either way
    on_koji = api.client.post("/api/v1/campaigns/preview",
                              json={"names": ["corelib"], "backend": "koji",
                                    "target": "el9-candidate"}).json()
    assert on_koji["eta"]["fleet"] == "koji's fleet (2 enabled hosts)"
    local = api.client.post("/api/v1/campaigns/preview", json={"names": ["corelib"]}).json()
    assert local["eta"] is None and local["eta_unavailable"] == \
        "no fleet for local builds: give a fleet"
    bad = api.client.post("/api/v1/campaigns/preview",
                          json={"names": ["corelib"], "fleet": [{**fleet[0], "speed": 1e9}]})
    assert bad.status_code == 400 and "'speed' must be" in bad.json()["error"]
    assert api.store.campaigns() == []


def test_campaigns_are_listed_newest_first_by_page_and_filter(api):
    for names in (["corelib"], ["parsekit"], ["standalone"]):
        assert api.client.post("/api/v1/campaigns", json={"names": names},
                               headers=api.auth).status_code == 201
    api.client.patch("/api/v1/campaigns/2", json={"state": "cancelled"}, headers=api.auth)
    first = api.client.get("/api/v1/campaigns?limit=2").json()
    assert [c["id"] for c in first["items"]] == [3, 2] and first["total"] == 3
    second = api.client.get(first["next"]).json()
    assert [c["id"] for c in second["items"]] == [1] and second["next"] is None
    running = api.client.get("/api/v1/campaigns", params={"state": "running"}).json()
    assert [c["id"] for c in running["items"]] == [3, 1]
    by_package = api.client.get("/api/v1/campaigns", params={"package": "parsekit"}).json()
    assert [c["id"] for c in by_package["items"]] == [2]
    wrong = api.client.get("/api/v1/campaigns", params={"state": "finished", "limit": 0})
    assert wrong.status_code == 422
    assert [p["where"] for p in wrong.json()["problems"]] == ["query.limit", "query.state"]


def test_status_shows_counts_tiers_failures_with_their_logs_and_why_there_is_no_eta(
        tmp_path, example_repos, sources, koji_hub):
    sources.put("alpha", files_mistake)
    config = make_config(tmp_path, example_repos, koji_hub.url)
    config["plan"]["repos"] = [str(sources.path), str(example_repos.binary_repo)]
    config["local"]["source_repos"] = [str(sources.path)]
    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}", config)
    assert api.client.post("/api/v1/campaigns", json={"names": ["corelib"]},
                           headers=api.auth).status_code == 201
    # the daemon's part: drive it as discomy serve would
    assert run_campaign(api.store, 1, progress=False, config=config)["state"] == "failed"
    status = api.client.get("/api/v1/campaigns/1").json()
    assert status["state"] == "failed"
    assert {k: v for k, v in status["counts"].items() if v} == \
        {"done": 1, "failed": 1, "quarantined": 2, "total": 4}
    assert [(t["tier"], t["counts"]) for t in status["tiers"]] == [
        (0, {"done": 1}), (1, {"failed": 1}), (2, {"quarantined": 1}), (3, {"quarantined": 1})]
    (alpha,) = status["failures"]["first"]
    assert status["failures"]["by_class"] == {"package": 1}
    assert alpha["name"] == "alpha" and alpha["failure_class"] == "package"
    assert alpha["reason"].startswith("rpmbuild failed for alpha in %files: File not found:")
    assert "Executing(%install)" in Path(alpha["log"]).read_text()
    assert status["eta"]["seconds"] is None and status["eta"]["basis"] == \
        "3 nodes wait for a fix"
    waiting = api.client.get("/api/v1/campaigns/1/nodes?state=quarantined").json()
    assert [(n["name"], n["reason"]) for n in waiting["items"]] == [
        ("beta", "waits for alpha, which failed"), ("appsuite", "waits for alpha, which failed")]
    beta = api.client.get("/api/v1/campaigns/1/nodes/beta").json()
    assert (beta["deps"], beta["dependents"]) == (["alpha"], ["appsuite"])

    # resume as discomy resume does: refused while the source is the one that failed
    resume = {"state": "running", "fixed": "alpha"}
    refused = api.client.patch("/api/v1/campaigns/1", json=resume, headers=api.auth)
    assert refused.status_code == 409 and refused.json()["error"].startswith(
        "alpha cannot be resumed in campaign 1: the source package of alpha is still the one "
        "that failed (alpha-0.9-1.el9.src.rpm)")
    assert api.store.campaign(1).state == "failed"
    sources.put("alpha", bump(2), replace=False)
    taken = api.client.patch("/api/v1/campaigns/1", json=resume, headers=api.auth)
    assert taken.status_code == 200, taken.text
    assert taken.json()["action"] == "rebuild" and taken.json()["state"] == "running"
    assert taken.json()["message"].endswith("alpha-0.9-2.el9.src.rpm")
    assert run_campaign(api.store, 1, progress=False, config=config)["state"] == "done"
    done = api.client.get("/api/v1/campaigns/1").json()
    assert done["progress"] == 1.0 and done["eta"]["basis"] == "the campaign is done"
    again = api.client.patch("/api/v1/campaigns/1", json=resume, headers=api.auth)
    assert again.status_code == 409 and again.json()["error"] == "campaign 1 is already done"


def test_a_cancel_stops_submitting_and_kill_cancels_the_koji_tasks(
        tmp_path, example_repos, koji_hub):
    from discomy.orchestration.runner import backend_for, engine_for

    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                   make_config(tmp_path, example_repos, koji_hub.url))
    koji_hub.polls_to_finish = 10 ** 6            # builds run until cancelled
    assert api.client.post("/api/v1/campaigns", json={
        "names": ["corelib"], "backend": "koji", "target": "el9-candidate",
        "release": "per-edge"}, headers=api.auth).status_code == 201
    row = api.store.campaign(1)
    engine = engine_for(api.store, row, api.config, backend_for(row, api.config))
    engine.step()                                 # parsekit goes to koji
    (task,) = [n.task for n in api.store.nodes(1).values() if n.task]
    cancelled = api.client.patch("/api/v1/campaigns/1", json={"state": "cancelled", "kill": True},
                                 headers=api.auth)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() | {"message": ""} == {
        "campaign": 1, "state": "cancelled", "action": "cancelled", "nodes": ["parsekit"],
        "builds_running": 0, "tasks_cancelled": 1, "message": ""}
    assert koji_hub.tasks[int(task)]["state"] == 3          # CANCELED
    assert api.client.patch("/api/v1/campaigns/1", json={"state": "cancelled"},
                            headers=api.auth).status_code == 409
    resumed = api.client.patch("/api/v1/campaigns/1", json={"state": "running"},
                               headers=api.auth)
    assert resumed.status_code == 409 and resumed.json()["error"] == \
        "campaign 1 was cancelled; start a new one"
    mixed = api.client.patch("/api/v1/campaigns/1", json={"state": "running", "kill": True},
                             headers=api.auth)
    assert mixed.status_code == 422 and mixed.json()["problems"][0]["message"] == \
        "kill goes with state cancelled"


def test_kept_counts_follow_every_node_change_at_once(api):
    from dataclasses import replace

    assert api.client.post("/api/v1/campaigns", json={"names": ["corelib"]},
                           headers=api.auth).status_code == 201
    before = api.client.get("/api/v1/campaigns/1").json()["counts"]
    assert (before["planned"], before["done"]) == (4, 0)
    node = api.store.nodes(1)["parsekit"]
    api.store.update_nodes(1, {"parsekit": replace(node, state="done")})
    after = api.client.get("/api/v1/campaigns/1").json()
    assert (after["counts"]["planned"], after["counts"]["done"]) == (3, 1)
    assert api.client.get("/api/v1/campaigns").json()["items"][0]["counts"]["done"] == 1
    assert api.client.get("/api/v1/campaigns/1/nodes?state=done").json()["total"] == 1


def test_following_next_links_visits_every_node_once(api):
    assert api.client.post("/api/v1/campaigns", json={"names": ["corelib"]},
                           headers=api.auth).status_code == 201
    seen, url = [], "/api/v1/campaigns/1/nodes?limit=3"
    while url:
        page = api.client.get(url).json()
        assert page["total"] == 4
        seen += [n["name"] for n in page["items"]]
        url = page["next"]
    assert seen == ["parsekit", "alpha", "beta", "appsuite"]
    unknown = api.client.get("/api/v1/campaigns/1/nodes?after=nosuch")
    assert unknown.status_code == 400 and unknown.json()["error"] == \
        "after: nosuch is not part of campaign 1"
