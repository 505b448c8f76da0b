"""Who may read and write: tokens from ``discomy token``, kept as digests; a front
end's user header, believed from trusted proxies only; reads public or not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from discomy import cli

from api_world import make_api, make_config

START = {"names": ["corelib"]}


def test_reads_are_public_by_default_and_every_write_needs_a_token(api):
    assert api.client.get("/api/v1/campaigns").status_code == 200
    assert api.client.post("/api/v1/campaigns/preview", json=START).status_code == 200
    for method, url, body in (("post", "/api/v1/campaigns", START),
                              ("patch", "/api/v1/campaigns/1", {"state": "cancelled"})):
        refused = api.client.request(method, url, json=body)
        assert refused.status_code == 401 and refused.json()["error"] == \
            "this needs a token (Authorization: Bearer TOKEN)"
    assert api.client.post("/api/v1/campaigns", json=START, headers=api.auth).status_code == 201


def test_a_wrong_token_is_refused_even_where_none_is_needed(api):
    for header in ("Bearer dsy_not-a-token", "Basic dGVzdDp0ZXN0", "Bearer",
                   "Bearer \u00e9t\u00e9".encode("latin-1"), "Bearer " + "x" * 5000):
        answer = api.client.get("/api/v1/campaigns", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.json()["error"] in (
            "the token is not known or was revoked",
            "the Authorization header must be 'Bearer TOKEN' (a token from discomy token create)")
    metrics = api.client.get("/metrics").text
    assert 'discomy_api_auth_failures_total{reason="unknown-token"} 3.0' in metrics


def test_reads_need_a_token_when_they_are_not_public(tmp_path, example_repos, koji_hub):
    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                   make_config(tmp_path, example_repos, koji_hub.url, reads_public=False))
    for url in ("/api/v1/campaigns", "/api/v1/hosts", "/api/v1", "/metrics"):
        assert api.client.get(url).status_code == 401, url
        assert api.client.get(url, headers=api.auth).status_code == 200, url
    assert api.client.post("/api/v1/campaigns/preview", json=START).status_code == 401
    assert api.client.get("/api/v1/health").status_code == 200       # for the service manager


def test_tokens_are_made_listed_and_revoked_with_discomy_token(api, capsys):
    url = api.store.url.replace("***", "")
    assert cli.main(["token", "create", "release-bot", "--store", url]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("dsy_") and len(out.splitlines()) == 1 and "shown this once" in err
    assert cli.main(["token", "create", "release-bot", "--store", url]) == 2
    assert "already a token named release-bot" in capsys.readouterr().err
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.client.post("/api/v1/campaigns", json=START, headers=bearer).status_code == 201
    assert cli.main(["token", "list", "--store", url]) == 0
    listing = capsys.readouterr().out
    assert "release-bot" in listing and token not in listing and "tester" in listing
    assert cli.main(["token", "revoke", "release-bot", "--store", url]) == 0
    refused = api.client.patch("/api/v1/campaigns/1", json={"state": "cancelled"},
                               headers=bearer)
    assert refused.status_code == 401 and api.store.campaign(1).state == "running"
    capsys.readouterr()
    assert cli.main(["token", "list", "--all", "--json", "--store", url]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "release-bot" in line]
    assert len(rows) == 1 and '"revoked_at": null' not in rows[0]


def _proxied(tmp_path, example_repos, koji_hub):
    return make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                    make_config(tmp_path, example_repos, koji_hub.url,
                                proxy_user_header="X-Remote-User",
                                trusted_proxies=["10.0.0.0/24", "::1"]))


def _from(api, peer: str) -> TestClient:
    """A client whose requests come from ``peer``."""
    return TestClient(api.app, raise_server_exceptions=False, client=(peer, 40000))


def test_the_proxy_header_names_the_user_only_from_a_trusted_proxy(
        tmp_path, example_repos, koji_hub, caplog):
    caplog.set_level("INFO", logger="discomy.web")
    api = _proxied(tmp_path, example_repos, koji_hub)
    proxy, outsider = _from(api, "10.0.0.7"), _from(api, "192.0.2.9")
    started = proxy.post("/api/v1/campaigns", json=START, headers={"X-Remote-User": "alice"})
    assert started.status_code == 201
    assert "campaign 1: started for corelib by proxy alice" in caplog.text
    forged = outsider.patch("/api/v1/campaigns/1", json={"state": "cancelled"},
                            headers={"X-Remote-User": "alice"})
    assert forged.status_code == 401 and forged.json()["error"] == \
        "the X-Remote-User header is believed only from a trusted proxy, and 192.0.2.9 is not one"
    assert api.store.campaign(1).state == "running"
    # even a read: the header is never silently ignored
    assert outsider.get("/api/v1/campaigns", headers={"x-remote-user": "a"}).status_code == 401
    assert proxy.get("/api/v1/campaigns", headers={"X-Remote-User": " "}).status_code == 401


def test_a_write_by_the_front_ends_user_must_be_json_so_no_other_site_can_forge_it(
        tmp_path, example_repos, koji_hub):
    api = _proxied(tmp_path, example_repos, koji_hub)
    proxy = _from(api, "::1")
    # what a form on another site can send: a simple request, no CORS preflight
    forged = proxy.post("/api/v1/campaigns", content=b'{"names": ["corelib"]}',
                        headers={"X-Remote-User": "alice", "Content-Type": "text/plain"})
    assert forged.status_code == 415 and api.store.campaigns() == []
    assert "access-control-allow-origin" not in forged.headers
    preflight = proxy.options("/api/v1/campaigns", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    # a token is never sent by a browser on its own: any content type will do
    assert api.client.post("/api/v1/campaigns", content=b'{"names": ["corelib"]}',
                           headers={**api.auth, "Content-Type": "application/json"}
                           ).status_code == 201
