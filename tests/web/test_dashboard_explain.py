"""Why a node waits, with what koji says: the page's sentences (pure, over the
hub's answers as ``discomy.explainTask`` gives them) and the page's edges: a node
of a local campaign, a settled node, koji unreachable, a name that is no node,
everything escaped. The answers of a real kojihub with and without the hub plugin
are in tests/integration/test_dashboard_real_kojihub.py."""

from __future__ import annotations

from dataclasses import replace

from api_world import make_api, make_config
from discomy.orchestration import campaign as cm
from discomy.web import views
from test_dashboard import CHAIN, HOSTILE

NAMES = {1: "b1", 2: "b2"}


def hub_answer(*hosts, enabled=True):
    return {"task_id": 7, "requirements": {"text": "memory>=64 GiB"}, "enabled": enabled,
            "hosts": [{"host_id": i, "name": n, "eligible": ok, "reasons": list(why)}
                      for i, n, ok, why in hosts]}


def test_a_free_task_no_host_fits_gives_the_commonest_reasons_without_host_names():
    said = views.task_explanation(
        {"id": 7, "method": "buildArch", "arch": "x86_64", "state": "FREE"},
        hub_answer((1, "b1", False, ["b1: needs 64 GiB memory, has 8 GiB"]),
                   (2, "b2", False, ["b2: needs 64 GiB memory, has 8 GiB", "b2: drained"])),
        True, NAMES)
    assert said["verdict"] == ("free: waiting for the hub's scheduler to give it to a host; "
                               "none of 2 hosts can take it: needs 64 GiB memory, has 8 GiB "
                               "(2); drained (1)")
    assert said["requirements"] == "memory>=64 GiB" and said["eligible"] == 0
    assert [h["reasons"] for h in said["hosts"]] == ["needs 64 GiB memory, has 8 GiB",
                                                     "needs 64 GiB memory, has 8 GiB; drained"]
    assert said["note"] == ""


def test_hosts_that_fit_come_first_and_the_verdict_names_them():
    said = views.task_explanation(
        {"id": 7, "method": "buildArch", "arch": "x86_64", "state": "ASSIGNED", "host_id": 2},
        hub_answer((1, "b1", False, ["b1: no kvm"]), (2, "b2", True, [])), True, NAMES)
    assert said["verdict"] == ("assigned to b2, which has not opened it yet; 1 of 2 hosts "
                               "could take it (b2); the next scheduler pass should place it")
    assert [h["name"] for h in said["hosts"]] == ["b2", "b1"]


def test_many_hosts_are_cut_to_a_page_and_the_rest_counted():
    hosts = [(i, f"h{i:03d}", i % 2 == 0, [] if i % 2 == 0 else [f"h{i:03d}: no kvm"])
             for i in range(100)]
    said = views.task_explanation({"id": 7, "state": "FREE"}, hub_answer(*hosts), True, {})
    assert len(said["hosts"]) == views.HOSTS_SHOWN and said["hidden"] == 100 - views.HOSTS_SHOWN
    assert "50 of 100 hosts could take it (h000, h002, h004, h006 and 46 more)" \
        in said["verdict"]


def test_no_plugin_a_switched_off_plugin_and_tasks_past_the_queue():
    stock = views.task_explanation({"id": 7, "state": "FREE"}, None, False, NAMES)
    assert stock["verdict"].endswith("; " + views.NO_PLUGIN) and stock["hosts"] == []
    off = views.task_explanation({"id": 7, "state": "FREE"},
                                 hub_answer((1, "b1", True, []), enabled=False), True, NAMES)
    assert "[scheduler] enabled = false" in off["note"]
    running = views.task_explanation({"id": 7, "state": "OPEN", "host_id": 1}, None, True,
                                     NAMES)
    assert running["verdict"] == "running on b1"
    closed = views.task_explanation({"id": 7, "state": "CLOSED"}, None, True, NAMES)
    assert closed["verdict"].startswith("koji says CLOSED")
    empty = views.task_explanation({"id": 7, "state": "FREE"}, hub_answer(), True, NAMES)
    assert empty["verdict"].endswith("the hub knows no enabled host in its channel")


def test_kojis_load_in_sentences():
    lines = views.koji_load({"x86_64": 0.9, "aarch64": float("inf"), "ppc64le": 0.25}, 0.8,
                            12, 3, 40)
    assert lines == [
        "koji has 12 free tasks waiting for a host and 40 running; 3 of the free ones were "
        "made before this one",
        "aarch64: no ready host builds it",
        "ppc64le: 25% of capacity in use (below the 80% at which campaigns hold back new "
        "builds)",
        "x86_64: 90% of capacity in use (above the 80% at which campaigns hold back new "
        "builds)"]
    assert views.koji_load({}, 0.8, 1, None, 0) == [
        "koji has 1 free task waiting for a host and 0 running"]


def koji_campaign(api, task="1234", name="app"):
    cid = api.store.create_campaign(["lib"], "per-tier", "koji", CHAIN, target="el9")
    held = api.store.nodes(cid)
    api.store.update_nodes(cid, {name: replace(held[name], state=cm.BUILDING, task=task)})
    return cid


