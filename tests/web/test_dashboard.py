"""The dashboard's pages, login, actions and live events (FastAPI's in-process client
and a real server for the event stream), and the store reads behind them on SQLite
and a real PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace

import httpx

from api_world import make_api, make_config
from discomy.orchestration import campaign as cm
from discomy.orchestration.campaign import Node
from discomy.orchestration.store import Store

HOSTILE = "<script>alert(1)</script>"
CHAIN = [Node("lib", 0, (), 300.0), Node("app", 1, ("lib",), 100.0),
         Node("tool", 1, ("lib",), 50.0), Node("suite", 2, ("app", "tool"), 10.0)]
ORIGIN = {"Origin": "http://testserver"}


def fan(n: int) -> list:
    """A campaign of ``n`` nodes: one base and ``n - 1`` nodes on it."""
    return [Node("base", 0, (), 200.0)] + [Node(f"pkg{i:04d}", 1, ("base",), 100.0)
                                          for i in range(n - 1)]


def advance(store, cid, **states):
    """Set nodes' states as an engine would (``name=state``)."""
    nodes = store.nodes(cid)
    store.update_nodes(cid, {name: replace(nodes[name], state=state)
                             for name, state in states.items()})


def login(api) -> str:
    """Log the client in with the test's token; the session's CSRF token."""
    r = api.client.post("/login", data={"token": api.token}, headers=ORIGIN,
                        follow_redirects=False)
    assert r.status_code == 303
    page = api.client.get("/").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# -- pages -----------------------------------------------------------------------------------
def test_every_page_answers_on_an_empty_store_with_a_strict_content_policy(api):
    for path in ("/", "/fleet", "/failures", "/stats", "/login"):
        r = api.client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert "No campaign yet" in api.client.get("/").text
    assert api.client.get("/static/dashboard.js").status_code == 200
    assert "/" not in {op for op in api.client.get("/openapi.json").json()["paths"]}


def test_package_names_reasons_and_notes_are_escaped_everywhere(api):
    bad = f"x{HOSTILE}"
    cid = api.store.create_campaign([bad], "per-tier", "local",
                                    [Node("base", 0, (), 10.0), Node(bad, 1, ("base",), 5.0)])
    api.store.update_campaign(cid, note=HOSTILE)
    nodes = api.store.nodes(cid)
    api.store.update_nodes(cid, {bad: replace(nodes[bad], state=cm.FAILED, reason=HOSTILE,
                                              failure_class=cm.PACKAGE)})
    for path in ("/", f"/campaigns/{cid}", f"/campaigns/{cid}?state=failed", "/failures",
                 "/stats"):
        page = api.client.get(path).text
        assert HOSTILE not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_a_campaign_page_shows_a_page_of_nodes_and_goes_on_past_the_last(api):
    cid = api.store.create_campaign(["base"], "per-edge", "local", fan(121))
    seen, path = [], f"/campaigns/{cid}"
    while path:
        page = api.client.get(path).text
        rows = re.findall(r'<tr data-node="([^"]+)"', page)
        assert len(rows) <= 50
        seen += rows
        found = re.search(r'href="(\?after=[^"#]+)#nodes"', page)
        path = f"/campaigns/{cid}{found.group(1).replace('&amp;', '&')}" if found else None
    assert seen == ["base"] + [f"pkg{i:04d}" for i in range(120)]


def test_a_campaign_page_filters_nodes_by_state_and_tier_and_refuses_a_bad_filter(api):
    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    advance(api.store, cid, lib=cm.DONE, app=cm.BUILDING)
    page = api.client.get(f"/campaigns/{cid}?state=building").text
    assert re.findall(r'<tr data-node="([^"]+)"', page) == ["app"]
    page = api.client.get(f"/campaigns/{cid}?tier=1").text
    assert re.findall(r'<tr data-node="([^"]+)"', page) == ["app", "tool"]
    for bad in ("state=nosuch", "tier=-1", "tier=x", "tier=\u00b2", f"tier={'9' * 5000}",
                "after=nosuch"):
        r = api.client.get(f"/campaigns/{cid}?{bad}")
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), bad
    for missing in ("999", "x", "\u00b2", "9" * 5000, "0", "-1"):
        assert api.client.get(f"/campaigns/{missing}").status_code == 404, missing
    assert api.client.get("/events?campaign=\u00b2").status_code == 404


