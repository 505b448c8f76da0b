"""Every bad request is one clear 4xx with a JSON body, request bodies are bounded,
planning is bounded, and a store that is away is a 503, not a 500."""

from __future__ import annotations

import threading

import pytest

from api_world import make_api, make_config


@pytest.mark.parametrize("method, url, kwargs, status, error", [
    ("get", "/nosuch", {}, 404, "no such path: /nosuch"),
    ("delete", "/api/v1/campaigns", {}, 405, "DELETE is not allowed on /api/v1/campaigns"),
    ("get", "/api/v1/campaigns/9", {}, 404, "no campaign 9"),
    ("get", "/api/v1/campaigns/2147483648", {}, 422,
     "invalid request: path.campaign_id: Input should be less than or equal to 2147483647"),
    ("get", "/api/v1/campaigns/0/nodes", {}, 422,
     "invalid request: path.campaign_id: Input should be greater than or equal to 1"),
    ("get", "/api/v1/campaigns?target=el9%00", {}, 422, None),
    ("post", "/api/v1/campaigns/preview", {"content": b"{not json",
                                           "headers": {"Content-Type": "application/json"}},
     422, None),
    ("post", "/api/v1/campaigns/preview", {"json": {"names": []}}, 422,
     "invalid request: body.names: List should have at least 1 item after validation, not 0"),
    ("post", "/api/v1/campaigns/preview", {"json": {"names": ["a b"]}}, 422, None),
    ("post", "/api/v1/campaigns/preview", {"json": {"names": ["zlib"], "colour": "red"}}, 422,
     "invalid request: body.colour: Extra inputs are not permitted"),
])
def test_a_bad_request_is_one_4xx_with_a_json_body(api, method, url, kwargs, status, error):
    answer = api.client.request(method, url, **kwargs)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] == status and body["error"] and "\n" not in body["error"]
    if error is not None:
        assert body["error"] == error
    if status == 422:
        assert body["problems"] and all(set(p) == {"where", "message"} for p in body["problems"])


def test_a_request_body_above_the_limit_is_refused_by_its_length_or_as_it_comes(
        tmp_path, example_repos, koji_hub):
    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                   make_config(tmp_path, example_repos, koji_hub.url, max_body_bytes=1000))
    big = b'{"names": ["' + b"a" * 2000 + b'"]}'
    by_length = api.client.post("/api/v1/campaigns", content=big, headers=api.auth)
    assert by_length.status_code == 413 and by_length.json() == {
        "status": 413, "error": "the request body is larger than 1000 bytes"}

    def chunks():                      # no Content-Length: the body comes in chunks
        for _ in range(100):
            yield b" " * 100

    chunked = api.client.post("/api/v1/campaigns", content=chunks(),
                              headers={**api.auth, "Content-Type": "application/json"})
    assert chunked.status_code == 413 and chunked.json()["error"].endswith("1000 bytes")
    lying = api.client.post("/api/v1/campaigns", content=b"{}",
                            headers={**api.auth, "Content-Length": "lots"})
    assert lying.status_code == 400
    assert api.store.campaigns() == []


def test_plans_beyond_the_planning_slots_are_told_to_come_back(tmp_path, example_repos, koji_hub):
    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                   make_config(tmp_path, example_repos, koji_hub.url, planning_slots=1))
    slots = api.app.state.context.planning
    assert slots.acquire(blocking=False)           # a plan of the whole distribution, say
    try:
        busy = api.client.post("/api/v1/campaigns", json={"names": ["corelib"]},
                               headers=api.auth)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "5"
        assert busy.json()["error"] == "every planning slot is busy; try again shortly"
        assert api.client.get("/api/v1/campaigns").status_code == 200     # reads go on
    finally:
        slots.release()
    assert api.client.post("/api/v1/campaigns", json={"names": ["corelib"]},
                           headers=api.auth).status_code == 201
    assert "discomy_api_planning_refused_total 1.0" in api.client.get("/metrics").text


def test_a_store_that_is_away_is_a_503_and_the_api_answers_again_when_it_is_back(
        tmp_path, example_repos, koji_hub, postgres_server):
    api = make_api(postgres_server.url, make_config(tmp_path, example_repos, koji_hub.url))
    assert api.client.get("/api/v1/campaigns").status_code == 200
    postgres_server.stop()
    for url in ("/api/v1/campaigns", "/api/v1/health"):
        away = api.client.get(url)
        assert away.status_code == 503, away.text
        assert away.json()["error"].startswith("the store is unavailable: ")
    postgres_server.start()
    assert api.client.get("/api/v1/health").status_code == 200


def test_requests_are_counted_by_route_template_not_by_path(api):
    for n in range(3):
        api.client.get(f"/api/v1/campaigns/{n + 100}")
    api.client.get("/no/such/path")
    text = api.client.get("/metrics").text
    assert 'route="/api/v1/campaigns/{campaign_id}",status="404"} 3.0' in text
    assert 'route="unmatched",status="404"} 1.0' in text
    assert "/api/v1/campaigns/100" not in text
    assert 'discomy_api_request_seconds_count{method="GET",route="/api/v1/campaigns/{campaign_id}"}' \
        in text


def test_writes_wait_for_the_daemons_lock(tmp_path, example_repos, koji_hub):
    lock, woken = threading.RLock(), []
    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                   make_config(tmp_path, example_repos, koji_hub.url),
                   write_lock=lock, wake=woken.append)
    answers = []
    with lock:                          # an engine step in hand
        writer = threading.Thread(target=lambda: answers.append(api.client.post(
            "/api/v1/campaigns", json={"names": ["corelib"]}, headers=api.auth)))
        writer.start()
        writer.join(1.0)
        assert writer.is_alive() and api.store.campaigns() == []
    writer.join(30)
    assert answers[0].status_code == 201 and woken == [1]