def test_koji_unreachable_is_said_on_the_page_not_a_server_error(tmp_path, example_repos):
    away = make_api(f"sqlite:///{tmp_path / 'away.sqlite'}",
                    make_config(tmp_path, example_repos, "http://127.0.0.1:9/kojihub",
                                koji_timeout_seconds=2.0))
    cid = koji_campaign(away)
    r = away.client.get(f"/campaigns/{cid}/nodes/app/explain")
    assert r.status_code == 200
    assert "koji could not be asked:" in r.text and "koji is unreachable" in r.text
    assert "building (task 1234)" in r.text
    said = away.client.get(f"/api/v1/campaigns/{cid}/nodes/app/explain").json()
    assert said["why"] == "building (task 1234)" and said["task"] == "1234"
    assert said["koji"]["problem"].startswith("koji is unreachable") \
        and said["koji"]["tasks"] == []


def test_a_local_or_settled_node_asks_nothing_of_koji_and_links_nowhere(api, koji_hub):
    local = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    page = api.client.get(f"/campaigns/{local}").text
    assert "/explain" not in page
    calls = len(koji_hub.calls)
    r = api.client.get(f"/campaigns/{local}/nodes/app/explain")
    assert r.status_code == 200 and "A local campaign: koji has nothing to say of it." in r.text
    cid = koji_campaign(api)
    held = api.store.nodes(cid)
    api.store.update_nodes(cid, {"lib": replace(held["lib"], state=cm.DONE)})
    page = api.client.get(f"/campaigns/{cid}").text
    assert f'href="/campaigns/{cid}/nodes/app/explain"' in page
    assert f'href="/campaigns/{cid}/nodes/lib/explain"' not in page
    r = api.client.get(f"/campaigns/{cid}/nodes/lib/explain")
    assert r.status_code == 200 and "Settled: koji has nothing more to say of it." in r.text
    said = api.client.get(f"/api/v1/campaigns/{local}/nodes/app/explain").json()
    assert said == {"name": "app", "state": "planned", "task": None, "koji": None,
                    "why": "waits for 1 dependency: lib (planned)"}
    assert api.client.get(f"/api/v1/campaigns/{cid}/nodes/lib/explain").json()["koji"] is None
    assert len(koji_hub.calls) == calls                 # no look at koji for either


def test_a_name_that_is_no_node_or_campaign_is_a_404(api):
    cid = koji_campaign(api)
    for url in (f"/campaigns/{cid}/nodes/nosuch/explain", f"/campaigns/{cid}/nodes/"
                f"{'x' * 300}/explain", "/campaigns/999/nodes/app/explain",
                "/campaigns/x/nodes/app/explain"):
        assert api.client.get(url).status_code == 404, url
    for url in (f"/api/v1/campaigns/{cid}/nodes/nosuch/explain",
                "/api/v1/campaigns/999/nodes/app/explain"):
        r = api.client.get(url)
        assert r.status_code == 404 and "error" in r.json(), url


def test_a_hostile_name_and_task_are_escaped(api):
    hostile = [replace(CHAIN[0], name=HOSTILE)] + CHAIN[1:]
    cid = api.store.create_campaign([HOSTILE], "per-tier", "koji", hostile, target="el9")
    held = api.store.nodes(cid)
    api.store.update_nodes(cid, {HOSTILE: replace(held[HOSTILE], state=cm.BUILDING,
                                                  task=HOSTILE)})
    page = api.client.get(f"/campaigns/{cid}").text
    assert HOSTILE not in page
    assert f'href="/campaigns/{cid}/nodes/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/explain"' \
        in page
    r = api.client.get(f"/campaigns/{cid}/nodes/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
                       "/explain")
    assert r.status_code == 200 and HOSTILE not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_where_a_hosts_speed_comes_from():
    assert views.speed_note(None, None, None) == ""             # no hub plugin
    assert views.speed_note("claimed", {"speed": 1.5}, None) == "claimed"
    assert views.speed_note("claimed", {"speed": 1.5}, {"speed": 1.4, "packages": 3}) \
        == "claimed; learned 1.4"
    assert views.speed_note("learned", {"speed": 3.5}, {"speed": 0.8, "packages": 4}) \
        == "learned from 4 packages; claimed 3.5"
    assert views.speed_note("pinned", {"speed": 3.5}, {"speed": 0.8, "packages": 1}) \
        == "pinned; claimed 3.5; learned 0.8"


def test_without_a_koji_server_the_page_says_koji_is_not_configured(tmp_path, example_repos):
    bare = make_api(f"sqlite:///{tmp_path / 'bare.sqlite'}", make_config(tmp_path, example_repos))
    cid = koji_campaign(bare)
    r = bare.client.get(f"/campaigns/{cid}/nodes/app/explain")
    assert r.status_code == 200 and "koji is not configured here ([koji] server is empty)" \
        in r.text
