"""Draining koji hosts from the dashboard's fleet page: off unless ``[api]
koji_admin_profile`` is set, and then only logged in with the form's CSRF token; the
calls go to the stand-in hub's ``discomy.drainHost``/``undrainHost``."""
from __future__ import annotations

import koji

from api_world import make_api, make_config
from test_dashboard import ORIGIN, login


def admin_api(tmp_path, example_repos, koji_hub, profile="koji-admin", name="drain"):
    return make_api(f"sqlite:///{tmp_path / (name + '.sqlite')}",
                    make_config(tmp_path, example_repos, koji_hub.url,
                                koji_admin_profile=profile),
                    admin_session_factory=lambda: koji.ClientSession(koji_hub.url))


def test_a_logged_in_admin_drains_and_undrains_a_host_with_the_csrf_token(
        tmp_path, example_repos, koji_hub):
    koji_hub.drained.clear()
    api = admin_api(tmp_path, example_repos, koji_hub)
    assert 'action="/fleet/b1/drain"' not in api.client.get("/fleet").text   # anonymous
    r = api.client.post("/fleet/b1/drain", data={"csrf": "x"}, headers=ORIGIN)
    assert r.status_code == 401 and not koji_hub.drained
    csrf = login(api)
    page = api.client.get("/fleet").text
    assert 'action="/fleet/b1/drain"' in page and ">Drain</button>" in page
    r = api.client.post("/fleet/b1/drain", data={"x": "1"}, headers=ORIGIN)
    assert r.status_code == 403 and "CSRF" in r.text and not koji_hub.drained
    r = api.client.post("/fleet/b1/drain", data={"csrf": csrf}, headers=ORIGIN,
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fleet"
    assert koji_hub.drained == {1}
    r = api.client.post("/fleet/b1/undrain", data={"csrf": csrf}, headers=ORIGIN,
                        follow_redirects=False)
    assert r.status_code == 303 and koji_hub.drained == set()
    r = api.client.post("/fleet/<nosuch>/drain", data={"csrf": csrf}, headers=ORIGIN)
    assert r.status_code == 502 and "koji refused" in r.text and "<nosuch>" not in r.text


def test_without_an_admin_profile_there_is_no_form_and_a_drain_is_refused(
        tmp_path, example_repos, koji_hub):
    koji_hub.drained.clear()
    api = admin_api(tmp_path, example_repos, koji_hub, profile="", name="off")
    csrf = login(api)
    page = api.client.get("/fleet").text
    assert "/drain" not in page and "koji_admin_profile" in page
    r = api.client.post("/fleet/b1/drain", data={"csrf": csrf}, headers=ORIGIN)
    assert r.status_code == 404 and "koji_admin_profile" in r.text
    assert not koji_hub.drained


def test_with_drain_off_a_drain_post_is_404_for_anyone_before_any_login_or_csrf_check(
        tmp_path, example_repos, koji_hub):
    koji_hub.drained.clear()
    api = admin_api(tmp_path, example_repos, koji_hub, profile="", name="off404")
    calls = len(koji_hub.calls)
    for action in ("drain", "undrain"):
        # no login, no origin, no form, no CSRF token: still "off", not 401/403/415
        for r in (api.client.post(f"/fleet/b1/{action}"),
                  api.client.post(f"/fleet/b1/{action}", headers={"Origin": "http://evil"}),
                  api.client.post(f"/fleet/b1/{action}", content=b"{}",
                                  headers={"Content-Type": "application/json"}),
                  api.client.post(f"/fleet/b1/{action}", headers={"Authorization":
                                                                  "Bearer wrong"})):
            assert r.status_code == 404, (action, r.status_code, r.text[:200])
            assert "koji_admin_profile" in r.text
    assert not koji_hub.drained and len(koji_hub.calls) == calls     # koji never asked
