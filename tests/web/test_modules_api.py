"""``/api/v1/module-builds`` on SQLite and on a real PostgreSQL: modules submitted from real
git repositories (file:// URLs) or as an uploaded modulemd, listed with filters and pages,
looked at with their components, canceled; writes need a token, a modulemd libmodulemd
refuses is a 400 with its message, an unknown build a 404, a finished one a 409."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import pytest

from discomy.cli.examples import EXAMPLE_MODULE
from discomy.orchestration.modules.driver import ModuleDriver

from api_world import make_api, make_config

URL = "/api/v1/module-builds"


@pytest.fixture
def mapi(any_store_url, tmp_path, example_repos, module_git):
    return make_api(any_store_url, make_config(tmp_path, example_repos, module_git=module_git))


def _rev(repo, ref: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", ref], capture_output=True,
                          text=True, check=True).stdout.strip()


def _stream(stream: str) -> str:
    """The example module as another stream (a module of its own version)."""
    return EXAMPLE_MODULE.read_text().replace('stream: "1"', f'stream: "{stream}"')


def _submit(mapi, body: dict, status: int = 201):
    answer = mapi.client.post(URL, json=body, headers=mapi.auth)
    assert answer.status_code == status, answer.text
    return answer.json()


def test_a_module_submitted_by_scm_url_and_branch_is_recorded_with_its_components(
        mapi, module_git):
    scmurl = f"git+file://{module_git}/discomy-demo.git?#1"
    (build,) = _submit(mapi, {"scmurl": scmurl, "branch": "1"})
    assert build["nsvc"].startswith("discomy-demo:1:9") and build["context"] == "el9demo"
    assert (build["state"], build["owner"], build["backend"]) == ("init", "tester", "local")
    assert build["commit"] == _rev(module_git / "discomy-demo.git", "1")
    assert build["url"] == f"{URL}/{build['id']}"
    assert build["components_total"] == 4 and build["component_states"] == {"planned": 4}
    info = mapi.client.get(build["url"]).json()
    components = {c["name"]: c for c in info["components"]}
    assert sorted(components) == ["appsuite", "corelib", "parsekit", "standalone"]
    assert components["corelib"]["commit"] == _rev(module_git / "corelib.git", "main")
    assert components["appsuite"]["buildafter"] == ["parsekit"]
    assert (components["corelib"]["batch"], components["appsuite"]["batch"]) == (1, 3)
    assert [b["batch"] for b in info["batches"]] == [1, 2, 3]
    assert components["parsekit"]["commit"] in info["modulemd"]
    assert info["modulemd_final"] is None
    without = mapi.client.get(build["url"], params={"modulemd": "false"}).json()
    assert "modulemd" not in without or without["modulemd"] is None
    # what is read is kept, but never past a change of a component or of the build
    nodes = mapi.store.nodes(build["campaign"])
    mapi.store.update_nodes(build["campaign"], {"corelib": replace(
        nodes["corelib"], state="building", task="corelib@1")})
    info = mapi.client.get(build["url"]).json()
    assert {c["name"]: c["state"] for c in info["components"]}["corelib"] == "building"
    assert info["batches"][0]["states"] == {"building": 1, "planned": 1}
    mapi.store.modules.update(build["id"], note="waiting for a buildroot")
    assert mapi.client.get(build["url"]).json()["note"] == "waiting for a buildroot"
    # the same version again while it is recorded: that build, not a second one
    (again,) = _submit(mapi, {"scmurl": scmurl, "branch": "1"})
    assert again["id"] == build["id"]
    assert mapi.client.get(URL).json()["total"] == 1


def test_an_uploaded_modulemd_builds_and_the_daemon_takes_it_to_ready(mapi):
    (build,) = _submit(mapi, {"modulemd": EXAMPLE_MODULE.read_text(),
                              "filename": "discomy-demo.yaml"})
    row = ModuleDriver(mapi.store, mapi.config, sleep=lambda s: None).run(build["id"],
                                                                          poll_seconds=0)
    assert row.state == "ready", row.state_reason
    info = mapi.client.get(build["url"]).json()
    assert info["state"] == "ready" and info["repo"] and info["completed_at"]
    assert all(c["state"] == "done" and c["nvr"] for c in info["components"])
    assert "appsuite" in info["modulemd_final"]
    # a finished build cannot be canceled
    refused = mapi.client.patch(build["url"], json={"state": "canceled"}, headers=mapi.auth)
    assert refused.status_code == 409
    assert "is ready: only a build that has not finished" in refused.json()["error"]


def test_lists_are_filtered_and_paged_newest_first_with_next_links(mapi):
    ids = [_submit(mapi, {"modulemd": _stream(s)})[0]["id"] for s in ("1", "2", "3")]
    mapi.client.patch(f"{URL}/{ids[1]}", json={"state": "canceled"}, headers=mapi.auth)
    first = mapi.client.get(URL, params={"per_page": 2}).json()
    assert [b["id"] for b in first["items"]] == [ids[2], ids[1]]
    assert (first["total"], first["pages"], first["page"]) == (3, 2, 1)
    second = mapi.client.get(first["next"]).json()
    assert [b["id"] for b in second["items"]] == [ids[0]] and second["next"] is None
    assert mapi.client.get(URL, params={"page": 9}).json()["items"] == []

    def found(**query):
        answer = mapi.client.get(URL, params=query)
        assert answer.status_code == 200, answer.text
        return [b["id"] for b in answer.json()["items"]]

    assert found(state="canceled") == [ids[1]]
    assert found(state=["init", "canceled"]) == [ids[2], ids[1], ids[0]]
    assert found(stream="2") == [ids[1]]
    assert found(name="discomy-demo", owner="tester") == [ids[2], ids[1], ids[0]]
    assert found(owner="nobody") == [] and found(scratch="true") == []
    assert found(backend="koji") == []
    # filters stay in the next link
    paged = mapi.client.get(URL, params={"state": ["init", "canceled"], "per_page": 1}).json()
    assert "state=init" in paged["next"] and "state=canceled" in paged["next"]
    assert mapi.client.get(paged["next"]).json()["items"][0]["id"] == ids[1]


@pytest.mark.parametrize("query", [{"state": "building"}, {"per_page": 101}, {"page": 0},
                                   {"name": "a b"}, {"scratch": "maybe"}])
def test_a_bad_list_query_is_a_422_naming_the_parameter(mapi, query):
    answer = mapi.client.get(URL, params=query)
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["where"].startswith(f"query.{next(iter(query))}")


def test_cancel_needs_a_token_and_stops_the_build_once(mapi):
    (build,) = _submit(mapi, {"modulemd": EXAMPLE_MODULE.read_text()})
    anonymous = mapi.client.patch(build["url"], json={"state": "canceled"})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"]
    assert mapi.client.get(build["url"]).json()["state"] == "init"
    canceled = mapi.client.patch(build["url"], json={"state": "canceled"}, headers=mapi.auth)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["state"] == "canceled"
    assert canceled.json()["state_reason"] == "canceled by tester"
    assert mapi.store.campaign(build["campaign"]).state == "cancelled"
    again = mapi.client.patch(build["url"], json={"state": "canceled"}, headers=mapi.auth)
    assert again.status_code == 409 and "is canceled" in again.json()["error"]
    other = mapi.client.patch(build["url"], json={"state": "ready"}, headers=mapi.auth)
    assert other.status_code == 422


def test_a_local_build_canceled_while_components_build_settles_at_the_next_step(mapi):
    (build,) = _submit(mapi, {"modulemd": EXAMPLE_MODULE.read_text()})
    driver = ModuleDriver(mapi.store, mapi.config, sleep=lambda s: None)
    while not any(n.state == "building" for n in mapi.store.nodes(build["campaign"]).values()):
        driver.step(build["id"])
    canceled = mapi.client.patch(build["url"], json={"state": "canceled"}, headers=mapi.auth)
    assert canceled.status_code == 200, canceled.text
    assert driver.step(build["id"]) == "finished"
    info = mapi.client.get(build["url"]).json()
    assert info["state"] == "canceled"
    stopped = [c for c in info["components"] if c["reason"] == "the module build was canceled"]
    assert stopped and all(c["state"] == "failed" for c in stopped)
    assert mapi.store.modules.get(build["id"]).published_state == "canceled"


def test_a_submission_needs_a_token(mapi, module_git):
    body = {"scmurl": f"file://{module_git}/discomy-demo.git", "branch": "1"}
    assert mapi.client.post(URL, json=body).status_code == 401
    wrong = mapi.client.post(URL, json=body, headers={"Authorization": "Bearer dsy_wrong"})
    assert wrong.status_code == 401
    assert mapi.client.get(URL).json()["total"] == 0


@pytest.mark.parametrize("text, words", [
    ("document: modulemd\nversion: 2\ndata: {}\n", ["Summary is missing"]),
    ("garbage: [\n", ["Parse error", "line 2 col 1"]),
    (EXAMPLE_MODULE.read_text().replace("buildafter: [parsekit]", "buildafter: [appsuite]"),
     ["appsuite"]),
])
def test_a_modulemd_libmodulemd_refuses_is_a_400_with_its_message(mapi, text, words):
    answer = mapi.client.post(URL, json={"modulemd": text, "filename": "mine.yaml"},
                              headers=mapi.auth)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert "\n" not in error and all(w in error for w in words), error
    assert mapi.client.get(URL).json()["total"] == 0


@pytest.mark.parametrize("body, status, words", [
    ({"scmurl": "file:///nowhere/x.git"}, 422, ["scmurl needs a branch"]),
    ({"branch": "1"}, 422, ["give either scmurl and branch, or modulemd"]),
    ({"modulemd": "x", "scmurl": "file:///x.git", "branch": "1"}, 422, ["give either"]),
    ({"modulemd": "x", "colour": "red"}, 422, ["colour"]),
    ({"scmurl": "ext::sh -c touch% /tmp/discomy-pwned", "branch": "1"}, 400, []),
    ({"scmurl": "file://{git}/discomy-demo.git", "branch": "2"}, 400, ["cannot fetch 2"]),
    ({"scmurl": "file://{git}/discomy-demo.git", "branch": "--help"}, 400, []),
    ({"scmurl": "file://{git}/corelib.git", "branch": "main"}, 400,
     ["has no corelib.yaml at main"]),
    ({"modulemd": "document: modulemd\n\ud800"}, 422, ["unicode"]),
])
def test_bad_submissions_are_refused_in_one_line(mapi, module_git, body, status, words):
    body = {k: v.replace("{git}", str(module_git)) for k, v in body.items()}
    # as JSON escapes: a lone surrogate too
    answer = mapi.client.post(URL, content=json.dumps(body),
                              headers={**mapi.auth, "Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert "\n" not in error and all(w in error for w in words), error
    assert mapi.client.get(URL).json()["total"] == 0


def test_an_unknown_module_build_is_a_404(mapi):
    for method in ("get", "patch"):
        answer = mapi.client.request(method.upper(), f"{URL}/4242", json={"state": "canceled"},
                                     headers=mapi.auth)
        assert answer.status_code == 404 and answer.json()["error"] == "no module build 4242"
    assert mapi.client.get(f"{URL}/0").status_code == 422


@pytest.mark.parametrize("path", ["%0B1", "%201", "+1", "1.0", "%D9%A1", "01x"])
def test_a_build_number_is_its_digits_alone(mapi, path):
    (build,) = _submit(mapi, {"modulemd": EXAMPLE_MODULE.read_text()})
    assert build["id"] == 1 and mapi.client.get(f"{URL}/1").status_code == 200
    answer = mapi.client.get(f"{URL}/{path}")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith("invalid request: path.module_id: ")


def test_a_request_above_the_size_limit_is_a_413(tmp_path, example_repos, module_git):
    small = make_api(f"sqlite:///{tmp_path / 's.sqlite'}",
                     make_config(tmp_path, example_repos, module_git=module_git,
                                 max_body_bytes=2048))
    answer = small.client.post(URL, json={"modulemd": EXAMPLE_MODULE.read_text() * 3},
                               headers=small.auth)
    assert answer.status_code == 413


def test_the_openapi_document_lists_the_module_build_operations_and_their_errors(mapi):
    paths = mapi.client.get("/openapi.json").json()["paths"]
    assert set(paths[URL]) == {"get", "post"} and set(paths[URL + "/{module_id}"]) == \
        {"get", "patch"}
    post = paths[URL]["post"]
    assert {"201", "400", "401", "409", "413", "422"} <= set(post["responses"])
    assert post["security"] == [{"bearer": []}]
    assert {"200", "400", "401", "404", "409", "422"} <= \
        set(paths[URL + "/{module_id}"]["patch"]["responses"])
    assert mapi.client.get("/api/v1").json()["links"]["module_builds"] == URL
