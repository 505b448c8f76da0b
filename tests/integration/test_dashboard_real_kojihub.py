"""The dashboard against a real kojihub (koji's source tree, PostgreSQL on loopback),
through the machinery of hub_real_kojihub.py: the hub under wsgiref, no builder.

Two hubs on one database: one runs the Discomy hub plugin, the other is stock koji
(``Plugins =`` empty). Two hosts publish their host data with ``host.updateHost``;
``hugepkg`` must have 1 TiB of memory (``discomy.setPackageConstraints``), so its
buildArch task stays FREE whatever the scheduler does; the ``small`` task is
ASSIGNED by a scheduler pass (``scheduler.doRun``) and not opened, as no kojid runs;
a ``build`` task that b2 opened has a buildArch subtask of hugepkg, FREE.

A koji campaign in the dashboard's store has these tasks as its nodes' tasks. Its
page links each unsettled node to the page that asks koji why it waits: the hub's
``discomy.explainTask`` (requirements, each host's verdict), the task's state and
koji's load, read through an anonymous session; the stock hub's answer is the plain
sentence that it gives no reason. A drain from the fleet page (login, CSRF token)
sets the hub's own drain flag, which the fleet page shows at once.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "orchestrator"), str(ROOT / "tests" / "web")]

import hub_real_kojihub as real  # noqa: E402
import test_dashboard_browser as web_browser  # noqa: E402

HOSTS = {
    "b1": {"cpus": 16, "memory_mb": 65536, "disk_free_mb": {"/var/lib/mock": 512000},
           "speed": 1.5, "virt": ["chroot"]},
    "b2": {"cpus": 4, "memory_mb": 8192, "disk_free_mb": {"/var/lib/mock": 51200},
           "speed": 0.8, "virt": ["chroot"]},
}
ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture(scope="module")
def hubs(koji_src):
    import koji

    koji_src = Path(koji_src).resolve()
    python = real.ensure_venv(Path("/tmp/discomy-kojihub-venv"))
    work = Path(tempfile.mkdtemp(prefix="discomy-dashboard-kojihub-"))
    pg_data, started = None, []
    try:
        pg_data, pg_port = real.start_postgres(work)
        real.create_koji_db(pg_port, koji_src)
        # a policy without the plugin's test, which the stock hub has not
        conf, discomy_conf = real.write_hub_config(work, pg_port,
                                                   policy="channel =\n    all :: use default\n")
        stock_conf = work / "stock.conf"
        stock_conf.write_text(conf.read_text().replace("Plugins = discomy_hub", "Plugins ="))
        (work / "stock.conf.d").mkdir()
        hub = real.Hub(python, conf, discomy_conf, koji_src, work / "hub.log")
        started.append(hub)
        url = hub.start(koji)
        stock = real.Hub(python, stock_conf, discomy_conf, koji_src, work / "stock.log")
        started.append(stock)
        stock_url = stock.start(koji)

        admin = real.login(koji, url, "kojiadmin")
        admin.createTag("el9-build", arches="x86_64")
        admin.createTag("el9", arches="x86_64")
        admin.createBuildTarget("el9", "el9-build", "el9")
        for name in HOSTS:
            admin.addHost(name, ["x86_64"])
            admin.editHost(name, capacity=4.0)
            real.psql(pg_port, f"UPDATE users SET password = '{name}' WHERE name = '{name}'")
        for name, data in HOSTS.items():
            host = real.login(koji, url, name, exclusive=True)
            host.host.updateHost(0.0, True, {"methods": ["buildArch"], "maxjobs": 4, "discomy": dict(
                data, version=1, draining=False, probed_at=time.time())})
            host.logout()
        # a disabled host the hub holds drained: the fleet asks getDrainState for it
        admin.addHost("off1", ["x86_64"])
        admin.disableHost("off1")
        admin.discomy.drainHost("off1")
        admin.discomy.setPackageConstraints("el9-build", "hugepkg", {"memory": "1T"})
        tasks = {}
        for n, package in enumerate(("hugepkg", "small")):
            srpm = f"tasks/1/{n}/{package}-1.0-1.el9.src.rpm"
            tasks[package] = admin.makeTask("buildArch", [srpm, "el9-build", "x86_64", True, {}],
                                            arch="x86_64", priority=20)
        admin.scheduler.doRun(force=True)
        # a build task b2 runs, whose buildArch subtask waits (as kojid makes them)
        tasks["bigbuild"] = admin.makeTask(
            "build", ["git+https://git.example/rpms/hugepkg.git#main", "el9", {}])
        admin.assignTask(tasks["bigbuild"], "b2", force=True)
        b2 = real.login(koji, url, "b2", exclusive=True)
        b2.host.openTask(tasks["bigbuild"])
        child = b2.host.subtask("buildArch", ["tasks/2/0/hugepkg-2.0-1.el9.src.rpm",
                                              "el9-build", "x86_64", True, {}],
                                tasks["bigbuild"], arch="x86_64")
        b2.logout()
        states = {p: koji.TASK_STATES[admin.getTaskInfo(t)["state"]] for p, t in tasks.items()}
        assert states == {"hugepkg": "FREE", "small": "ASSIGNED", "bigbuild": "OPEN"}, states
        assert koji.TASK_STATES[admin.getTaskInfo(child)["state"]] == "FREE"
        yield SimpleNamespace(url=url, stock_url=stock_url, admin=admin, tasks=tasks,
                              child=child, work=work)
        assert real.hub_log_errors(work, ("Traceback",)) == []
    except BaseException:
        for log in sorted(work.glob("*.log")):      # what the hubs said, on a failure
            print(f"--- {log.name}:\n{log.read_text()[-3000:]}")
        raise
    finally:
        for h in reversed(started):
            h.stop()
        if pg_data is not None:
            real.stop_postgres(pg_data)
        shutil.rmtree(work, ignore_errors=True)


def dashboard(tmp_path, example_repos, hub_url: str, name: str, admin_session_factory=None,
              **api):
    from api_world import make_api, make_config

    return make_api(f"sqlite:///{tmp_path / (name + '.sqlite')}",
                    make_config(tmp_path, example_repos, hub_url, **api),
                    admin_session_factory=admin_session_factory)


def koji_campaign(api, tasks: dict) -> int:
    from discomy.orchestration import campaign as cm
    from discomy.orchestration.campaign import Node

    nodes = [Node("hugepkg", 0, (), 300.0), Node("small", 0, (), 100.0),
             Node("bigbuild", 0, (), 200.0), Node("app", 1, ("hugepkg",), 50.0)]
    cid = api.store.create_campaign(["hugepkg"], "per-tier", "koji", nodes, target="el9")
    held = api.store.nodes(cid)
    api.store.update_nodes(cid, {p: replace(held[p], state=cm.BUILDING, task=str(t))
                                 for p, t in tasks.items()})
    return cid


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.mark.timeout(600)
def test_a_waiting_node_shows_the_hubs_explanation_and_kojis_load(hubs, tmp_path,
                                                                   example_repos):
    api = dashboard(tmp_path, example_repos, hubs.url, "explain")
    cid = koji_campaign(api, hubs.tasks)
    page = api.client.get(f"/campaigns/{cid}").text
    for node in ("hugepkg", "small", "app"):
        assert f'href="/campaigns/{cid}/nodes/{node}/explain"' in page

    r = api.client.get(f"/campaigns/{cid}/nodes/hugepkg/explain")
    assert r.status_code == 200, r.text[:500]
    said = text_of(r.text)
    free = hubs.tasks["hugepkg"]
    assert f"task {free} buildArch x86_64 FREE" in said
    assert "free: waiting for the hub's scheduler to give it to a host; none of 2 hosts " \
           "can take it: needs 1 TiB memory, has 64 GiB (1); needs 1 TiB memory, has 8 GiB " \
           "(1)" in said
    assert "Requirements: memory>=1 TiB" in said
    # each host's verdict from the hub, with its reason
    assert "b1 no needs 1 TiB memory, has 64 GiB b2 no needs 1 TiB memory, has 8 GiB" in said
    assert "koji has 2 free tasks waiting for a host and 1 running; 0 of the free ones " \
           "were made before this one" in said
    assert re.search(r"x86_64: \d+% of capacity in use \(below the 80% at which campaigns "
                     r"hold back new builds\)", said)

    # the same in the JSON API
    said = api.client.get(f"/api/v1/campaigns/{cid}/nodes/hugepkg/explain").json()
    assert said["why"] == f"building (task {free})" and said["koji"]["problem"] is None
    task = said["koji"]["tasks"][0]
    assert (task["task_id"], task["state"], task["eligible"]) == (free, "FREE", 0)
    assert task["requirements"] == "memory>=1 TiB"
    assert task["hosts"] == [
        {"name": "b1", "eligible": False, "reasons": "needs 1 TiB memory, has 64 GiB"},
        {"name": "b2", "eligible": False, "reasons": "needs 1 TiB memory, has 8 GiB"}]

    said = text_of(api.client.get(f"/campaigns/{cid}/nodes/small/explain").text)
    assert f"task {hubs.tasks['small']} buildArch x86_64 ASSIGNED" in said
    assert "assigned to b1, which has not opened it yet; 2 of 2 hosts could take it " \
           "(b1, b2)" in said or "assigned to b2, which has not opened it yet; 2 of 2 " \
           "hosts could take it (b1, b2)" in said

    # a running build: its waiting buildArch subtask is what the hub explains
    said = text_of(api.client.get(f"/campaigns/{cid}/nodes/bigbuild/explain").text)
    assert f"task {hubs.tasks['bigbuild']} build noarch OPEN running on b2" in said
    assert f"task {hubs.child} buildArch x86_64 FREE free: waiting for the hub's scheduler " \
           "to give it to a host; none of 2 hosts can take it: needs 1 TiB memory" in said
    assert "1 of the free ones were made before this one" in said

    said = text_of(api.client.get(f"/campaigns/{cid}/nodes/app/explain").text)
    assert "Why: waits for 1 dependency: hugepkg (building)" in said
    assert "The node has no koji task yet" in said and "koji has 2 free tasks" in said
    # a task koji does not know is said, not a failure
    held = api.store.nodes(cid)
    api.store.update_nodes(cid, {"small": replace(held["small"], task="999999")})
    r = api.client.get(f"/campaigns/{cid}/nodes/small/explain")
    assert r.status_code == 200 and "koji knows no task 999999" in r.text


@pytest.mark.timeout(600)
def test_a_stock_hub_is_said_to_give_no_reason(hubs, tmp_path, example_repos):
    api = dashboard(tmp_path, example_repos, hubs.stock_url, "stock")
    cid = koji_campaign(api, hubs.tasks)
    r = api.client.get(f"/campaigns/{cid}/nodes/hugepkg/explain")
    assert r.status_code == 200
    said = text_of(r.text)
    assert "free: waiting for the hub's scheduler to give it to a host; the hub does not " \
           "run discomy_hub; koji's stock scheduler gives no reason" in said
    assert "koji has 2 free tasks" in said
    fleet = text_of(api.client.get("/fleet").text)
    assert "The hub does not run discomy_hub" in fleet and "b1" in fleet


@pytest.mark.timeout(600)
def test_a_drain_from_the_fleet_page_sets_the_hubs_drain_and_shows_at_once(
        hubs, tmp_path, example_repos):
    import koji
    from test_dashboard import login

    api = dashboard(tmp_path, example_repos, hubs.url, "drain", koji_admin_profile="kojiadmin",
                    admin_session_factory=lambda: real.login(koji, hubs.url, "kojiadmin"))
    page = api.client.get("/fleet").text
    assert "The hub runs discomy_hub" in text_of(page)
    row = re.search(r"<tr>\s*<td><b>b1</b>.*?</tr>", page, re.S).group(0)
    assert ">claimed</span>" in row and ">1</td>" in row and "drained" not in row
    csrf = login(api)
    assert 'action="/fleet/b1/drain"' in api.client.get("/fleet").text
    r = api.client.post("/fleet/b1/drain", data={"csrf": csrf}, headers=ORIGIN,
                        follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    assert hubs.admin.discomy.getDrainState("b1")["drained"] is True
    page = api.client.get("/fleet").text
    row = re.search(r"<tr>\s*<td><b>b1</b>.*?</tr>", page, re.S).group(0)
    assert ">drained</span>" in row and 'action="/fleet/b1/undrain"' in row
    assert ">drained</span>" not in re.search(r"<tr>\s*<td><b>b2</b>.*?</tr>", page,
                                              re.S).group(0)
    # the API says it too
    hosts = {h["name"]: h for h in api.client.get("/api/v1/hosts").json()["hosts"]}
    assert hosts["b1"]["drained"] is True and hosts["b2"]["drained"] is False
    assert hosts["off1"]["drained"] is True and hosts["off1"]["enabled"] is False
    r = api.client.post("/fleet/b1/undrain", data={"csrf": csrf}, headers=ORIGIN,
                        follow_redirects=False)
    assert r.status_code == 303
    assert hubs.admin.discomy.getDrainState("b1")["drained"] is False
    row = re.search(r"<tr>\s*<td><b>b1</b>.*?</tr>", api.client.get("/fleet").text,
                    re.S).group(0)
    assert ">drained</span>" not in row and 'action="/fleet/b1/drain"' in row


@pytest.fixture(scope="module")
def browser():
    yield from web_browser.open_chromium()


@pytest.mark.timeout(600)
def test_the_explanation_and_the_fleet_in_a_browser(hubs, browser, tmp_path, example_repos):
    """Debian's Chromium on a real ``discomy api`` server over the plugin's hub: the
    link from the campaign page opens the explanation; no console error; screenshots
    under test-artifacts/dashboard/."""
    from selenium.webdriver.common.by import By
    console_errors, shot, wait_for = (web_browser.console_errors, web_browser.shot,
                                      web_browser.wait_for)

    from discomy.web.server import ApiServer

    api = dashboard(tmp_path, example_repos, hubs.url, "browser")
    cid = koji_campaign(api, hubs.tasks)
    server = ApiServer(api.app, "127.0.0.1", 0).start()
    driver = browser
    try:
        base = f"http://127.0.0.1:{server.address[1]}"
        driver.get(f"{base}/campaigns/{cid}")
        link = driver.find_element(By.CSS_SELECTOR, "tr[data-node='hugepkg'] a.explain")
        assert link.is_displayed() and link.text == "ask koji"
        link.click()
        verdict = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "p.verdict"), 10,
                           "the explanation page")
        assert "none of 2 hosts can take it" in verdict.text
        assert len(driver.find_elements(By.CSS_SELECTOR, "table.hub-hosts tbody tr")) == 2
        assert console_errors(driver) == []
        shot(driver, "explain-real-kojihub")
        hubs.admin.discomy.drainHost("b2")          # as koji drain-host does
        driver.get(f"{base}/fleet")
        cells = {r.find_element(By.TAG_NAME, "b").text:
                 r.find_element(By.CSS_SELECTOR, "td.drain-state").text
                 for r in driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")}
        assert cells == {"b1": "-", "b2": "drained", "off1": "drained"}
        assert console_errors(driver) == []
        shot(driver, "fleet-real-kojihub")
    finally:
        hubs.admin.discomy.undrainHost("b2")
        server.stop()
