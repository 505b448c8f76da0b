"""The dashboard in a real browser: Debian's Chromium, driven by Selenium through
Debian's chromedriver, against a real ``discomy api`` server on 127.0.0.1.

The pages load with no console error, a live update arrives while a local campaign
of the example packages advances (rpmbuild and createrepo_c, as ``make demo``), and
an action works only when logged in, never from a page of another site. Each page is
saved as a screenshot under ``test-artifacts/dashboard/`` at the top of the tree.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from api_world import make_api, make_config

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HOSTILE = "<script>document.title='owned'</script>"


@pytest.fixture(scope="module")
def browser():
    yield from open_chromium()


def open_chromium():
    """Debian's headless Chromium through chromedriver; quit when the generator ends."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {ARTIFACTS}")
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path, example_repos, koji_hub):
    """A real server (uvicorn on 127.0.0.1) over an SQLite store, the examples and the
    stand-in koji hub; yields (base URL, Api)."""
    from discomy.web.server import ApiServer

    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                   make_config(tmp_path, example_repos, koji_hub.url))
    server = ApiServer(api.app, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{server.address[1]}", api
    server.stop()


def start_local(api, example_repos, tmp_path) -> int:
    """A local campaign after a change of the examples' bottom package, recorded."""
    from discomy.cli.examples import BOTTOM_PACKAGE
    from discomy.cli.local_campaign import start_local_campaign

    return start_local_campaign(api.store, example_repos.repos, [BOTTOM_PACKAGE], "per-tier",
                                cache_dir=tmp_path / "cache", workdir=tmp_path / "work")


def hostile_campaign(api, tmp_path) -> int:
    """A campaign whose package names, reasons and log text try to inject markup."""
    from discomy.orchestration import campaign as cm
    from discomy.orchestration.campaign import Node

    bad = f"lib{HOSTILE}"
    nodes = [Node("base", 0, (), 900.0), Node(bad, 1, ("base",), 600.0),
             Node("app", 2, (bad,), 300.0), Node("tool", 1, ("base",), 200.0)]
    cid = api.store.create_campaign([bad], "per-tier", "local", nodes,
                                    workdir=str(tmp_path / "work"))
    log = tmp_path / "work" / "logs" / "bad.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"error: {HOSTILE}\n")
    loaded = api.store.nodes(cid)
    changes = {"base": replace(loaded["base"], state=cm.DONE, nvr="base-1-1.el9", attempts=1)}
    changes.update(cm.after_failure({**loaded, **changes}, bad, f"rpmbuild: {HOSTILE}", 0,
                                    cm.PACKAGE))
    changes[bad] = replace(changes[bad], log=str(log))
    api.store.update_nodes(cid, changes)
    return cid


def console_errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def shot(driver, name: str) -> Path:
    """The whole page as a PNG under test-artifacts/dashboard/."""
    import base64

    path = ARTIFACTS / f"{name}.png"
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000),
            "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def wait_for(predicate, timeout: float, what: str):
    """``predicate()`` once it is true; a page still loading (an element not there
    yet, or gone with the page before) counts as not yet."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except WebDriverException:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_every_page_loads_without_console_errors_and_shows_hostile_text_as_text(
        browser, served, example_repos, tmp_path):
    from selenium.webdriver.common.by import By

    base, api = served
    local = start_local(api, example_repos, tmp_path)
    hostile = hostile_campaign(api, tmp_path)
    pages = {"campaigns": "/", "campaign": f"/campaigns/{local}",
             "campaign-hostile": f"/campaigns/{hostile}", "fleet": "/fleet",
             "failures": "/failures", "pushes": "/pushes", "stats": "/stats",
             "login": "/login"}
    browser.get_log("browser")                     # what came before is not ours
    for name, path in pages.items():
        browser.get(base + path)
        assert browser.find_element(By.TAG_NAME, "h1").text
        assert console_errors(browser) == [], (path, console_errors(browser))
        assert browser.title != "owned", path       # no injected script ran
        shot(browser, name)
    browser.get(f"{base}/campaigns/{hostile}")
    cell = browser.find_element(By.CSS_SELECTOR, "tr.g-failed td.why")
    assert HOSTILE in cell.text                     # shown as text, literally
    assert browser.find_elements(By.CSS_SELECTOR, "td.why script") == []
    log_link = browser.find_element(By.CSS_SELECTOR, "tr.g-failed td[data-field='log'] a")
    log_link.click()
    wait_for(lambda: browser.find_element(By.TAG_NAME, "body").text == f"error: {HOSTILE}",
             10, "the log shown as text")
    assert browser.title != "owned"
    browser.get(base + "/fleet")
    assert "b1" in browser.find_element(By.TAG_NAME, "table").text


def test_a_live_update_arrives_while_a_local_campaign_advances(browser, served, example_repos,
                                                             tmp_path):
    from selenium.webdriver.common.by import By

    from discomy.orchestration.runner import run_campaign

    base, api = served
    browser.get_log("browser")
    cid = start_local(api, example_repos, tmp_path)
    total = sum(t.count for t in api.store.tallies([cid])[cid])
    browser.get(f"{base}/campaigns/{cid}")
    wait_for(lambda: browser.find_element(By.ID, "live").text == "live", 10,
             "the event stream opens")
    browser.execute_script("window.notReloaded = true;")
    done = browser.find_element(By.CSS_SELECTOR, ".head [data-count='done']")
    assert done.text == "0"

    finished = {}

    def engine():
        finished["summary"] = run_campaign(api.store, cid, tmp_path / "work",
                                           [example_repos.source_repo], progress=False,
                                           config=api.config)
        finished["at"] = time.monotonic()

    thread = threading.Thread(target=engine)
    thread.start()
    try:
        # some node is shown building (or already done) before the campaign ends
        wait_for(lambda: browser.execute_script("return document.body.dataset.updates") or
                 "at" in finished, 120, "a first live update")
        seen_running = "at" not in finished
        thread.join(300)
    finally:
        thread.join(300)
    assert finished["summary"]["state"] == "done"
    wait_for(lambda: done.text == str(total), 10, f"the page shows {total} done")
    latency = time.monotonic() - finished["at"]
    print(f"\nthe last change reached the page {latency:.2f} s after the campaign ended "
          f"(updates applied: {browser.execute_script('return document.body.dataset.updates')};"
          f" an update arrived while it ran: {seen_running})")
    assert browser.execute_script("return window.notReloaded === true")
    state = browser.find_element(By.CSS_SELECTOR, ".head [data-field='state']")
    assert state.text == "done"
    rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-node] [data-field='state']")
    assert rows and all(r.text == "done" for r in rows)
    assert console_errors(browser) == []
    shot(browser, "campaign-live-done")


class _Attacker(http.server.BaseHTTPRequestHandler):
    """A page of another site (another port: another origin) with a form that posts to
    the dashboard: the cross-site request a logged-in user's browser could be made
    to send."""
    target = ""

    def do_GET(self):
        page = (f'<!doctype html><title>win a prize</title><form method="post" '
                f'action="{self.target}"><button id="forge">claim</button></form>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


def test_an_action_needs_a_login_and_a_cross_site_post_is_refused(browser, served,
                                                                example_repos, tmp_path):
    from selenium.webdriver.common.by import By

    base, api = served
    browser.get_log("browser")
    cid = start_local(api, example_repos, tmp_path)
    browser.delete_all_cookies()
    browser.get(f"{base}/campaigns/{cid}")
    assert browser.find_elements(By.ID, "cancel") == []       # no action offered
    shot(browser, "campaign-anonymous")

    browser.get(f"{base}/login")
    browser.find_element(By.ID, "token").send_keys("dsy_" + "x" * 43)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_for(lambda: browser.find_elements(By.CLASS_NAME, "error"), 10, "the refusal")
    assert "not known" in browser.find_element(By.CLASS_NAME, "error").text
    browser.find_element(By.ID, "token").send_keys(api.token)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_for(lambda: browser.find_elements(By.CLASS_NAME, "user"), 10, "the login")
    assert browser.find_element(By.CLASS_NAME, "user").text == "tester"
    cookie = browser.get_cookie("discomy_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # logged in, a page of another origin makes the browser post: refused
    _Attacker.target = f"{base}/campaigns/{cid}/cancel"
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{attacker.server_address[1]}/")
        browser.find_element(By.ID, "forge").click()
        wait_for(lambda: browser.find_elements(By.TAG_NAME, "h1"), 10, "the refusal")
        assert browser.find_element(By.TAG_NAME, "h1").text == "403"
        shot(browser, "forged-post-refused")
    finally:
        attacker.shutdown()
    assert api.store.campaign_view(cid).state == "running"
    # the only errors so far: the refused login (401) and the refused post (403)
    assert sorted(e["message"].rsplit("status of ", 1)[-1] for e in console_errors(browser)) \
        == ["401 (Unauthorized)", "403 (Forbidden)"]

    browser.get(f"{base}/campaigns/{cid}")
    shot(browser, "campaign-logged-in")
    browser.find_element(By.ID, "cancel").click()
    wait_for(lambda: "cancelled" in browser.find_element(By.CSS_SELECTOR,
                                                         ".head [data-field='state']").text,
             10, "the page shows the campaign cancelled")
    assert api.store.campaign_view(cid).state == "cancelled"
    assert console_errors(browser) == []