def test_a_campaign_page_shows_the_critical_path_and_why_nodes_wait(api):
    cid = api.store.create_campaign(["lib"], "per-edge", "local", CHAIN)
    advance(api.store, cid, lib=cm.DONE, app=cm.FAILED, tool=cm.DONE, suite=cm.WAITING_DEPS)
    page = api.client.get(f"/campaigns/{cid}").text
    path = re.search(r'<ol class="critical-path">(.*?)</ol>', page, re.S).group(1)
    assert re.findall(r"<b>(\w+)</b>", path) == ["lib", "app", "suite"]
    assert "waits for 1 dependency: app (failed); 1 of them need a fix first" in page
    assert 'class="chart" id="timeline"><svg' in page


def test_reads_need_a_login_when_they_are_not_public(tmp_path, example_repos):
    api = make_api(f"sqlite:///{tmp_path / 's.sqlite'}",
                   make_config(tmp_path, example_repos, reads_public=False))
    r = api.client.get("/")
    assert r.status_code == 401 and "needs a login" in r.text
    assert api.client.get("/events").status_code == 401
    assert api.client.get("/", headers=api.auth).status_code == 200
    assert api.client.get("/login").status_code == 200
    login(api)
    assert api.client.get("/stats").status_code == 200


def test_a_login_sets_a_strict_http_only_cookie_and_a_revoked_token_ends_it(api):
    r = api.client.post("/login", data={"token": "dsy_" + "x" * 43}, headers=ORIGIN)
    assert r.status_code == 401 and "not known" in r.text
    r = api.client.post("/login", data={"token": api.token}, headers=ORIGIN,
                        follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert api.token not in cookie
    assert ">tester</span>" in api.client.get("/").text
    api.store.revoke_token("tester")
    assert ">tester</span>" not in api.client.get("/").text
    forged = api.client.cookies["discomy_session"].replace(".", "x.", 1)
    api.client.cookies.set("discomy_session", forged)
    assert "log in" in api.client.get("/").text


def test_an_action_needs_a_login_the_form_token_and_this_origin(api):
    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    r = api.client.post(f"/campaigns/{cid}/cancel", data={"csrf": "x"}, headers=ORIGIN)
    assert r.status_code == 401
    csrf = login(api)
    for data, headers, status in (({"x": "1"}, ORIGIN, 403), ({"csrf": "wrong"}, ORIGIN, 403),
                                  ({"csrf": csrf}, {"Origin": "http://evil.example"}, 403),
                                  ({"csrf": csrf}, {}, 403)):
        r = api.client.post(f"/campaigns/{cid}/cancel", data=data, headers=headers)
        assert r.status_code == status, (data, headers)
        assert api.store.campaign_view(cid).state == cm.RUNNING
    r = api.client.post(f"/campaigns/{cid}/cancel", content=json.dumps({"csrf": csrf}),
                        headers={**ORIGIN, "Content-Type": "application/json"})
    assert r.status_code == 415
    r = api.client.post(f"/campaigns/{cid}/cancel", data={"csrf": csrf}, headers=ORIGIN,
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/campaigns/{cid}"
    assert api.store.campaign_view(cid).state == cm.CANCELLED
    r = api.client.post(f"/campaigns/{cid}/cancel", data={"csrf": csrf}, headers=ORIGIN)
    assert r.status_code == 409 and "cancelled" in r.text


def test_resume_from_the_page_builds_the_failed_nodes_again(api):
    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    nodes = api.store.nodes(cid)
    api.store.update_nodes(cid, cm.after_failure(nodes, "lib", "boom", 0, cm.PACKAGE))
    api.store.set_campaign_state(cid, cm.FAILED)
    csrf = login(api)
    page = api.client.get(f"/campaigns/{cid}").text
    assert 'id="resume"' in page and 'id="cancel"' not in page
    r = api.client.post(f"/campaigns/{cid}/resume", data={"csrf": csrf}, headers=ORIGIN,
                        follow_redirects=False)
    assert r.status_code == 303
    assert api.store.campaign_view(cid).state == cm.RUNNING
    assert api.store.nodes(cid)["lib"].state == cm.PLANNED


def test_a_log_is_served_as_plain_text_from_the_work_directory_only(api, tmp_path):
    work = tmp_path / "work"
    (work / "logs").mkdir(parents=True)
    log = work / "logs" / "lib.log"
    log.write_text(f"error: {HOSTILE}\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN, workdir=str(work))
    nodes = api.store.nodes(cid)
    api.store.update_nodes(cid, {"lib": replace(nodes["lib"], state=cm.FAILED, log=str(log)),
                                 "app": replace(nodes["app"], state=cm.FAILED,
                                                log=str(outside)),
                                 "tool": replace(nodes["tool"], log="https://koji/x.log")})
    page = api.client.get(f"/campaigns/{cid}").text
    assert f'href="/campaigns/{cid}/log?node=lib"' in page
    assert 'href="https://koji/x.log"' in page
    r = api.client.get(f"/campaigns/{cid}/log?node=lib")
    assert r.status_code == 200 and r.text == f"error: {HOSTILE}\n"
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert api.client.get(f"/campaigns/{cid}/log?node=app").status_code == 403
    assert api.client.get(f"/campaigns/{cid}/log?node=tool").status_code == 404
    assert api.client.get(f"/campaigns/{cid}/log?node=nosuch").status_code == 404
    assert api.client.get(f"/campaigns/{cid}/log").status_code == 404
    failures = api.client.get("/failures").text
    assert "end of the log" in failures and "error: &lt;script&gt;" in failures
    assert "secret" not in failures                   # never a file outside


def test_the_fleet_shows_koji_hosts_or_says_koji_is_not_reachable(api, tmp_path, example_repos):
    page = api.client.get("/fleet").text
    assert "b1" in page and "x86_64" in page and "koji not reachable" not in page
    away = make_api(f"sqlite:///{tmp_path / 'away.sqlite'}",
                    make_config(tmp_path, example_repos, "http://127.0.0.1:9/kojihub",
                                koji_timeout_seconds=2.0))
    r = away.client.get("/fleet")
    assert r.status_code == 200 and "koji not reachable" in r.text
    stats = away.client.get("/stats")
    assert stats.status_code == 200 and "koji not reachable" in stats.text


def test_statistics_count_builds_and_failures_by_hour(api):
    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    advance(api.store, cid, lib=cm.DONE, app=cm.DONE)
    nodes = api.store.nodes(cid)
    api.store.update_nodes(cid, {"tool": replace(nodes["tool"], state=cm.FAILED,
                                                 failure_class=cm.INFRASTRUCTURE)})
    page = api.client.get("/stats").text
    assert "2 done</title>" in page and "1 infrastructure</title>" in page
    assert "Compute-hours" in page and "Estimate" in page


# -- live events -------------------------------------------------------------------------------
def test_the_watcher_sends_only_what_moved_and_a_campaign_page_its_changed_nodes(api):
    from discomy.web.live import LiveHub

    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    other = api.store.create_campaign(["x"], "per-tier", "local", CHAIN[:1])
    hub = LiveHub(api.app.state.context, api.app.state.context.dashboard)
    assert hub.poll({cid}, time.time()) == []            # the first look takes the marks
    assert hub.poll({cid}, time.time()) == []            # nothing moved
    time.sleep(0.01)
    advance(api.store, cid, lib=cm.DONE, app=cm.BUILDING)
    events = hub.poll({cid}, time.time())
    assert [e[0] for e in events] == [cid]
    _, summary, detail = events[0]
    assert summary["groups"]["done"] == 1 and summary["groups"]["running"] == 1
    assert "<svg" in summary["bar"]
    assert sorted(n["name"] for n in detail["nodes"]) == ["app", "lib"]
    assert [t["tier"] for t in detail["tiers"]] == [0, 1, 2]
    time.sleep(0.01)
    advance(api.store, other, lib=cm.DONE)
    events = hub.poll({cid}, time.time())
    assert [(e[0], e[2]) for e in events] == [(other, {})]   # no one shows its nodes


def test_a_live_event_reaches_a_listening_page_after_a_store_change(api):
    from discomy.web.server import ApiServer

    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    server = ApiServer(api.app, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{server.address[1]}/events?campaign={cid}"
        with httpx.stream("GET", url, timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            assert next(lines) == "retry: 1000"
            time.sleep(1.2)                               # the watcher has its marks
            changed_at = time.monotonic()
            advance(api.store, cid, lib=cm.DONE)
            for line in lines:
                if line.startswith("data: "):
                    break
            latency = time.monotonic() - changed_at
            event = json.loads(line[len("data: "):])
        print(f"\nthe event arrived {latency:.2f} s after the change")
        assert event["id"] == cid and event["groups"]["done"] == 1
        assert [n["name"] for n in event["nodes"]] == ["lib"]
        assert event["nodes"][0]["state"] == cm.DONE
    finally:
        server.stop()


# -- the store's reads behind the pages ------------------------------------------------------------
def test_the_dashboard_reads_of_the_store(any_store_url):
    store = Store(any_store_url)
    cid = store.create_campaign(["lib"], "per-edge", "local", CHAIN)
    assert [n["name"] for n in store.critical_path(cid)] == ["lib", "app", "suite"]
    assert store.open_deps(cid, ["suite", "app", "lib"]) == {
        "suite": [("app", cm.PLANNED), ("tool", cm.PLANNED)], "app": [("lib", cm.PLANNED)]}
    assert store.dependents_remaining(cid, ["lib", "app", "suite"]) == {
        "lib": 100.0, "app": 10.0}
    assert sorted(store.nodes_named(cid, ["app", "nosuch", "lib"])) == ["app", "lib"]
    start = store.campaign_view(cid).node_version
    time.sleep(0.01)
    nodes = store.nodes(cid)
    store.update_nodes(cid, {"lib": replace(nodes["lib"], state=cm.DONE, host="x86_64:b1",
                                            started_at=1000.0, build_seconds=250.0),
                             "tool": replace(nodes["tool"], state=cm.FAILED,
                                             failure_class=cm.INFRASTRUCTURE,
                                             build_seconds=30.5)})
    again = store.nodes(cid)
    assert (again["lib"].host, again["lib"].started_at, again["lib"].build_seconds) == (
        "x86_64:b1", 1000.0, 250.0)
    assert [n["name"] for n in store.changed_nodes(cid, start)] == ["lib", "tool"]
    assert store.changed_nodes(cid, store.campaign_view(cid).node_version) == []
    assert store.open_deps(cid, ["app"]) == {}
    times = store.tier_times(cid)
    assert sorted(times) == [0, 1] and times[0][2] == 1 and times[1][2] == 1
    assert [n["name"] for n in store.failed_nodes([cid])] == ["tool"]
    assert store.failed_nodes([cid], cm.PACKAGE) == []
    hour = int(time.time() // 3600)
    assert sorted(store.settled_by_hour(time.time() - 60)) == [
        (hour, cm.DONE, None, 1), (hour, cm.FAILED, cm.INFRASTRUCTURE, 1)]
    done, everything, measured = store.compute_seconds(cid)
    # own times: lib 200, app 90, tool 40, suite 10; measured: lib 250, tool 30.5
    assert (done, everything, measured) == (200.0, 340.0, 280.5)
    # a node claimed for a new attempt forgets where and how long the last one ran
    store.update_nodes(cid, {"tool": replace(store.nodes(cid)["tool"], state=cm.PLANNED)})
    assert store.claim(cid, ["tool"]) == ["tool"]
    assert store.nodes(cid)["tool"].build_seconds is None


def test_the_campaigns_page_lists_module_builds_with_their_state(api, tmp_path):
    import copy

    from discomy.cli.examples import EXAMPLE_MODULE, make_git_repos
    from discomy.orchestration.modules.service import submit_module_build

    git = make_git_repos(tmp_path / "git")
    config = copy.deepcopy(api.config)
    config["modules"]["workdir"] = str(tmp_path / "modules")
    config["modules"]["rpms_repository"] = f"file://{git}/{{name}}.git"
    built = submit_module_build(api.store, config, modulemd=EXAMPLE_MODULE.read_text(),
                                timestamp="20261201120000", owner="ann")[0]
    page = api.client.get("/").text
    modules = page[page.index("<h2>Module builds</h2>"):]
    assert f"<td>{built['id']}</td>" in modules
    assert f"{built['name']}:{built['stream']}" in modules
    assert f"st-{built['state']}" in modules and "No module build" not in modules


def test_a_front_end_user_acts_with_the_csrf_token_of_their_name(tmp_path, example_repos):
    from discomy.web.server import ApiServer

    api = make_api(f"sqlite:///{tmp_path / 's.sqlite'}",
                   make_config(tmp_path, example_repos, proxy_user_header="X-Remote-User",
                               trusted_proxies=["127.0.0.1"]))
    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    server = ApiServer(api.app, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.address[1]}"
    user = {"X-Remote-User": "alice"}
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            page = client.get(f"/campaigns/{cid}", headers=user).text
            assert ">alice</span>" in page and 'id="cancel"' in page
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            origin = {**user, "Origin": base}
            # each user has a token of their own
            other = client.get(f"/campaigns/{cid}", headers={"X-Remote-User": "bob"}).text
            assert re.search(r'name="csrf" value="([^"]+)"', other).group(1) != csrf
            r = client.post(f"/campaigns/{cid}/cancel", data={"csrf": "x"}, headers=origin)
            assert r.status_code == 403
            r = client.post(f"/campaigns/{cid}/cancel", data={"csrf": csrf},
                            headers={"Origin": base})
            assert r.status_code == 401                  # no user: no action
            r = client.post(f"/campaigns/{cid}/cancel", data={"csrf": csrf}, headers=origin)
            assert r.status_code == 303
        assert api.store.campaign_view(cid).state == cm.CANCELLED
    finally:
        server.stop()


def test_a_page_that_listens_late_gets_what_moved_since_it_was_made(api):
    from discomy.web.server import ApiServer

    cid = api.store.create_campaign(["lib"], "per-tier", "local", CHAIN)
    page = api.client.get(f"/campaigns/{cid}").text
    version = re.search(r'data-version="([^"]+)"', page).group(1)
    time.sleep(0.01)
    advance(api.store, cid, lib=cm.DONE, app=cm.BUILDING)        # before the page listens
    server = ApiServer(api.app, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{server.address[1]}/events?campaign={cid}&since={version}"
        with httpx.stream("GET", url, timeout=10) as r:
            lines = r.iter_lines()
            data = next(line for line in lines if line.startswith("data: "))
        event = json.loads(data[len("data: "):])
        assert event["groups"]["done"] == 1 and event["groups"]["running"] == 1
        assert sorted(n["name"] for n in event["nodes"]) == ["app", "lib"]
        bad = httpx.get(f"http://127.0.0.1:{server.address[1]}/events?campaign={cid}&since=nan")
        assert bad.status_code == 400
    finally:
        server.stop()
